package profile

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestExportImportRoundTrip(t *testing.T) {
	p, _ := learnt(t, 7)
	p.Dims[DimInbound].Mode = ModeOff
	learning := New(Key{Namespace: "shop", Function: "photo-receive", Version: "ghcr.io/acme/photo:1.2"}, Config{})
	learning.Learn(e2eGraph(t))

	var out bytes.Buffer
	if err := Export(&out, []*Profile{p, learning}, Config{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"apiVersion: faasmon.dev/v1",
		"state: armed",
		"exe: # armed: missing mass 0.0% over 56 graphs",
		"inbound: # not armed: off",
		"- {value: /usr/bin/node, graphs: 14}",
		"- {value: 'dns api.supplier.test:443', graphs: 35}",
		"- {value: 'external 52.95.0.10:443', graphs: 5}",
		"invocation processes: {max: 2, graphs: 35}",
		"state: learning",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
	got, err := Import(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d profiles", len(got))
	}
	var again bytes.Buffer
	if err := Export(&again, got, Config{}); err != nil {
		t.Fatal(err)
	}
	if again.String() != text {
		t.Errorf("export → import → export differs:\n%s\n----\n%s", text, again.String())
	}
	// The imported profile judges as the learnt one did.
	shell := traceGraphs(t, "shell.strace", fn)[0]
	a, b := p.Check(&shell), got[0].Check(&shell)
	if strings.Join(rules(a), ",") != strings.Join(rules(b), ",") || len(a) == 0 {
		t.Errorf("findings %v, after import %v", rules(a), rules(b))
	}
	benign := round(invocations(nodeServer(t))[0], 77)
	if fs := got[0].CheckBehaviour(Extract(benign, requests(77))); len(fs) != 0 {
		t.Errorf("imported profile flags a benign call: %v", fs)
	}
	for d, x := range p.Dims {
		if got[0].Dims[d].MissingMass() != x.MissingMass() {
			t.Errorf("%s: missing mass %v, imported %v", d, x.MissingMass(), got[0].Dims[d].MissingMass())
		}
	}
}

// A person allows a value by adding it with graphs: 0, and arms a profile
// by setting its state.
func TestImportEdited(t *testing.T) {
	p, _ := learnt(t, 7)
	var out bytes.Buffer
	if err := Export(&out, []*Profile{p}, Config{}); err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(out.String(), "- {value: (attached), graphs: 21}",
		"- {value: (attached), graphs: 21}\n          - {value: /usr/bin/curl, graphs: 0}", 1)
	if edited == out.String() {
		t.Fatal("edit did not apply")
	}
	got, err := Import(strings.NewReader(edited))
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].Dims[DimBackground].Known("/usr/bin/curl") {
		t.Error("added value not known")
	}
	// A value added by hand is known but is no evidence: the missing mass
	// is unchanged.
	if got[0].Dims[DimBackground].MissingMass() != p.Dims[DimBackground].MissingMass() {
		t.Error("added value changed the missing mass")
	}
}

func TestImportRejects(t *testing.T) {
	p, _ := learnt(t, 2)
	var out bytes.Buffer
	if err := Export(&out, []*Profile{p}, Config{}); err != nil {
		t.Fatal(err)
	}
	good := out.String()
	edit := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("export lacks %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "empty file"},
		{"not yaml", "{{{", "did not find"},
		{"wrong kind", edit("kind: ProfileList", "kind: Rules"), "kind"},
		{"unknown field", edit("state: armed", "state: armed\n    owner: mallory"), "field owner not found"},
		{"unknown state", edit("state: armed", "state: paused"), `state "paused"`},
		{"unknown dimension", edit("    dimensions:\n", "    dimensions:\n      telepathy: {graphs: 1, singletons: 0, values: []}\n"), `unknown dimension "telepathy"`},
		{"unknown mode", edit("    dimensions:\n      exe:", "    dimensions:\n      exe:\n        mode: sometimes"), `mode "sometimes"`},
		{"value seen in more graphs than the dimension", edit("graphs: 16}", "graphs: 17}"), "outside 0..16"},
		{"negative graphs", edit("graphs: 16\n", "graphs: -1\n"), "graphs -1"},
		{"singletons above the values seen once", edit("singletons: 0", "singletons: 3"), "singletons 3"},
		{"duplicate value", edit("- {value: /usr/bin/node, graphs: 4}", "- {value: /usr/bin/node, graphs: 4}\n          - {value: /usr/bin/node, graphs: 4}"), "appears twice"},
		{"control character", edit("- {value: /usr/bin/node, graphs: 4}", "- {value: \"/usr/bin/no\\x1bde\", graphs: 4}"), "control character"},
		{"value too long", edit("- {value: /usr/bin/node, graphs: 4}", "- {value: /"+strings.Repeat("a", 600)+", graphs: 4}"), "longer than 512"},
		{"anchor and alias", edit("    dimensions:\n      exe:", "    dimensions:\n      exe: &x"), "anchors and aliases"},
		{"two documents", good + "---\n" + good, "more than one YAML document"},
		{"duplicate profile", strings.Replace(good, "profiles:\n", "profiles:\n"+profileBlock(t, good), 1), "appears twice"},
		{"function with a slash", edit("function: node-server", "function: ../../etc"), "'/'"},
		{"unknown count", edit("invocation processes:", "invocation goats:"), `unknown count "invocation goats"`},
		{"too large", good + "#" + strings.Repeat("x", MaxImportBytes), "over"},
		{"too deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import(strings.NewReader(tc.in))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

// profileBlock returns the text of the first profile of an export.
func profileBlock(t *testing.T, s string) string {
	i := strings.Index(s, "profiles:\n")
	if i < 0 {
		t.Fatal("no profiles")
	}
	return s[i+len("profiles:\n"):]
}

// FuzzImport: run with a short minimisation time, e.g.
//
//	go test ./pkg/classify/profile -run '^$' -fuzz FuzzImport -fuzztime 2m -fuzzminimizetime 5s
func FuzzImport(f *testing.F) {
	// A small real profile as the seed (one invocation of node_server.js):
	// minimising a mutation of a large one takes minutes.
	p := New(Key{Function: fn, Version: "v1"}, Config{})
	p.Learn(invocations(nodeServer(f))[0])
	g := e2eGraph(f)
	var out bytes.Buffer
	if err := Export(&out, []*Profile{p}, Config{}); err != nil {
		f.Fatal(err)
	}
	f.Add(out.String())
	f.Add("apiVersion: faasmon.dev/v1\nkind: ProfileList\nprofiles: []\n")
	f.Add("a: &a [*a, *a]\n")
	f.Add("profiles: [{function: f, version: v, state: armed, graphs: 1, dimensions: {exe: {graphs: 1, singletons: 1, values: [{value: x, graphs: 1}]}}}]")
	f.Fuzz(func(t *testing.T, in string) {
		ps, err := Import(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		// Whatever is accepted is valid, checks graphs and exports again.
		for _, p := range ps {
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			p.Check(g)
		}
		var buf bytes.Buffer
		if err := Export(&buf, ps, Config{}); err != nil {
			t.Fatal(err)
		}
		if _, err := Import(&buf); err != nil {
			t.Fatalf("re-import of an accepted file: %v", err)
		}
	})
}

package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// What the programs of the Falco ecosystem demand of an event, rewritten
// here from their sources (not copied):
//
// Falcosidekick 8807ab7b (handlers.go, types/types.go, types/priority.go)
// accepts an event only when its priority is one of Falco's (any case,
// "info" too), its rule is non-empty, its time parses and is set, and its
// output_fields is non-empty; it type-asserts k8s.ns.name and k8s.pod.name
// to strings when they are not null. When the event is over 4096 bytes it
// cuts every string field over 512 bytes, so a whole event fits only below
// both.
//
// Falcosidekick-UI 2b949bb1 (internal/models/models.go, the validate tags
// of Event, checked by go-playground/validator) rejects the event unless:
// output is non-empty and ASCII (bytes 0x00-0x7F), priority and rule are
// non-empty printable ASCII (0x20-0x7E), source and hostname are printable
// ASCII (may be empty), time is set. uuid is Falcosidekick's.
func ecosystemViolations(raw []byte) []string {
	var bad []string
	var ev struct {
		Output       string         `json:"output"`
		Priority     string         `json:"priority"`
		Rule         string         `json:"rule"`
		Time         time.Time      `json:"time"`
		Source       string         `json:"source"`
		Hostname     string         `json:"hostname"`
		Tags         []string       `json:"tags"`
		OutputFields map[string]any `json:"output_fields"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return []string{"not Falco JSON: " + err.Error()}
	}
	// ascii(s, 0x00, 0x7f) is the validator's "ascii", ascii(s, 0x20,
	// 0x7e) its "printascii".
	ascii := func(s string, lo, hi byte) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < lo || s[i] > hi {
				return false
			}
		}
		return true
	}
	// Falcosidekick.
	if _, ok := severityPriority(ev.Priority); !ok {
		bad = append(bad, fmt.Sprintf("sidekick: priority %q is not Falco's", ev.Priority))
	}
	if ev.Rule == "" || ev.Time.IsZero() || len(ev.OutputFields) == 0 {
		bad = append(bad, "sidekick: rule, time or output_fields missing")
	}
	for _, k := range []string{"k8s.ns.name", "k8s.pod.name"} {
		if v, ok := ev.OutputFields[k]; ok && v != nil {
			if _, isStr := v.(string); !isStr {
				bad = append(bad, "sidekick: "+k+" is neither a string nor null")
			}
		}
	}
	if len(raw) > 4096 {
		bad = append(bad, fmt.Sprintf("sidekick: event of %d bytes would be cut", len(raw)))
	}
	for k, v := range ev.OutputFields {
		if s, ok := v.(string); ok && len(s) > 512 {
			bad = append(bad, fmt.Sprintf("sidekick: output_fields[%s] of %d bytes", k, len(s)))
		}
	}
	// Falcosidekick-UI.
	if ev.Output == "" || !ascii(ev.Output, 0x00, 0x7f) {
		bad = append(bad, fmt.Sprintf("ui: output %q is empty or not ASCII", ev.Output))
	}
	for name, s := range map[string]string{"priority": ev.Priority, "rule": ev.Rule} {
		if s == "" || !ascii(s, 0x20, 0x7e) {
			bad = append(bad, fmt.Sprintf("ui: %s %q is empty or not printable ASCII", name, s))
		}
	}
	for name, s := range map[string]string{"source": ev.Source, "hostname": ev.Hostname} {
		if !ascii(s, 0x20, 0x7e) {
			bad = append(bad, fmt.Sprintf("ui: %s %q is not printable ASCII", name, s))
		}
	}
	// faasmon's own promises: a hostname always (Falcosidekick labels
	// events without one "unknown"), a short output.
	if ev.Hostname == "" {
		bad = append(bad, "hostname empty")
	}
	if len(ev.Output) > MaxFalcoOutput || len(ev.Rule) > 512 {
		bad = append(bad, fmt.Sprintf("output %d bytes, rule %d bytes", len(ev.Output), len(ev.Rule)))
	}
	return bad
}

// The checker itself must fail on what the UI rejected before this change
// (the chain's arrow in output) and on the other rules.
func TestEcosystemViolationsCatches(t *testing.T) {
	good := Falco(testAlert(), "node-a")
	for name, mut := range map[string]func(*FalcoPayload){
		"arrow in output":     func(p *FalcoPayload) { p.Output += " a → b" },
		"ellipsis in output":  func(p *FalcoPayload) { p.Output += "…" },
		"tab in rule":         func(p *FalcoPayload) { p.Rule += "\t" },
		"unicode in hostname": func(p *FalcoPayload) { p.Hostname = "nœud" },
		"empty output":        func(p *FalcoPayload) { p.Output = "" },
		"bad priority":        func(p *FalcoPayload) { p.Priority = "High" },
		"long field": func(p *FalcoPayload) {
			p.OutputFields = map[string]any{"faasmon.chain": strings.Repeat("x", 600), "a": strings.Repeat("y", 4000)}
		},
	} {
		p := good
		mut(&p)
		raw, _ := json.Marshal(p)
		if len(ecosystemViolations(raw)) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
	raw, _ := json.Marshal(good)
	if v := ecosystemViolations(raw); len(v) > 0 {
		t.Errorf("good event: %v", v)
	}
}

// withShadow is attackGraph where the payload also reads /etc/shadow: the
// evidence of a credential-store invariant (node 9, edge 11).
func withShadow() verdict.Verdict {
	v := attackVerdict()
	g := v.Graph
	g.Nodes = append(g.Nodes, provenance.Node{ID: 9, Kind: provenance.NodeFile, Label: "/etc/shadow", Path: "/etc/shadow", Class: provenance.ClassEtc})
	g.Edges = append(g.Edges, provenance.Edge{Src: 9, Dst: 3, Kind: provenance.EdgeRead, First: t0.Add(11 * time.Millisecond), Last: t0.Add(11 * time.Millisecond), Count: 1})
	return v
}

// Each kind of alert faasmon raises, held to the ecosystem's rules and to
// Falco's conventions: rule, priority, MITRE tags, the process and object
// of the deciding evidence.
func TestFalcoEventPerAlertKind(t *testing.T) {
	fullID := "3f4e1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
	invariant := verdict.Finding{Part: verdict.PartInvariant, Rule: "credential-store-read", Technique: "T1003.008", Tactic: "credential_access",
		Severity: "critical", Text: "/tmp/p.sh read /etc/shadow", Nodes: []int{3, 9}}
	profile := verdict.Finding{Part: verdict.PartProfile, Rule: "exec", Technique: "T1059.004", Tactic: "execution",
		Severity: "warning", Text: "execve /tmp/p.sh: a binary this function never ran", Nodes: []int{2, 3}}
	egress := verdict.Finding{Part: verdict.PartEgress, Text: "connect 10.62.9.2:4444, never reached in benign runs", Nodes: []int{4}}
	gnn := verdict.Finding{Part: verdict.PartSupervised, Text: "P(attack) 0.97 over threshold 0.50"}
	blind := verdict.Finding{Part: verdict.PartBlindSpot, Text: "strace lost chunks 17-19 of the container's stream"}

	tests := []struct {
		name      string
		verdict   func() verdict.Verdict
		hostname  string
		rule      string
		priority  string
		tags      []string // must be among the tags
		notTags   []string // must not be
		procName  string
		object    string
		evtType   string
		outputHas []string
	}{
		{
			name:     "GNN without findings (today's verdicts)",
			verdict:  func() verdict.Verdict { v := attackVerdict(); v.Source = verdict.PartSupervised; return v },
			hostname: "node-a", rule: DefaultRule, priority: "Critical",
			tags: []string{"faasmon", "gnn"}, notTags: []string{"T1071"},
			procName: "p.sh", object: "/tmp/p.sh", evtType: "execve",
			outputHas: []string{"chain=node index.js -> curl http://10.62.9.2/p.sh -> /tmp/p.sh"},
		},
		{
			name:     "GNN finding",
			verdict:  func() verdict.Verdict { v := attackVerdict(); v.Findings = []verdict.Finding{gnn}; return v },
			hostname: "node-a", rule: "faasmon GNN intrusion", priority: "Critical",
			tags: []string{"gnn"}, notTags: []string{"mitre_command_and_control"},
			procName: "p.sh", evtType: "execve", outputHas: []string{"GNN: P(attack) 0.97"},
		},
		{
			name: "egress without findings",
			verdict: func() verdict.Verdict {
				v := attackVerdict()
				v.Source, v.NovelEndpoints, v.Explanation = verdict.PartEgress, []string{"10.62.9.2:4444"}, nil
				return v
			},
			hostname: "node-a", rule: DefaultRule, priority: "Critical",
			tags:    []string{"egress", "network", "mitre_command_and_control", "mitre_exfiltration", "T1071"},
			evtType: "connect", outputHas: []string{"new endpoints 10.62.9.2:4444"},
		},
		{
			name:     "egress finding",
			verdict:  func() verdict.Verdict { v := attackVerdict(); v.Findings = []verdict.Finding{egress}; return v },
			hostname: "node-a", rule: "faasmon new egress endpoint", priority: "Critical",
			tags:     []string{"egress", "mitre_command_and_control", "mitre_exfiltration", "T1071"},
			procName: "p.sh", object: "10.62.9.2:4444", evtType: "connect",
		},
		{
			name: "invariant with GNN and egress agreeing",
			verdict: func() verdict.Verdict {
				v := withShadow()
				v.Findings = []verdict.Finding{gnn, egress, invariant}
				return v
			},
			hostname: "node-a", rule: "faasmon runtime invariant: credential-store-read", priority: "Critical",
			tags:     []string{"invariant", "mitre_credential_access", "T1003.008", "egress", "T1071", "gnn"},
			procName: "p.sh", object: "/etc/shadow", evtType: "read",
			outputHas: []string{"Runtime invariant broken credential-store-read: /tmp/p.sh read /etc/shadow (+2 more findings)"},
		},
		{
			name:     "profile deviation",
			verdict:  func() verdict.Verdict { v := attackVerdict(); v.Findings = []verdict.Finding{profile}; return v },
			hostname: "node-a", rule: "faasmon profile deviation: exec", priority: "Warning",
			tags: []string{"profile", "mitre_execution", "T1059.004"}, notTags: []string{"T1071"},
			procName: "p.sh", object: "/tmp/p.sh", evtType: "execve",
		},
		{
			name: "blind spot, no graph, no node: hostname from the machine",
			verdict: func() verdict.Verdict {
				v := attackVerdict()
				v.Graph, v.Explanation, v.Node = nil, nil, ""
				v.Findings = []verdict.Finding{blind}
				return v
			},
			rule: "faasmon blind spot", priority: "Warning",
			tags: []string{"blind_spot", "mitre_defense_evasion"},
		},
		{
			name: "hostile labels: Unicode, controls, invalid UTF-8, 10 kB, full container id",
			verdict: func() verdict.Verdict {
				v := withShadow()
				v.Container = fullID
				long := strings.Repeat("ä→", 5000)
				v.Graph.Nodes[3].Label = "/tmp/\u202epayload\x00\n\xff" + long
				v.Graph.Nodes[9].Label = "/etc/" + long
				v.Function, v.Pod = "résumé", strings.Repeat("p", 300)
				v.Explanation.Nodes[0].Label = v.Graph.Nodes[3].Label
				v.Findings = []verdict.Finding{{Part: verdict.PartInvariant, Rule: "rule\twith\ncontrols→" + long, Technique: "T1003.008 ; rm",
					Tactic: "Credential Access", Severity: "CRITICAL", Text: long, Nodes: []int{3, 9}}}
				return v
			},
			hostname: "nœud\x01", priority: "Critical",
			tags:    []string{"invariant", "mitre_credential_access"},
			notTags: []string{"T1003.008 ; rm"},
		},
	}
	osHost, _ := os.Hostname()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.verdict()
			if err := Validate(&v); err != nil {
				t.Fatalf("test verdict invalid: %v", err)
			}
			a := Enrich(&v, t0)
			c := newCapture(t, 200)
			if err := (&FalcosidekickSink{URL: c.srv.URL + "/", Hostname: tc.hostname}).Send(context.Background(), *a); err != nil {
				t.Fatal(err)
			}
			raw := <-c.bodies
			if bad := ecosystemViolations(raw); len(bad) > 0 {
				t.Errorf("%d bytes violate:\n  %s\n%s", len(raw), strings.Join(bad, "\n  "), raw)
			}
			var p FalcoPayload
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			if tc.rule != "" && p.Rule != tc.rule {
				t.Errorf("rule %q, want %q", p.Rule, tc.rule)
			}
			if p.Priority != tc.priority {
				t.Errorf("priority %q, want %q", p.Priority, tc.priority)
			}
			for _, tag := range tc.tags {
				if !slices.Contains(p.Tags, tag) {
					t.Errorf("tags %v lack %s", p.Tags, tag)
				}
			}
			for _, tag := range tc.notTags {
				if slices.Contains(p.Tags, tag) {
					t.Errorf("tags %v hold %s", p.Tags, tag)
				}
			}
			if !slices.IsSorted(p.Tags) || !slices.Equal(p.Tags, a.Tags) {
				t.Errorf("tags %v not sorted or not the alert's %v", p.Tags, a.Tags)
			}
			f := p.OutputFields
			for k, want := range map[string]string{"proc.name": tc.procName, "fd.name": tc.object, "evt.type": tc.evtType} {
				if want != "" && f[k] != want {
					t.Errorf("%s = %v, want %s", k, f[k], want)
				}
			}
			for _, s := range tc.outputHas {
				if !strings.Contains(p.Output, s) {
					t.Errorf("output lacks %q: %s", s, p.Output)
				}
			}
			if !strings.HasPrefix(p.Output, "12:00:00.123456789: "+p.Priority+" ") || !strings.HasSuffix(p.Output, ")") && len(p.Output) < MaxFalcoOutput-3 {
				t.Errorf("output %q", p.Output)
			}
			wantHost := tc.hostname
			switch {
			case wantHost != "":
				wantHost = printable(wantHost)
			case v.Node != "":
				wantHost = v.Node
			default:
				wantHost = osHost
			}
			if p.Hostname != wantHost || f["evt.hostname"] != wantHost {
				t.Errorf("hostname %q evt.hostname %v, want %q", p.Hostname, f["evt.hostname"], wantHost)
			}
			if v.Container == fullID && (f["container.id"] != fullID[:12] || f["container.full_id"] != fullID) {
				t.Errorf("container.id %v full_id %v", f["container.id"], f["container.full_id"])
			}
			t.Logf("%d bytes: rule %q priority %s tags %v\n  output: %s", len(raw), p.Rule, p.Priority, p.Tags, p.Output)
		})
	}
}

// alert_priority sets the priority of alerts whose findings carry no
// severity; a finding's severity wins over it.
func TestPriorityFromFindingsOverConfig(t *testing.T) {
	tests := []struct {
		findings []verdict.Finding
		want     string
	}{
		{nil, "Error"},
		{[]verdict.Finding{{Part: verdict.PartSupervised, Text: "x"}}, "Error"},
		{[]verdict.Finding{{Part: verdict.PartInvariant, Rule: "r", Severity: "critical", Text: "x"}}, "Critical"},
		{[]verdict.Finding{{Part: verdict.PartProfile, Rule: "r", Severity: "notice", Text: "x"}, {Part: verdict.PartProfile, Rule: "s", Severity: "warning", Text: "y"}}, "Warning"},
		{[]verdict.Finding{{Part: verdict.PartBlindSpot, Text: "x"}}, "Warning"},
		{[]verdict.Finding{{Part: verdict.PartInvariant, Rule: "r", Severity: "bogus", Text: "x"}}, "Error"},
	}
	for i, tc := range tests {
		rec := &recordSink{}
		p := &Processor{Priority: "Error", Fanout: &Fanout{Sinks: []Sink{rec}, Policy: fastPolicy}}
		v := attackVerdict()
		v.Findings = tc.findings
		res, err := p.Process(context.Background(), v)
		if err != nil || res.Alert == nil {
			t.Fatalf("%d: %v %+v", i, err, res)
		}
		if got := Falco(*res.Alert, "h").Priority; got != tc.want {
			t.Errorf("%d: priority %s, want %s", i, got, tc.want)
		}
	}
}

// Two invariant alerts in one container without an explanation are two
// intrusions, not one repeated: findings enter the dedupe signature.
func TestSignatureHoldsFindings(t *testing.T) {
	base := attackVerdict()
	base.Explanation = nil
	a, b := base, base
	a.Findings = []verdict.Finding{{Part: verdict.PartInvariant, Rule: "credential-store-read", Text: "cat read /etc/shadow pid 4411"}}
	b.Findings = []verdict.Finding{{Part: verdict.PartInvariant, Rule: "shell-spawn", Text: "node spawned sh"}}
	a2 := a
	a2.Findings = []verdict.Finding{{Part: verdict.PartInvariant, Rule: "credential-store-read", Text: "cat read /etc/shadow pid 5523"}}
	sa, sb, sa2 := Enrich(&a, t0).Signature, Enrich(&b, t0).Signature, Enrich(&a2, t0).Signature
	if sa == sb {
		t.Errorf("different invariants share signature %s", sa)
	}
	if sa != sa2 {
		t.Errorf("repeat with another pid: %s != %s", sa, sa2)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"a → b … c ×2":   "a -> b ... c x2",
		"tab\tnl\ncr\r":  "tab nl cr ",
		"é":              `\u00e9`,
		"\xff":           "?",
		"\uFFFD":         `\ufffd`,
		"😀":              `\U0001f600`,
		"\x00\x1b[31m":   `\u0000\u001b[31m`,
		"plain ASCII ~!": "plain ASCII ~!",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// Whatever labels, findings and hostname arrive (all are input), the event
// passes the ecosystem's rules.
func FuzzFalcoEvent(f *testing.F) {
	f.Add("/tmp/p.sh", "credential-store-read", "cat read /etc/shadow", "T1003.008", "credential_access", "critical", "node-a", "c0ffee")
	f.Add("ä→…\x00\xff", "rule\n", strings.Repeat("→", 2000), "T1", "Credential Access", "CRITICAL", "nœud", strings.Repeat("a", 300))
	f.Fuzz(func(t *testing.T, label, rule, text, technique, tactic, severity, host, container string) {
		v := withShadow()
		v.Container = container
		v.Graph.Nodes[3].Label = label
		v.Graph.Nodes[9].Label = label + text
		v.Explanation.Nodes[0].Label = label
		v.Findings = []verdict.Finding{{Part: verdict.PartInvariant, Rule: rule, Technique: technique, Tactic: tactic, Severity: severity, Text: text, Nodes: []int{3, 9}},
			{Part: verdict.PartEgress, Text: text, Nodes: []int{4}}}
		a := Enrich(&v, t0)
		raw, err := json.Marshal(Falco(*a, host))
		if err != nil {
			t.Fatal(err)
		}
		if bad := ecosystemViolations(raw); len(bad) > 0 {
			t.Errorf("%s\n%s", strings.Join(bad, "\n"), raw)
		}
	})
}

func TestImageFields(t *testing.T) {
	for in, want := range map[string][3]string{
		"ghcr.io/faasmon/resize@sha256:ab":  {"ghcr.io/faasmon/resize", "ghcr.io/faasmon/resize", "sha256:ab"},
		"ghcr.io/faasmon/resize:1.2":        {"ghcr.io/faasmon/resize:1.2", "ghcr.io/faasmon/resize", ""},
		"registry:5000/resize":              {"registry:5000/resize", "registry:5000/resize", ""},
		"sha256:ab":                         {"", "", "sha256:ab"},
		"local:resize@20261201T120000.000Z": {"local:resize", "local:resize", "20261201T120000.000Z"},
		"":                                  {"", "", ""},
	} {
		ref, repo, digest := imageFields(in)
		if [3]string{ref, repo, digest} != want {
			t.Errorf("imageFields(%q) = %q %q %q, want %v", in, ref, repo, digest, want)
		}
	}
}

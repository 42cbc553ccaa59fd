package alert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/classify/invariant"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/parse/strace"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Real findings on real traces: pkg/classify/invariant's captured attack attempts
// (its testdata, see capture.sh there) through the parse → graph path and
// the invariants, as faasmon-classify makes them, become Falco events that
// the ecosystem takes whole, named and tagged by the invariant that fired.
func TestFalcoEventsOfRealInvariantFindings(t *testing.T) {
	for _, name := range []string{"attempts", "drift", "history", "privilege"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "classify", "invariant", "testdata", name+".strace"))
			if err != nil {
				t.Skipf("no trace: %v", err)
			}
			defer f.Close()
			evs, _, _, err := strace.Parse(f, 10)
			if err != nil {
				t.Fatal(err)
			}
			h := chunk.Header{Node: "node-a", Function: "fn", Namespace: "openfaas-fn", Container: strings.Repeat("ab", 32), PID: 1,
				Kind: chunk.KindStrace, Stream: "s", Start: time.Unix(0, 0), End: time.Unix(0, 0)}
			gs, err := (&provenance.Builder{Class: provenance.DefaultClassifier()}).Apply(provenance.NewState(h), event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for i := range gs {
				g := &gs[i]
				fs := invariant.Check(g)
				if len(fs) == 0 {
					continue
				}
				seen++
				v := verdict.Verdict{GraphID: g.ID, Function: g.Function, Namespace: g.Namespace, Node: g.Node, Container: g.Container,
					Verdict: verdict.Attack, Score: 1, Source: verdict.PartInvariant, Findings: fs, Graph: g}
				if err := Validate(&v); err != nil {
					t.Fatal(err)
				}
				a := Enrich(&v, t0)
				p := Falco(*a, "")
				raw, err := json.Marshal(p)
				if err != nil {
					t.Fatal(err)
				}
				if bad := ecosystemViolations(raw); len(bad) > 0 {
					t.Errorf("graph %s: %v\n%s", g.ID, bad, raw)
				}
				d := fs[decisive(fs)]
				if !strings.HasPrefix(p.Rule, "faasmon runtime invariant: ") || !strings.Contains(p.Rule, d.Rule) {
					t.Errorf("rule %q, deciding finding %s", p.Rule, d.Rule)
				}
				for _, x := range fs {
					if tag := techniqueTag(x.Technique); tag != "" && !slices.Contains(p.Tags, tag) {
						t.Errorf("tags %v lack %s of %s", p.Tags, tag, x.Rule)
					}
					if tag := tacticTag(x.Tactic); tag != "" && !slices.Contains(p.Tags, tag) {
						t.Errorf("tags %v lack %s of %s", p.Tags, tag, x.Rule)
					}
				}
				if p.OutputFields["container.id"] != strings.Repeat("ab", 6) || p.Hostname != "node-a" {
					t.Errorf("container.id %v hostname %q", p.OutputFields["container.id"], p.Hostname)
				}
				t.Logf("%d bytes, %s %q tags %v\n  %s", len(raw), p.Priority, p.Rule, p.Tags, p.Output)
			}
			if seen == 0 {
				t.Errorf("%s: no invariant fired", name)
			}
		})
	}
}

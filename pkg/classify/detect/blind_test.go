package detect

import (
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/classify/gnn"
	"github.com/faasmon/faasmon/pkg/classify/gnn/gnntest"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// TestBlindSpotFindings: every gap and limit a graph carries becomes a
// blind-spot finding in words, and none changes the verdict.
func TestBlindSpotFindings(t *testing.T) {
	m, rng := gnntest.SmallModel(t)
	d := Detector{Model: m}
	const stream = "c0ffee-strace-1764630000000000000"
	cases := []struct {
		name  string
		gaps  []provenance.Gap
		blind []provenance.BlindSpot
		want  []string // one finding each, in order
	}{
		{"none", nil, nil, nil},
		{"gap", []provenance.Gap{{Stream: stream, From: 17, To: 19}}, nil,
			[]string{"strace lost chunks 17–19 of stream " + stream + " (sequence gap)"}},
		{"dropped", nil, []provenance.BlindSpot{{Kind: provenance.BlindDropped, Stream: stream, Count: 3, Bytes: 421888}},
			[]string{"tracer dropped 3 chunks (412 KB) of stream " + stream}},
		{"restart", nil, []provenance.BlindSpot{{Kind: provenance.BlindRestart, Stream: stream, Count: 1, Detail: "strace"}},
			[]string{"tracer restarted strace"}},
		{"state reset", nil, []provenance.BlindSpot{{Kind: provenance.BlindStateReset, Count: 4, Detail: "stored state unreadable"}},
			[]string{"graph state reset: 4 open invocations lost (stored state unreadable)"}},
		{"table full", nil, []provenance.BlindSpot{{Kind: provenance.BlindTableFull, Limit: provenance.LimitOpenCalls, Max: 256, Count: 2}},
			[]string{"builder table full: 256 open invocations is the bound; 2 entries not recorded"}},
		{"gap and drop", []provenance.Gap{{Stream: stream, From: 5, To: 5}}, []provenance.BlindSpot{{Kind: provenance.BlindDropped, Stream: stream, Count: 1}},
			[]string{"strace lost chunk 5 of stream", "tracer dropped 1 chunks"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := gnn.SyntheticGraph(rng, 25, i%2 == 1)
			clean, err := d.Verdict(g, gnn.Options{})
			if err != nil {
				t.Fatal(err)
			}
			g.Gaps, g.Blind = c.gaps, c.blind
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			v, err := d.Verdict(g, gnn.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Verdict != clean.Verdict || v.Source != clean.Source {
				t.Errorf("blind spots changed the verdict: %s/%s, without them %s/%s", v.Verdict, v.Source, clean.Verdict, clean.Source)
			}
			got := v.BlindSpots()
			if len(got) != len(c.want) {
				t.Fatalf("%d blind-spot findings %+v, want %d", len(got), got, len(c.want))
			}
			for j, f := range got {
				if !strings.Contains(f.Text, c.want[j]) || f.Severity != "warning" {
					t.Errorf("finding %d: %q (%s), want it to say %q", j, f.Text, f.Severity, c.want[j])
				}
			}
			if v.Alerting() != (len(c.want) > 0 || v.Verdict == verdict.Attack) {
				t.Errorf("Alerting %v with %d blind spots and verdict %s", v.Alerting(), len(got), v.Verdict)
			}
		})
	}
}

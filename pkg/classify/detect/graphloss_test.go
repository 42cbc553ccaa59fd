package detect

import (
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/classify/gnn"
	"github.com/faasmon/faasmon/pkg/classify/gnn/gnntest"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// A verdict on a compacted or truncated graph says so in a blind-spot
// finding, and that finding alone never turns a verdict into an attack.
func TestVerdictSaysWhatTheGraphLost(t *testing.T) {
	m, rng := gnntest.SmallModel(t)
	d := Detector{Model: m, NoInvariants: true}
	for _, c := range []struct {
		name      string
		compacted *provenance.Compaction
		truncated []provenance.Truncation
		want      []string // rule: words of the text
	}{
		{"whole graph", nil, nil, nil},
		{"compacted", &provenance.Compaction{Nodes: 2005, Bytes: 664993, Folded: 2000, Into: 1, Level: provenance.LevelTemplate}, nil,
			[]string{RuleGraphCompacted + ": graph compacted to fit the queue: 2005 nodes (664993 bytes)"}},
		{"node cap", nil, []provenance.Truncation{{Reason: provenance.TruncNodeCap, Limit: provenance.MaxNodes, Nodes: 523}},
			[]string{RuleGraphTruncated + ": graph truncated at 20000 nodes: 523 objects"}},
		{"both", &provenance.Compaction{Nodes: 9000, Bytes: 2000000, Folded: 100, Into: 2, Level: provenance.LevelTree},
			[]provenance.Truncation{{Reason: provenance.TruncQueueLimit, Limit: 256000, Nodes: 7}},
			[]string{RuleGraphCompacted + ": graph compacted", RuleGraphTruncated + ": graph truncated to fit the queue's 256000 bytes after compaction: 7 nodes"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := gnn.SyntheticGraph(rng, 25, false)
			plain, err := d.Verdict(g, gnn.Options{})
			if err != nil {
				t.Fatal(err)
			}
			g.Compacted, g.Truncated = c.compacted, c.truncated
			v, err := d.Verdict(g, gnn.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Verdict != plain.Verdict || v.Source != plain.Source {
				t.Errorf("verdict %s/%s, without the marks %s/%s", v.Verdict, v.Source, plain.Verdict, plain.Source)
			}
			var got []verdict.Finding
			for _, f := range v.Findings {
				if f.Part == verdict.PartBlindSpot {
					got = append(got, f)
				}
			}
			if len(got) != len(c.want) {
				t.Fatalf("blind-spot findings %+v, want %d", got, len(c.want))
			}
			for i, w := range c.want {
				rule, text, _ := strings.Cut(w, ": ")
				if got[i].Rule != rule || !strings.Contains(got[i].Text, text) {
					t.Errorf("finding %d: %s %q, want %s containing %q", i, got[i].Rule, got[i].Text, rule, text)
				}
			}
		})
	}
}

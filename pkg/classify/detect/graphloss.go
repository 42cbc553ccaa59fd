package detect

import (
	"fmt"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Rules of the findings graphLoss makes.
const (
	RuleGraphCompacted = "graph-compacted"
	RuleGraphTruncated = "graph-truncated"
)

// graphLoss says in the verdict what its graph lost before it was judged:
// a compacted graph (provenance.Compact folded repeated files or processes
// so that it fits the queue) kept what the detectors read, and is a notice;
// a truncated one (the builder's node cap, or the queue limit after
// compaction) lost detail outright, and is a warning. They are blind-spot
// findings that never make a verdict an attack by themselves: they ride
// on the verdict, so an alert on the graph shows them, and a benign verdict
// still records them for whoever reads verdicts.
func graphLoss(g *provenance.Graph) []verdict.Finding {
	var out []verdict.Finding
	if c := g.Compacted; c != nil {
		acts := ""
		if c.Acts > 0 {
			acts = fmt.Sprintf(", %d acts folded into globs", c.Acts)
		}
		out = append(out, verdict.Finding{Part: verdict.PartBlindSpot, Rule: RuleGraphCompacted, Severity: "notice",
			Text: fmt.Sprintf("%s: graph compacted to fit the queue: %d nodes (%d bytes) became %d; %d nodes folded into %d (%s level)%s; executed, written-then-run, watched and network objects kept",
				g.Function, c.Nodes, c.Bytes, len(g.Nodes), c.Folded, c.Into, c.Level, acts)})
	}
	for _, t := range g.Truncated {
		f := verdict.Finding{Part: verdict.PartBlindSpot, Rule: RuleGraphTruncated, Severity: "warning"}
		switch t.Reason {
		case provenance.TruncNodeCap:
			f.Text = fmt.Sprintf("%s: graph truncated at %d nodes: %d objects past the cap went to overflow nodes, %d edges not recorded",
				g.Function, t.Limit, t.Nodes, t.Edges)
		default:
			f.Text = fmt.Sprintf("%s: graph truncated to fit the queue's %d bytes after compaction: %d nodes, %d edges, %d acts cut",
				g.Function, t.Limit, t.Nodes, t.Edges, t.Acts)
		}
		out = append(out, f)
	}
	return out
}

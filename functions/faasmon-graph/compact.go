package function

import (
	"log"
	"sync/atomic"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/classify/invariant"
	"github.com/faasmon/faasmon/pkg/classify/profile"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// fitOptions make a graph fit the body OpenFaaS CE's queue takes
// (chunk.MaxBytes) and the node cap classify accepts: a graph over either
// was logged and lost before ("request body too large for OpenFaaS CE";
// issue 14). The files the invariants read by name stay nodes of their own
// (invariant.Watched), and folded nodes carry the template the profiles
// learn (profile.PathTemplate).
var fitOptions = provenance.CompactOptions{MaxBytes: chunk.MaxBytes, MaxNodes: provenance.MaxNodes,
	Keep: invariant.Watched, Template: profile.PathTemplate}

// fitStats count what fit did, for the health answer.
var fitStats struct {
	Compacted, Truncated, Failed atomic.Uint64
}

// fit compacts g, in place, to what the queue to classify takes, and says
// so in the log with the container: a compacted or truncated graph is
// still queued and judged, and its verdict says what it lost (pkg/classify/detect).
// A graph that cannot be compacted (invalid structure: the builder never
// makes one) is logged, counted and sent as it is, for the gateway to
// refuse loudly rather than for it to vanish here.
func fit(g *provenance.Graph) {
	compactedBefore := g.Compacted != nil
	if err := provenance.Compact(g, fitOptions); err != nil {
		fitStats.Failed.Add(1)
		log.Printf("%s: graph %s of %s/%s not compacted: %v", name, g.ID, g.Function, g.Container, err)
		return
	}
	if c := g.Compacted; c != nil && !compactedBefore {
		fitStats.Compacted.Add(1)
		log.Printf("%s: graph %s of %s/%s compacted to fit the queue: %d nodes, %d bytes → %d nodes; %d nodes folded into %d (%s level)",
			name, g.ID, g.Function, g.Container, c.Nodes, c.Bytes, len(g.Nodes), c.Folded, c.Into, c.Level)
	}
	// The builder's node cap, and the cut here when folding was not
	// enough.
	for _, t := range g.Truncated {
		fitStats.Truncated.Add(1)
		log.Printf("%s: graph %s of %s/%s truncated at the %s (%d): %d nodes, %d edges, %d acts, %d chunk refs cut",
			name, g.ID, g.Function, g.Container, t.Reason, t.Limit, t.Nodes, t.Edges, t.Acts, t.Chunks)
	}
}

// fitHealth is fitStats for the health answer.
func fitHealth() map[string]uint64 {
	return map[string]uint64{"compacted": fitStats.Compacted.Load(), "truncated": fitStats.Truncated.Load(),
		"failed": fitStats.Failed.Load()}
}

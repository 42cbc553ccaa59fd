package alert

import (
	"fmt"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// The input of the alert stage is the classify contract, pkg/verdict: what
// faasmon-classify answers (and the queue-worker posts to our callback). A
// verdict this stage cannot use is verdict.ErrInvalid (HTTP 400 in the
// handler).

// Validate checks what the alert stage relies on: verdict.Validate, and,
// when the graph is included, that each explanation edge's endpoints are
// graph nodes and agree with the graph edge it indexes (the alert draws and
// chains explanation edges by their endpoints).
func Validate(v *verdict.Verdict) error {
	if err := v.Validate(); err != nil {
		return err
	}
	if v.Explanation == nil || v.Graph == nil {
		return nil
	}
	n := len(v.Graph.Nodes)
	for _, e := range v.Explanation.Edges {
		if e.Src < 0 || e.Src >= n || e.Dst < 0 || e.Dst >= n {
			return fmt.Errorf("%w: explanation edge %d→%d outside %d graph nodes", verdict.ErrInvalid, e.Src, e.Dst, n)
		}
		ge := v.Graph.Edges[e.Index] // in range: checked by v.Validate
		if ge.Src != e.Src || ge.Dst != e.Dst || ge.Kind != provenance.EdgeKind(e.Kind) {
			return fmt.Errorf("%w: explanation edge %d is %d-%s→%d, graph edge %d is %d-%s→%d",
				verdict.ErrInvalid, e.Index, e.Src, e.Kind, e.Dst, e.Index, ge.Src, ge.Kind, ge.Dst)
		}
	}
	return nil
}

// explNode and explEdge are an explanation's nodes and edges with typed
// kinds, as the view works with them.
type explNode struct {
	ID     int
	Kind   provenance.NodeKind
	Label  string
	Weight float64
}

type explEdge struct {
	Index    int
	Src, Dst int
	Kind     provenance.EdgeKind
	From, To string
	Weight   float64
}

// explanation converts v's explanation (nil: none).
func explanation(v *verdict.Verdict) ([]explNode, []explEdge) {
	if v.Explanation == nil {
		return nil, nil
	}
	nodes := make([]explNode, 0, len(v.Explanation.Nodes))
	for _, n := range v.Explanation.Nodes {
		nodes = append(nodes, explNode{ID: n.ID, Kind: provenance.NodeKind(n.Kind), Label: n.Label, Weight: n.Weight})
	}
	edges := make([]explEdge, 0, len(v.Explanation.Edges))
	for _, e := range v.Explanation.Edges {
		edges = append(edges, explEdge{Index: e.Index, Src: e.Src, Dst: e.Dst, Kind: provenance.EdgeKind(e.Kind), From: e.From, To: e.To, Weight: e.Weight})
	}
	return nodes, edges
}

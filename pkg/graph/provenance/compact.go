package provenance

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Why compaction exists: OpenFaaS CE's queue takes a body of at most
// chunk.MaxBytes (256,000 bytes), and a graph over it could not be queued
// from faasmon-graph to faasmon-classify at all: it was logged and lost. A
// graph passes that size at about 1,250 file nodes, which a benign function
// writing a few hundred temp files reaches, and which an attacker reaches on
// purpose by touching a thousand files before acting (issue 14: 18 of 45
// graphs of such a benign function, and 7 Atomic Red Team tests that search
// many files, got no verdict).
//
// What makes such a graph big is almost always the same thing many times:
// one process reading, opening, writing or deleting many files of one
// directory in the same way. Compact folds those into one node that carries
// how many files it stands for (Node.Folded), a template or glob of their
// paths and a few examples, and merges their edges (counts and bytes
// summed, first and last kept). What the detectors read by name or by
// relation is never folded:
//
//   - processes, sockets and pipes (exec chains, endpoints, the outlived
//     rule, egress, the GNN's structure);
//   - a file executed, chmodded or renamed, or named on a process's command
//     line (an interpreter's script: drift-exec, exec-from-writable-dir,
//     hidden-file-exec);
//   - a file CompactOptions.Keep names (invariant.Watched: credential
//     stores, persistence places, logs, another process's memory, the
//     function's own code), and OpenFaaS secrets;
//   - Graph.Acts (the refused attempts and security calls) are untouched:
//     they name processes only, which stay.
//
// A written file folds only with other written files (the folded node is
// Written), and with files its processes touched with the same relations,
// so an invariant or profile dimension that asks "did a process write
// under /tmp" gets the same answer; a folded node's label is the path
// template the profiles learn (profile.PathTemplate through
// CompactOptions.Template), so the profile's write and read dimensions see
// the value they would have seen for each file.
//
// Folding goes from fine to coarse and stops as soon as the graph fits:
// same template, then same directory ("dir/*"), then same ancestor
// ("dir/**", deepest first). If even that is not enough (thousands of
// processes), Truncate-style cutting is the last resort, and the graph says
// what it lost (Graph.Truncated, TruncQueueLimit): it is still judged, never
// dropped.

// CompactOptions bound a graph and say what must stay.
type CompactOptions struct {
	// MaxBytes bounds the graph's JSON encoding (chunk.MaxBytes, the body
	// OpenFaaS CE's queue accepts); 0 sets no byte bound.
	MaxBytes int
	// MaxNodes bounds its nodes; 0 means MaxNodes.
	MaxNodes int
	// Keep says whether a file must stay a node of its own because a
	// detector reads it by name (invariant.Watched); nil: only the
	// built-in rules above.
	Keep func(path, label string) bool
	// Template folds the variable parts of a path (profile.PathTemplate);
	// nil: runs of digits become "N".
	Template func(string) string
}

// Compaction levels, in the order they are tried (Compaction.Level).
const (
	LevelTemplate = "template"
	LevelDir      = "dir"
	LevelTree     = "tree"
	LevelProcess  = "process"
	// LevelActs is recorded when only acts were folded.
	LevelActs = "acts"
)

// levelRank orders the levels from fine to coarse, for Compaction.Level.
var levelRank = map[string]int{LevelTemplate: 1, LevelDir: 2, LevelProcess: 3, LevelTree: 4}

// maxExamples bounds Node.Examples, and exampleLen each example.
const (
	maxExamples = 3
	exampleLen  = 256
)

// truncMargin is room kept under MaxBytes for the truncation record
// itself when cutting.
const truncMargin = 512

// Compact makes g fit o, in place: nothing happens to a graph that fits
// already (so Compact is idempotent). It returns an error only for a graph
// whose structure is invalid (edges or acts pointing outside it), or when
// even an empty graph with g's header would not fit MaxBytes.
func Compact(g *Graph, o CompactOptions) error {
	if o.MaxNodes <= 0 || o.MaxNodes > MaxNodes {
		o.MaxNodes = MaxNodes
	}
	if o.Template == nil {
		o.Template = digitTemplate
	}
	// The node count may be over MaxNodes (a graph from before the cap):
	// that is what compaction is for, so only the structure is checked.
	if err := g.validate(false); err != nil {
		return fmt.Errorf("compact %s: %w", g.ID, err)
	}
	size, err := encodedSize(g)
	if err != nil {
		return fmt.Errorf("compact %s: %w", g.ID, err)
	}
	fits := func(size int) bool {
		return len(g.Nodes) <= o.MaxNodes && len(g.Edges) <= MaxEdges && (o.MaxBytes <= 0 || size <= o.MaxBytes)
	}
	if fits(size) {
		return nil
	}
	before := Compaction{Nodes: len(g.Nodes), Edges: len(g.Edges), Bytes: size}
	if g.Compacted != nil {
		// Compacted again to a smaller bound: the first size is the
		// original one.
		before.Nodes, before.Edges, before.Bytes = g.Compacted.Nodes, g.Compacted.Edges, g.Compacted.Bytes
	}
	for _, lv := range levels(g) {
		if !fold(g, o, lv) {
			continue
		}
		g.Compacted = compaction(g, before, lv.name)
		if size, err = encodedSize(g); err != nil {
			return fmt.Errorf("compact %s: %w", g.ID, err)
		}
		if fits(size) {
			return nil
		}
	}
	// Acts next: a find over a tree the function may not read leaves a
	// refused open per directory, up to MaxActs of them.
	actsBefore := len(g.Acts)
	if g.Compacted != nil {
		actsBefore += g.Compacted.Acts
	}
	for _, depth := range actDepths(g) {
		if !foldActs(g, o, depth) {
			continue
		}
		if g.Compacted == nil {
			g.Compacted = compaction(g, before, LevelActs)
		}
		g.Compacted.Acts = actsBefore - len(g.Acts)
		if size, err = encodedSize(g); err != nil {
			return fmt.Errorf("compact %s: %w", g.ID, err)
		}
		if fits(size) {
			return nil
		}
	}
	return cut(g, o)
}

// actDepths are the directory depths acts fold at: their own directory
// (-1), then each ancestor depth from the deepest up.
func actDepths(g *Graph) []int {
	deepest := 0
	for i := range g.Acts {
		deepest = max(deepest, strings.Count(path.Dir(g.Acts[i].Path), "/"))
	}
	out := []int{-1}
	for d := deepest - 1; d >= 1; d-- {
		out = append(out, d)
	}
	return out
}

// foldActs merges the acts that differ only in the file they named, within
// one directory (depth -1) or under one ancestor of depth: the same process,
// call, arguments, mode and result. The merged act's Path and Label are a
// glob ("/root/*", "/proc/**"), Count the sum, First the earliest. An act
// on a file CompactOptions.Keep names, an act with a second path (link,
// mount) and an act without a path stay as they are: rules read them by
// name.
func foldActs(g *Graph, o CompactOptions, depth int) bool {
	type key struct {
		proc                    int
		syscall, arg, errno     string
		local, dir, class, deep string
		mode                    uint32
		target                  int
	}
	idx := map[key]int{}
	var out []Act
	folded := false
	for _, a := range g.Acts {
		if a.Path == "" || a.Path2 != "" || !strings.HasPrefix(a.Path, "/") || (o.Keep != nil && o.Keep(a.Path, a.Label)) {
			out = append(out, a)
			continue
		}
		dir, deep := globDir(a.Path)
		if depth >= 0 {
			dir, deep = ancestor(dir, depth), true
		}
		k := key{a.Proc, a.Syscall, a.Arg, a.Errno, a.Local, dir, string(a.Class), strconv.FormatBool(deep), a.Mode, a.Target}
		if i, ok := idx[k]; ok {
			m := &out[i]
			m.Count += a.Count
			if a.First.Before(m.First) {
				m.First = a.First
			}
			glob := dir + "/*"
			if deep {
				glob = dir + "/**"
			}
			m.Path, m.Label = glob, glob
			folded = true
			continue
		}
		idx[k] = len(out)
		out = append(out, a)
	}
	if folded {
		g.Acts = out
	}
	return folded
}

// level is one step of folding: key names a candidate's group (with its
// signature prepended by fold), glob the folded node's label and path from
// a member's.
type level struct {
	name string
	key  func(label string) string
	glob func(label string, deep bool) string
}

// levels lists the folding steps for g: template, directory, then each
// ancestor depth from the deepest directory up.
func levels(g *Graph) []level {
	out := []level{
		{name: LevelTemplate},
		// The caller's template is narrow (the profiles' folds only what
		// varies between invocations); every run of digits is next.
		{name: LevelTemplate, key: digitTemplate, glob: func(l string, _ bool) string { return digitTemplate(l) }},
		{name: LevelDir, key: func(l string) string { d, _ := globDir(l); return d },
			glob: func(l string, deep bool) string {
				d, _ := globDir(l)
				if deep {
					return d + "/**"
				}
				return d + "/*"
			}},
	}
	// Many short-lived processes of one parent doing the same (a loop of
	// touch or cat) fold next; their files then share a process, and the
	// file levels run again.
	out = append(out, level{name: LevelProcess, key: digitTemplate}, out[0], out[1], out[2])
	depth := 0
	for i := range g.Nodes {
		if g.Nodes[i].Kind == NodeFile {
			d, _ := globDir(g.Nodes[i].Label)
			depth = max(depth, strings.Count(d, "/"))
		}
	}
	for d := depth - 1; d >= 1; d-- {
		out = append(out, level{name: LevelTree,
			key:  func(l string) string { dir, _ := globDir(l); return ancestor(dir, d) },
			glob: func(l string, _ bool) string { dir, _ := globDir(l); return ancestor(dir, d) + "/**" }})
	}
	return out
}

// globDir is the directory a label stands in, and whether the label is a
// deep glob ("a/b/**" stands for anything under a/b). A folded "a/b/*" or
// "a/b/**" is in a/b, like the files it stands for.
func globDir(label string) (string, bool) {
	switch {
	case strings.HasSuffix(label, "/**"):
		return strings.TrimSuffix(label, "/**"), true
	case strings.HasSuffix(label, "/*"):
		return strings.TrimSuffix(label, "/*"), false
	}
	return path.Dir(label), false
}

// ancestor is dir cut to its first depth components ("/a/b/c", 2 →
// "/a/b"; "$FUNC/x/y", 1 → "$FUNC/x").
func ancestor(dir string, depth int) string {
	n := 0
	for i := 0; i < len(dir); i++ {
		if dir[i] == '/' && i > 0 {
			n++
			if n == depth+boolInt(!strings.HasPrefix(dir, "/")) {
				return dir[:i]
			}
		}
	}
	return dir
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// digitTemplate is the default Template: runs of digits become "N".
func digitTemplate(p string) string {
	var b strings.Builder
	digits := false
	for i := 0; i < len(p); i++ {
		if p[i] >= '0' && p[i] <= '9' {
			if !digits {
				b.WriteByte('N')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteByte(p[i])
	}
	return b.String()
}

// foldable says, per node, whether it may be folded (see the package
// comment above for what stays).
func foldable(g *Graph, o CompactOptions) []bool {
	ok := make([]bool, len(g.Nodes))
	for i := range g.Nodes {
		n := &g.Nodes[i]
		ok[i] = n.Kind == NodeFile && !isOverflow(g, i) && n.Label != "" && n.Class != ClassSecrets &&
			(o.Keep == nil || !o.Keep(n.Path, n.Label))
	}
	// Command-line words of every process: a file a command names is
	// its script or its argument, which rules read.
	words := map[int][]string{}
	for _, e := range g.Edges {
		for _, end := range [2][2]int{{e.Src, e.Dst}, {e.Dst, e.Src}} {
			f, other := end[0], end[1]
			if !ok[f] {
				continue
			}
			switch e.Kind {
			case EdgeOpen, EdgeRead, EdgeWrite, EdgeUnlink:
			default:
				ok[f] = false
				continue
			}
			if g.Nodes[other].Kind != NodeProcess {
				ok[f] = false
				continue
			}
			w, seen := words[other]
			if !seen {
				w = strings.Fields(g.Nodes[other].Label)
				words[other] = w
			}
			if named(w, &g.Nodes[f]) {
				ok[f] = false
			}
		}
	}
	return ok
}

// named says whether a command line's words name file n: as the path seen,
// its label, or a relative path it ends with (as invariant's scripts do).
func named(words []string, n *Node) bool {
	p := strings.TrimSuffix(n.Path, " (deleted)")
	if p == "" {
		p = n.Label
	}
	for _, w := range words[min(1, len(words)):] {
		w = strings.Trim(w, `"'`)
		if w == "" || strings.HasPrefix(w, "-") {
			continue
		}
		if w == p || w == n.Label || !strings.HasPrefix(w, "/") && strings.HasSuffix(p, "/"+strings.TrimPrefix(w, "./")) {
			return true
		}
	}
	return false
}

// signature is what a foldable file's neighbourhood must share with the
// others of its group: its class, whether it was written, and each edge's
// kind, direction and other end. Members of a group therefore have the
// same edges up to the file, and their edges merge exactly.
func signatures(g *Graph, ok []bool) []string {
	parts := make([][]string, len(g.Nodes))
	for _, e := range g.Edges {
		if ok[e.Dst] {
			parts[e.Dst] = append(parts[e.Dst], string(e.Kind)+"<"+strconv.Itoa(e.Src))
		}
		if ok[e.Src] {
			parts[e.Src] = append(parts[e.Src], string(e.Kind)+">"+strconv.Itoa(e.Dst))
		}
	}
	sig := make([]string, len(g.Nodes))
	for i := range g.Nodes {
		if !ok[i] {
			continue
		}
		slices.Sort(parts[i])
		parts[i] = slices.Compact(parts[i])
		n := &g.Nodes[i]
		w := "r"
		if n.Written {
			w = "w"
		}
		sig[i] = string(n.Class) + "|" + w + "|" + strings.Join(parts[i], ",")
	}
	return sig
}

// fold applies one level to g and says whether anything was folded.
func fold(g *Graph, o CompactOptions, lv level) bool {
	var ok []bool
	var sig []string
	if lv.name == LevelProcess {
		ok, sig = foldableProcs(g)
	} else {
		ok = foldable(g, o)
		sig = signatures(g, ok)
	}
	key := lv.key
	if key == nil {
		key = o.Template
	}
	groups := map[string][]int{}
	var order []string
	for i := range g.Nodes {
		if !ok[i] {
			continue
		}
		k := sig[i] + "\x00" + key(o.Template(g.Nodes[i].Label))
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	rep := make([]int, len(g.Nodes))
	for i := range rep {
		rep[i] = i
	}
	merged := map[int]Node{}
	for _, k := range order {
		m := groups[k]
		if len(m) < 2 {
			continue
		}
		merged[m[0]] = foldNodes(g, m, o, lv)
		for _, i := range m {
			rep[i] = m[0]
		}
	}
	if len(merged) == 0 {
		return false
	}
	rebuild(g, rep, merged)
	return true
}

// foldableProcs says which process nodes may fold, and their signatures: a
// process with no children, no acts and no socket (pipes are fine), started
// by a fork or an execve edge (the builder makes a node per image of a pid:
// the forked copy of the parent, then the image it exec'd), folds with the
// others of the same parent, image (execve edges), invocation (Spawned) and
// command line template; its file edges are unchanged (they merge where
// they coincide). Everything a rule reads of such a process is the same for
// each: its image, its parent, the words of its command line.
func foldableProcs(g *Graph) ([]bool, []string) {
	ok := make([]bool, len(g.Nodes))
	forked := make([]bool, len(g.Nodes))
	for i := range g.Nodes {
		ok[i] = g.Nodes[i].Kind == NodeProcess && !isOverflow(g, i)
	}
	for _, a := range g.Acts {
		ok[a.Proc] = false
	}
	parts := make([][]string, len(g.Nodes))
	for _, e := range g.Edges {
		switch {
		case e.Kind == EdgeFork && g.Nodes[e.Src].Kind == NodeProcess:
			ok[e.Src] = false // has a child
			forked[e.Dst] = true
			parts[e.Dst] = append(parts[e.Dst], "fork<"+strconv.Itoa(e.Src))
		case e.Kind == EdgeExecve:
			forked[e.Dst] = true
			parts[e.Dst] = append(parts[e.Dst], "exec<"+strconv.Itoa(e.Src))
		}
		// A socket is an endpoint rules and profiles read; the pipe is
		// one node shared by every pipeline, and its edges merge.
		if g.Nodes[e.Src].Kind == NodeSocket {
			ok[e.Dst] = false
		}
		if g.Nodes[e.Dst].Kind == NodeSocket {
			ok[e.Src] = false
		}
		if g.Nodes[e.Src].Kind == NodePipe {
			parts[e.Dst] = append(parts[e.Dst], string(e.Kind)+"<pipe")
		}
		if g.Nodes[e.Dst].Kind == NodePipe {
			parts[e.Src] = append(parts[e.Src], string(e.Kind)+">pipe")
		}
	}
	sig := make([]string, len(g.Nodes))
	for i := range g.Nodes {
		if ok[i] = ok[i] && forked[i]; !ok[i] {
			continue
		}
		slices.Sort(parts[i])
		parts[i] = slices.Compact(parts[i])
		n := &g.Nodes[i]
		sig[i] = "proc|" + n.Exe + "|" + n.Spawned + "|" + strings.Join(parts[i], ",")
	}
	return ok, sig
}

// foldNodes is the node that stands for members m.
func foldNodes(g *Graph, m []int, o CompactOptions, lv level) Node {
	first := g.Nodes[m[0]]
	if lv.name == LevelProcess {
		n := first
		n.Label = lv.key(o.Template(first.Label))
		n.Folded, n.Examples = 0, nil
		for _, i := range m {
			x := &g.Nodes[i]
			n.Folded += max(1, x.Folded)
			ex := x.Examples
			if len(ex) == 0 {
				ex = []string{x.Label}
			}
			for _, l := range ex {
				if l = bounded(l, exampleLen); l != "" && len(n.Examples) < maxExamples && !slices.Contains(n.Examples, l) {
					n.Examples = append(n.Examples, l)
				}
			}
		}
		return n
	}
	deep := false
	n := Node{Kind: NodeFile, Class: first.Class, Written: first.Written}
	for _, i := range m {
		x := &g.Nodes[i]
		_, d := globDir(x.Label)
		deep = deep || d
		n.Folded += max(1, x.Folded)
		n.Packets += x.Packets
		n.Bytes += x.Bytes
		ex := x.Examples
		if len(ex) == 0 {
			ex = []string{x.Path}
		}
		for _, p := range ex {
			if p = bounded(p, exampleLen); p != "" && len(n.Examples) < maxExamples && !slices.Contains(n.Examples, p) {
				n.Examples = append(n.Examples, p)
			}
		}
	}
	if lv.glob == nil {
		n.Label = o.Template(first.Label)
	} else if lv.key != nil && lv.name == LevelTemplate {
		n.Label = lv.glob(o.Template(first.Label), false)
	} else {
		n.Label = lv.glob(first.Label, deep)
	}
	// A folded node is many paths: its Path is its label's template or
	// glob (what rules and profiles read), the paths as seen are in
	// Examples.
	n.Path = n.Label
	return n
}

// rebuild replaces every node i by rep[i] (merged[j] for a folded j),
// renumbers, and merges the edges that now coincide.
func rebuild(g *Graph, rep []int, merged map[int]Node) {
	newID := make([]int, len(g.Nodes))
	nodes := make([]Node, 0, len(g.Nodes))
	for i := range g.Nodes {
		if rep[i] != i {
			continue
		}
		n := g.Nodes[i]
		if m, ok := merged[i]; ok {
			n = m
		}
		n.ID = len(nodes)
		newID[i] = n.ID
		nodes = append(nodes, n)
	}
	type ek struct {
		src, dst int
		kind     EdgeKind
	}
	idx := map[ek]int{}
	edges := make([]Edge, 0, len(g.Edges))
	for _, e := range g.Edges {
		e.Src, e.Dst = newID[rep[e.Src]], newID[rep[e.Dst]]
		k := ek{e.Src, e.Dst, e.Kind}
		if j, ok := idx[k]; ok {
			d := &edges[j]
			d.Count += e.Count
			d.Bytes += e.Bytes
			if e.First.Before(d.First) {
				d.First = e.First
			}
			if e.Last.After(d.Last) {
				d.Last = e.Last
			}
			continue
		}
		idx[k] = len(edges)
		edges = append(edges, e)
	}
	for i := range g.Acts {
		g.Acts[i].Proc = newID[rep[g.Acts[i].Proc]]
	}
	g.Nodes, g.Edges = nodes, edges
}

// compaction is the record of g's folding so far.
func compaction(g *Graph, before Compaction, lv string) *Compaction {
	c := before
	c.Level = lv
	if g.Compacted != nil && levelRank[g.Compacted.Level] > levelRank[lv] {
		c.Level = g.Compacted.Level
	}
	for i := range g.Nodes {
		if f := g.Nodes[i].Folded; f > 0 {
			c.Folded += f
			c.Into++
		}
	}
	return &c
}

// cut is the last resort when folding was not enough: it keeps what the
// detectors need most and drops the rest, saying what it dropped. Chunk
// references go first (they only name the input), then acts past a
// quarter of the budget, then nodes in cutOrder's order, as many as fit.
func cut(g *Graph, o CompactOptions) error {
	t := Truncation{Reason: TruncQueueLimit, Limit: o.MaxBytes}
	if o.MaxBytes <= 0 {
		t.Reason, t.Limit = TruncNodeCap, o.MaxNodes
	}
	budget := o.MaxBytes - truncMargin
	over := func() (bool, error) {
		if len(g.Nodes) > o.MaxNodes || len(g.Edges) > MaxEdges {
			return true, nil
		}
		if o.MaxBytes <= 0 {
			return false, nil
		}
		s, err := encodedSize(g)
		return s > budget, err
	}
	if o.MaxBytes > 0 {
		if len(g.Chunks) > 16 {
			t.Chunks = len(g.Chunks) - 16
			g.Chunks = g.Chunks[:16]
		}
		acts, err := json.Marshal(g.Acts)
		if err != nil {
			return err
		}
		for len(acts) > budget/4 && len(g.Acts) > 0 {
			n := len(g.Acts) / 2
			t.Acts += len(g.Acts) - n
			g.Acts = g.Acts[:n]
			if acts, err = json.Marshal(g.Acts); err != nil {
				return err
			}
		}
	}
	order := cutOrder(g, o)
	// keep(k) leaves the first k nodes of order; the largest k that fits
	// is found by bisection on copies.
	orig := *g
	keep := func(k int) {
		*g = orig
		in := make([]bool, len(orig.Nodes))
		for _, i := range order[:k] {
			in[i] = true
		}
		newID := make([]int, len(orig.Nodes))
		g.Nodes = make([]Node, 0, k)
		for i, n := range orig.Nodes {
			if in[i] {
				n.ID = len(g.Nodes)
				newID[i] = n.ID
				g.Nodes = append(g.Nodes, n)
			}
		}
		g.Edges = make([]Edge, 0, len(orig.Edges))
		for _, e := range orig.Edges {
			if in[e.Src] && in[e.Dst] {
				e.Src, e.Dst = newID[e.Src], newID[e.Dst]
				g.Edges = append(g.Edges, e)
			}
		}
		g.Acts = make([]Act, 0, len(orig.Acts))
		for _, a := range orig.Acts {
			if in[a.Proc] {
				a.Proc = newID[a.Proc]
				g.Acts = append(g.Acts, a)
			}
		}
	}
	// Binary search for the most of order that fits. Invariant: keep(lo)
	// fits, keep(hi+1..) does not.
	if tooBig, err := over(); err != nil {
		return err
	} else if tooBig {
		lo, hi := 0, len(order)-1
		for lo < hi {
			mid := (lo + hi + 1) / 2
			keep(mid)
			tooBig, err := over()
			if err != nil {
				return err
			}
			if tooBig {
				hi = mid - 1
			} else {
				lo = mid
			}
		}
		keep(lo)
	}
	t.Nodes = len(orig.Nodes) - len(g.Nodes)
	t.Edges = len(orig.Edges) - len(g.Edges)
	t.Acts += len(orig.Acts) - len(g.Acts)
	g.Truncated = append(g.Truncated, t)
	if o.MaxBytes > 0 {
		s, err := encodedSize(g)
		if err != nil {
			return err
		}
		if s > o.MaxBytes {
			return fmt.Errorf("compact %s: %d bytes with every node cut, limit %d", g.ID, s, o.MaxBytes)
		}
	}
	return nil
}

// cutOrder ranks g's nodes for cut, most needed first, graph order within a
// rank: the evidence (files kept from folding for what they are, sockets
// off the host, the processes that touched those or made an act), then the
// other processes, sockets and pipes, then the kept files' neighbours'
// foldable files. An edge survives only with both its ends, so a process
// is ranked with the evidence it touched.
func cutOrder(g *Graph, o CompactOptions) []int {
	ok := foldable(g, o)
	rank := make([]int, len(g.Nodes))
	images := map[string]bool{}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		switch {
		case ok[i]:
			rank[i] = 2
		case n.Kind == NodeFile && !isOverflow(g, i),
			n.Kind == NodeSocket && n.Class != ClassLoopback && n.Class != ClassInternal:
			rank[i] = 0
		case n.Kind == NodeProcess && !images[n.Exe]:
			// The first process of each image: a tool run once among
			// a thousand runs of another is what rules look for.
			images[n.Exe] = true
			rank[i] = 0
		default:
			rank[i] = 1
		}
	}
	for _, a := range g.Acts {
		rank[a.Proc] = 0
	}
	// A process that touched evidence is evidence, except through the
	// image it runs (every run of touch reads /usr/bin/touch).
	for _, e := range g.Edges {
		if e.Kind == EdgeExecve {
			continue
		}
		for _, end := range [2][2]int{{e.Src, e.Dst}, {e.Dst, e.Src}} {
			if g.Nodes[end[0]].Kind == NodeProcess && rank[end[1]] == 0 && g.Nodes[end[1]].Kind != NodeProcess {
				rank[end[0]] = 0
			}
		}
	}
	order := make([]int, 0, len(g.Nodes))
	for r := 0; r <= 2; r++ {
		for i := range g.Nodes {
			if rank[i] == r {
				order = append(order, i)
			}
		}
	}
	return order
}

// encodedSize is the length of g's JSON, as faasmon-graph sends it.
func encodedSize(g *Graph) (int, error) {
	b, err := json.Marshal(g)
	if err != nil {
		return 0, fmt.Errorf("encode graph: %w", err)
	}
	return len(b), nil
}

package profile

import (
	"path"
	"slices"
	"strings"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// Dimension is one kind of behaviour a profile learns.
type Dimension string

// The dimensions, in the order findings are reported.
const (
	DimExe        Dimension = "exe"        // executables run (execve'd images)
	DimExec       Dimension = "exec"       // parent image → child image
	DimArgv       Dimension = "argv"       // command line shapes
	DimBackground Dimension = "background" // processes active in a background window (alive outside any invocation)
	DimWriteDir   Dimension = "write-dir"  // directories written into
	DimWrite      Dimension = "write"      // files written
	DimDelete     Dimension = "delete"     // files unlinked
	DimRename     Dimension = "rename"     // rename destinations
	DimChmod      Dimension = "chmod"      // files chmod'ed
	DimReadDir    Dimension = "read-dir"   // directories read from
	DimRead       Dimension = "read"       // files read
	DimOpenDir    Dimension = "open-dir"   // directories of files opened
	DimOpen       Dimension = "open"       // files opened (read, written, or only opened)
	DimEndpoint   Dimension = "endpoint"   // remote servers reached: DNS name or address, server port
	DimInbound    Dimension = "inbound"    // peers that connected to the function
	DimRequest    Dimension = "request"    // HTTP request lines (method + path template)
)

// Dimensions lists every set dimension in report order.
var Dimensions = []Dimension{DimExe, DimExec, DimArgv, DimBackground, DimWriteDir, DimWrite,
	DimDelete, DimRename, DimChmod, DimReadDir, DimRead, DimOpenDir, DimOpen, DimEndpoint,
	DimInbound, DimRequest}

// DimCount is the Finding.Rule of a per-graph count far above the learnt
// maximum.
const DimCount = "count"

// Counters, per window kind ("invocation processes", "background
// connections").
var counterNames = []string{"processes", "executions", "connections", "files written", "files"}

var validDim = map[Dimension]bool{}

// validCounter holds the window-qualified counter names.
var validCounter = map[string]bool{}

func init() {
	for _, d := range Dimensions {
		validDim[d] = true
	}
	for _, w := range []provenance.Window{provenance.WindowInvocation, provenance.WindowBackground} {
		for _, c := range counterNames {
			validCounter[string(w)+" "+c] = true
		}
	}
}

// Item is one observed behaviour of a dimension in one graph.
type Item struct {
	// Value is what the profile learns and compares.
	Value string
	// Alias is another name that makes the item known: an endpoint's
	// address when Value is its DNS name (cloud addresses rotate, names
	// do not; an address under a known name is known).
	Alias string
	// Class is the path or address class, for the text.
	Class provenance.PathClass
	// Context is what the text adds: the parent image of an execution.
	Context string
	// Nodes are the graph nodes showing it (at most maxItemNodes).
	Nodes []int
}

const maxItemNodes = 8

// Request is one HTTP request line seen in the graph's window, as the pcap
// parser reports it (pkg/event.HTTPRequest). The graph carries them
// (provenance.Graph.Requests); a caller with better ones passes Extra.
type Request struct {
	Method string
	Host   string
	Path   string
	// Outbound marks a request the function made (to a supplier), not one
	// it served.
	Outbound bool
}

// Extra is what a caller knows about a graph's window beyond the graph.
type Extra struct {
	// Requests are the window's HTTP request lines; nil means unknown (the
	// request dimension then learns and checks nothing for this graph),
	// empty means none were seen.
	Requests []Request
}

// Behaviour is a graph reduced to the profile's dimensions.
type Behaviour struct {
	Function string
	Window   provenance.Window
	// Dims holds the dimensions that apply to the graph: a key with no
	// items is a graph that showed nothing in that dimension, which
	// counts for the missing mass; a missing key does not.
	Dims map[Dimension][]Item
	// Counts are the graph's per-window counters.
	Counts map[string]int
}

type collector struct {
	b   *Behaviour
	idx map[Dimension]map[string]int
	// tmpl memoises the path template of a file node: a file has an edge
	// per operation, and folding is the costly part of Extract.
	tmpl map[int]string
}

func (c *collector) add(d Dimension, it Item, node int) {
	if it.Value == "" {
		return
	}
	// Every value and alias is bounded and printable, whatever the graph
	// held: a stored profile must always load and export.
	it.Value = bound(it.Value)
	if it.Alias != "" {
		it.Alias = bound(it.Alias)
	}
	m := c.idx[d]
	if m == nil {
		m = map[string]int{}
		c.idx[d] = m
	}
	if i, ok := m[it.Value]; ok {
		items := c.b.Dims[d]
		if len(items[i].Nodes) < maxItemNodes && !slices.Contains(items[i].Nodes, node) {
			items[i].Nodes = append(items[i].Nodes, node)
		}
		return
	}
	it.Nodes = []int{node}
	m[it.Value] = len(c.b.Dims[d])
	c.b.Dims[d] = append(c.b.Dims[d], it)
}

// Extract reduces a graph (validated by the caller: node ids in range) to
// its behaviours. x may be nil.
func Extract(g *provenance.Graph, x *Extra) *Behaviour {
	b := &Behaviour{Function: g.Function, Window: g.Window, Dims: map[Dimension][]Item{}, Counts: map[string]int{}}
	for _, d := range Dimensions {
		switch d {
		case DimBackground:
			if g.Window == provenance.WindowBackground {
				b.Dims[d] = nil
			}
		case DimRequest:
			// Known when the caller says, or when the graph carries the
			// pcap's request lines (a graph without any says nothing:
			// its pcap may be missing).
			if (x != nil && x.Requests != nil) || (x == nil && len(g.Requests) > 0) {
				b.Dims[d] = nil
			}
		default:
			b.Dims[d] = nil
		}
	}
	c := &collector{b: b, idx: map[Dimension]map[string]int{}, tmpl: map[int]string{}}
	nodes := g.Nodes
	valid := func(i int) bool { return i >= 0 && i < len(nodes) }

	// Processes: the images run, their parents and command lines.
	pids := map[int]bool{}
	execs := 0
	foldedProcs := 0 // the processes beyond one that folded nodes stand for
	for i, n := range nodes {
		if n.Kind != provenance.NodeProcess {
			continue
		}
		pids[n.PID] = true
		foldedProcs += max(0, n.Folded-1)
		if n.Exe != "" && n.Label != "" && n.Label != path.Base(n.Exe) {
			c.add(DimArgv, Item{Value: ArgvShape(n.Label), Context: exeName(n.Exe)}, i)
		}
		if g.Window == provenance.WindowBackground {
			c.add(DimBackground, Item{Value: exeValue(n.Exe)}, i)
		}
	}
	// A process node is one image of a pid: execve starts a new node for
	// the same pid, so the image before it is the latest earlier node of
	// that pid (the forked copy of the parent, or the image it replaced).
	lastImage := map[int]string{}
	seenPID := map[int]bool{}
	parentOf := map[int]string{}
	for i, n := range nodes {
		if n.Kind != provenance.NodeProcess {
			continue
		}
		if seenPID[n.PID] {
			parentOf[i] = lastImage[n.PID]
		} else {
			parentOf[i] = "?"
		}
		seenPID[n.PID] = true
		lastImage[n.PID] = exeValue(n.Exe)
	}

	written := map[int]bool{}
	files := 0
	for _, n := range nodes {
		if n.Kind == provenance.NodeFile {
			files += weight(n)
		}
	}
	for _, e := range g.Edges {
		if !valid(e.Src) || !valid(e.Dst) {
			continue
		}
		src, dst := nodes[e.Src], nodes[e.Dst]
		switch e.Kind {
		case provenance.EdgeExecve:
			if dst.Kind != provenance.NodeProcess {
				continue
			}
			execs++
			exe := dst.Exe
			if exe == "" {
				exe = src.Label
			}
			child := exeValue(exe)
			parent := parentOf[e.Dst]
			c.add(DimExe, Item{Value: child, Class: src.Class, Context: parent}, e.Dst)
			// A pair is evidence only when the parent's image is known:
			// not when its fork is outside the graph ("?"), nor when the
			// graph lost chunks and "(attached)" may be an image whose
			// execve was in the lost part (a real false alarm of the lab:
			// "(attached) → /usr/bin/sh" where the lost chunk held
			// "/bin/sh -c").
			if parent != "?" && (parent != attached || len(g.Gaps) == 0) {
				c.add(DimExec, Item{Value: parent + " → " + child, Class: src.Class}, e.Dst)
			}
		case provenance.EdgeRead:
			if src.Kind == provenance.NodeFile {
				fileItems(c, DimRead, DimReadDir, src, e.Src)
			}
		case provenance.EdgeWrite:
			if dst.Kind == provenance.NodeFile {
				written[e.Dst] = true
				fileItems(c, DimWrite, DimWriteDir, dst, e.Dst)
			}
		case provenance.EdgeOpen:
			if dst.Kind == provenance.NodeFile {
				fileItems(c, DimOpen, DimOpenDir, dst, e.Dst)
			}
		case provenance.EdgeUnlink:
			if dst.Kind == provenance.NodeFile {
				fileItems(c, DimDelete, "", dst, e.Dst)
			}
		case provenance.EdgeRename:
			if dst.Kind == provenance.NodeFile {
				fileItems(c, DimRename, "", dst, e.Dst)
			}
		case provenance.EdgeChmod:
			if dst.Kind == provenance.NodeFile {
				fileItems(c, DimChmod, "", dst, e.Dst)
			}
		}
	}

	// Sockets: a remote whose port the builder folded to "*" is a client
	// (an ephemeral port), so the function was the server; any other
	// remote is a server the function reached.
	conns := 0
	for i, n := range nodes {
		if n.Kind != provenance.NodeSocket || n.Proto == "UNIX" || n.Label == "" || n.Label == "unix" {
			continue
		}
		host, port := splitHostPort(n.Label)
		if port == "*" {
			v := string(n.Class)
			if n.Class == provenance.ClassExternal || n.Class == provenance.ClassOther {
				v += " " + host
			}
			c.add(DimInbound, Item{Value: v, Class: n.Class}, i)
			continue
		}
		conns++
		addr := string(n.Class) + " " + n.Label
		it := Item{Value: addr, Class: n.Class}
		if name := dnsName(n.DNS); name != "" {
			it.Value, it.Alias = "dns "+name+":"+port, addr
		}
		c.add(DimEndpoint, it, i)
	}

	if x != nil {
		for _, r := range x.Requests {
			c.add(DimRequest, Item{Value: RequestTemplate(r.Method, r.Host, r.Path, r.Outbound)}, -1)
		}
	} else {
		for _, r := range g.Requests {
			c.add(DimRequest, Item{Value: RequestTemplate(r.Method, r.Host, r.Path, r.Outbound)}, -1)
		}
	}

	w := string(g.Window)
	if w != string(provenance.WindowBackground) {
		w = string(provenance.WindowInvocation)
	}
	nWritten := 0
	for i := range written {
		nWritten += weight(nodes[i])
	}
	b.Counts[w+" processes"] = len(pids) + foldedProcs
	b.Counts[w+" executions"] = execs
	b.Counts[w+" connections"] = conns
	b.Counts[w+" files written"] = nWritten
	b.Counts[w+" files"] = files
	return b
}

// fileItems adds a file node to a file dimension and, when dirDim is set,
// its directory to the directory dimension.
func fileItems(c *collector, d, dirDim Dimension, n provenance.Node, id int) {
	t, ok := c.tmpl[id]
	if !ok {
		label := n.Label
		if label == "" {
			label = n.Path
		}
		t = PathTemplate(label)
		c.tmpl[id] = t
	}
	c.add(d, Item{Value: t, Class: n.Class}, id)
	if dirDim != "" {
		if dir := path.Dir(t); dir != "." {
			if dir != "/" {
				dir += "/"
			}
			c.add(dirDim, Item{Value: dir, Class: n.Class}, id)
		}
	}
}

// exeValue is the template of an image; a process that ran before the
// tracer attached has none.
func exeValue(exe string) string {
	if exe == "" {
		return attached
	}
	return PathTemplate(exe)
}

// attached names the image of a process that was running before the
// tracer attached (the container's own server).
const attached = "(attached)"

func exeName(v string) string {
	if v == attached || v == "?" {
		return v
	}
	return path.Base(v)
}

// splitHostPort splits a socket label ("1.2.3.4:443", "[::1]:*").
func splitHostPort(label string) (host, port string) {
	i := strings.LastIndexByte(label, ':')
	if i < 0 {
		return label, ""
	}
	return label[:i], label[i+1:]
}

// dnsName returns a DNS name fit to be a value: lower case, no trailing
// dot, only the characters of host names.
func dnsName(s string) string {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if s == "" || len(s) > 253 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return ""
		}
	}
	return s
}

// weight is how many of the builder's nodes n stands for: a node that
// compaction folded (provenance.Compact) counts as all it folded, so that a
// compacted graph's counters are those of the graph before compaction.
func weight(n provenance.Node) int {
	return max(1, n.Folded)
}

package profile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
)

// The test graphs are real: built by pkg/graph/provenance's Builder from the real
// strace captures in pkg/parse/strace/testdata (see its README for how each was
// made), as faasmon-parse and faasmon-graph build them, and the real attack
// graph of tests/e2e/testdata.

var traceT0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// traceGraphs builds the graphs of one capture as if function fn's
// container had produced it.
func traceGraphs(t testing.TB, file, fn string) []provenance.Graph {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "parse", "strace", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	h := chunk.Header{Node: "n1", Function: fn, Namespace: "openfaas-fn", Container: "c-" + file, PID: 1,
		Kind: chunk.KindStrace, Stream: "s-" + file, Start: traceT0, End: traceT0.Add(time.Minute)}
	batch, err := ingest.Chunk(h, body)
	if err != nil {
		t.Fatal(err)
	}
	st := provenance.NewState(h)
	gs, err := provenance.Builder{Class: provenance.DefaultClassifier()}.Apply(st, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range gs {
		if err := gs[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if len(gs) == 0 {
		t.Fatalf("%s: no graphs", file)
	}
	return gs
}

// e2eGraph is the real attack graph of the end-to-end test (attack 3:
// photo-receive's command injection starting a persistent beacon).
func e2eGraph(t testing.TB) *provenance.Graph {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "tests", "e2e", "testdata", "attack3-photo-receive.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g provenance.Graph
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return &g
}

// The variants below start from real graphs and change one thing, the way
// another invocation of the same code, or an attack through it, would.

func cloneGraph(g *provenance.Graph) *provenance.Graph {
	c := *g
	c.Nodes = append([]provenance.Node(nil), g.Nodes...)
	c.Edges = append([]provenance.Edge(nil), g.Edges...)
	return &c
}

// rewrite replaces old by new in every node's names (a file the code
// names differently in another invocation).
func rewrite(g *provenance.Graph, old, new string) *provenance.Graph {
	c := cloneGraph(g)
	for i := range c.Nodes {
		n := &c.Nodes[i]
		n.Label = strings.ReplaceAll(n.Label, old, new)
		n.Path = strings.ReplaceAll(n.Path, old, new)
		n.Exe = strings.ReplaceAll(n.Exe, old, new)
		n.Argv0 = strings.ReplaceAll(n.Argv0, old, new)
	}
	return c
}

// firstProc is the node id of the graph's first process.
func firstProc(g *provenance.Graph) int {
	for i, n := range g.Nodes {
		if n.Kind == provenance.NodeProcess {
			return i
		}
	}
	return -1
}

func addNode(g *provenance.Graph, n provenance.Node) int {
	n.ID = len(g.Nodes)
	g.Nodes = append(g.Nodes, n)
	return n.ID
}

func addEdge(g *provenance.Graph, src, dst int, k provenance.EdgeKind) {
	g.Edges = append(g.Edges, provenance.Edge{Src: src, Dst: dst, Kind: k, First: g.Start, Last: g.Start, Count: 1})
}

// withFile adds a read (or write) of path by the graph's first process.
func withFile(g *provenance.Graph, path string, k provenance.EdgeKind) *provenance.Graph {
	c := cloneGraph(g)
	class, label := provenance.DefaultClassifier().File(path)
	f := addNode(c, provenance.Node{Kind: provenance.NodeFile, Label: label, Class: class, Path: path})
	p := firstProc(c)
	if k == provenance.EdgeRead {
		addEdge(c, f, p, k)
	} else {
		addEdge(c, p, f, k)
	}
	return c
}

// withConnect adds a connection of the first process to addr, named dns
// when the pcap join found the name.
func withConnect(g *provenance.Graph, addr, dns string) *provenance.Graph {
	c := cloneGraph(g)
	class, label := provenance.DefaultClassifier().Addr(addr)
	s := addNode(c, provenance.Node{Kind: provenance.NodeSocket, Label: label, Class: class, Addr: addr, Proto: "TCP", DNS: dns})
	addEdge(c, firstProc(c), s, provenance.EdgeConnect)
	return c
}

// withChildren adds n forked copies of the first process's image.
func withChildren(g *provenance.Graph, n int) *provenance.Graph {
	c := cloneGraph(g)
	p := firstProc(c)
	for i := 0; i < n; i++ {
		ch := c.Nodes[p]
		ch.PID = 90000 + i
		addEdge(c, p, addNode(c, ch), provenance.EdgeFork)
	}
	return c
}

func invocations(gs []provenance.Graph) []*provenance.Graph {
	var out []*provenance.Graph
	for i := range gs {
		if gs[i].Window == provenance.WindowInvocation {
			out = append(out, &gs[i])
		}
	}
	return out
}

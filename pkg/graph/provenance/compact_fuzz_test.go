package provenance

import (
	"encoding/json"
	"fmt"
	"testing"
)

// randomGraph makes a valid graph from data: every byte decides something
// (how many nodes, their kinds and paths, the edges and acts), so the fuzzer
// explores shapes the builder makes and shapes it never would (files
// between files, processes with no edges, overflow nodes).
func randomGraph(data []byte) *Graph {
	i := 0
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := int(data[i%len(data)])
		i++
		return b
	}
	g := &Graph{Version: SchemaVersion, ID: "fuzz", Function: "f", Window: WindowInvocation,
		Start: t0, End: t0, Nodes: []Node{}, Edges: []Edge{}}
	dirs := []string{"/tmp", "/tmp/a", "/usr/lib", "/home/app/.ssh", "/etc", "/var/log", "/proc/12", "$FUNC/node_modules/x", "/srv/b/c/d"}
	n := 1 + next()*8 + next()
	for j := 0; j < n; j++ {
		k := NodeKinds[next()%len(NodeKinds)]
		nd := Node{ID: j, Kind: k}
		switch k {
		case NodeProcess:
			nd.PID = 100 + next()
			nd.Label = fmt.Sprintf("sh -c x%d", next()%7)
			nd.Exe = []string{"/bin/sh", "/usr/bin/touch", "/tmp/p.sh", ""}[next()%4]
		case NodeFile:
			d := dirs[next()%len(dirs)]
			nd.Path = fmt.Sprintf("%s/f%d", d, next())
			nd.Class, nd.Label = DefaultClassifier().File(nd.Path)
			nd.Written = next()%2 == 0
			if next()%17 == 0 {
				nd.Label, nd.Path = OverflowLabel, ""
			}
		case NodeSocket:
			nd.Label = fmt.Sprintf("203.0.113.%d:443", next())
			nd.Class = ClassExternal
		case NodePipe:
			nd.Label = "pipe"
		}
		g.Nodes = append(g.Nodes, nd)
	}
	m := next() * 12
	for j := 0; j < m; j++ {
		g.Edges = append(g.Edges, Edge{Src: next() % n, Dst: next() % n, Kind: EdgeKinds[next()%len(EdgeKinds)],
			First: t0, Last: t0, Count: 1 + next()%3, Bytes: int64(next())})
	}
	for j := 0; j < next()%5; j++ {
		p := next() % n
		if g.Nodes[p].Kind == NodeProcess {
			g.Acts = append(g.Acts, Act{Proc: p, Syscall: "openat", Path: "/etc/shadow", Errno: "EACCES", First: t0, Count: 1})
		}
	}
	return g
}

// Compaction of any valid graph is a valid graph within the bounds, and
// compacting it again changes nothing.
func FuzzCompact(f *testing.F) {
	for _, s := range []string{"", "\x00", "\xff\xff\xff\x10", "hello, provenance", string(make([]byte, 64)),
		"\x80\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"} {
		f.Add([]byte(s), uint16(4000))
		f.Add([]byte(s), uint16(1500))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		g := randomGraph(data)
		if err := g.Validate(); err != nil {
			t.Fatalf("generator made an invalid graph: %v", err)
		}
		o := CompactOptions{MaxBytes: 1500 + int(limit), MaxNodes: 50 + int(limit)%500}
		if err := Compact(g, o); err != nil {
			t.Fatal(err)
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("compacted graph invalid: %v", err)
		}
		b, _ := json.Marshal(g)
		if len(b) > o.MaxBytes || len(g.Nodes) > o.MaxNodes {
			t.Fatalf("%d bytes, %d nodes: over %d, %d", len(b), len(g.Nodes), o.MaxBytes, o.MaxNodes)
		}
		if err := Compact(g, o); err != nil {
			t.Fatal(err)
		}
		if again, _ := json.Marshal(g); string(again) != string(b) {
			t.Fatal("compacting again changed the graph")
		}
	})
}

// TestCompactProperty runs the fuzz property over many generated graphs in
// every ordinary test run.
func TestCompactProperty(t *testing.T) {
	for seed := 0; seed < 300; seed++ {
		data := make([]byte, 40+seed%200)
		x := uint32(seed*2654435761 + 1)
		for i := range data {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			data[i] = byte(x)
		}
		g := randomGraph(data)
		o := CompactOptions{MaxBytes: 1500 + seed*37, MaxNodes: 50 + seed}
		if err := Compact(g, o); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		b, _ := json.Marshal(g)
		if len(b) > o.MaxBytes || len(g.Nodes) > o.MaxNodes {
			t.Fatalf("seed %d: %d bytes, %d nodes, over %d, %d", seed, len(b), len(g.Nodes), o.MaxBytes, o.MaxNodes)
		}
	}
}

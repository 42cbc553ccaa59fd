package gnn

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// SyntheticGraph builds a provenance graph of exactly nodes nodes (at least
// 12) with a mean degree of about 3, shaped like a Node.js function
// invocation: a handler process with an accepted gateway connection, worker
// children, and files, sockets and pipes around them. It is for tests and
// benchmarks, not a substitute for the lab's data.
//
// With attack, the graph also holds a dropper chain: a connection to an
// external host on port 4444, a download written to /tmp, chmod, a forked
// child that execve's the download and connects out again. Benign graphs
// sometimes have each ingredient alone (an external HTTPS call, a /tmp
// write, a forked tool from /usr/bin) but never the chain, so a model has to
// look at structure, not at one feature.
func SyntheticGraph(rng *rand.Rand, nodes int, attack bool) *provenance.Graph {
	nodes = max(nodes, 12)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fns := []string{"product-catalog", "cart-api", "payment"}
	g := &provenance.Graph{Version: provenance.SchemaVersion, Window: provenance.WindowInvocation,
		Function: fns[rng.IntN(len(fns))], Start: t0, End: t0.Add(time.Second), Label: "benign",
		Scenario: "synthetic-benign"}
	if attack {
		g.Label, g.Scenario = "attack", "synthetic-dropper"
	}
	g.ID = fmt.Sprintf("syn-%s-%d", g.Label, rng.Uint32())
	add := func(n provenance.Node) int {
		n.ID = len(g.Nodes)
		g.Nodes = append(g.Nodes, n)
		return n.ID
	}
	edge := func(s, d int, k provenance.EdgeKind) {
		c := 1 + rng.IntN(4)
		var by int64
		switch k {
		case provenance.EdgeRead, provenance.EdgeWrite, provenance.EdgeSend, provenance.EdgeRecv:
			by = int64(c * (16 + rng.IntN(4096)))
		}
		g.Edges = append(g.Edges, provenance.Edge{Src: s, Dst: d, Kind: k, Count: c, Bytes: by,
			First: t0, Last: t0.Add(time.Duration(rng.IntN(1e9)))})
	}
	root := add(provenance.Node{Kind: provenance.NodeProcess, Label: "node index.js", PID: 7,
		Exe: "/usr/local/bin/node", Argv0: "node"})
	gw := add(provenance.Node{Kind: provenance.NodeSocket, Label: "10.62.0.1:8080", Class: provenance.ClassInternal,
		Addr: "10.62.0.1:8080", Proto: "tcp"})
	edge(gw, root, provenance.EdgeAccept)
	edge(gw, root, provenance.EdgeRecv)
	edge(root, gw, provenance.EdgeSend)
	procs := []int{root}
	fork := func(parent int, label, exe string, class provenance.PathClass) int {
		p := add(provenance.Node{Kind: provenance.NodeProcess, Label: label, PID: 100 + len(g.Nodes), Exe: exe, Argv0: label})
		edge(parent, p, provenance.EdgeFork)
		f := add(provenance.Node{Kind: provenance.NodeFile, Label: exe, Path: exe, Class: class})
		edge(p, f, provenance.EdgeExecve)
		procs = append(procs, p)
		return p
	}
	if attack {
		c2 := add(provenance.Node{Kind: provenance.NodeSocket, Label: "203.0.113.7:4444", Class: provenance.ClassExternal,
			Addr: "203.0.113.7:4444", Proto: "tcp"})
		edge(root, c2, provenance.EdgeConnect)
		edge(c2, root, provenance.EdgeRecv)
		drop := add(provenance.Node{Kind: provenance.NodeFile, Label: "/tmp/.x/p.sh", Path: "/tmp/.x/p.sh", Class: provenance.ClassTmp})
		edge(root, drop, provenance.EdgeWrite)
		edge(root, drop, provenance.EdgeChmod)
		child := add(provenance.Node{Kind: provenance.NodeProcess, Label: "sh /tmp/.x/p.sh", PID: 9999, Exe: "/bin/sh", Argv0: "sh"})
		edge(root, child, provenance.EdgeFork)
		edge(child, drop, provenance.EdgeExecve)
		edge(child, c2, provenance.EdgeConnect)
		edge(child, c2, provenance.EdgeSend)
		procs = append(procs, child)
	}
	if rng.Float64() < 0.3 {
		fork(root, "convert", "/usr/bin/convert", provenance.ClassSysBin)
	}
	for range (nodes - 20) / 60 { // worker children in big graphs
		fork(procs[rng.IntN(len(procs))], "node worker.js", "/usr/local/bin/node", provenance.ClassSysBin)
	}
	if rng.Float64() < 0.3 {
		api := add(provenance.Node{Kind: provenance.NodeSocket, Label: "198.51.100.20:443", Class: provenance.ClassExternal,
			Addr: "198.51.100.20:443", Proto: "tcp"})
		edge(root, api, provenance.EdgeConnect)
		edge(root, api, provenance.EdgeSend)
		edge(api, root, provenance.EdgeRecv)
	}
	type fileKind struct {
		class provenance.PathClass
		path  string
		kinds []provenance.EdgeKind
	}
	R, W, O := provenance.EdgeRead, provenance.EdgeWrite, provenance.EdgeOpen
	fk := []fileKind{
		{provenance.ClassFuncDir, "/home/app/function/%s.js", []provenance.EdgeKind{O, R}},
		{provenance.ClassFuncDir, "/home/app/function/node_modules/%s/index.js", []provenance.EdgeKind{O, R}},
		{provenance.ClassSysLib, "/usr/lib/x86_64-linux-gnu/lib%s.so.0", []provenance.EdgeKind{O, R}},
		{provenance.ClassProc, "/proc/self/%s", []provenance.EdgeKind{R}},
		{provenance.ClassEtc, "/etc/%s.conf", []provenance.EdgeKind{O, R}},
		{provenance.ClassTmp, "/tmp/upload-%s.json", []provenance.EdgeKind{W, R, provenance.EdgeUnlink}},
		{provenance.ClassDev, "/dev/%s", []provenance.EdgeKind{R, W}},
		{provenance.ClassSecrets, "/var/openfaas/secrets/%s", []provenance.EdgeKind{O, R}},
	}
	words := []string{"index", "util", "db", "express", "crypto", "ssl", "stat", "hosts", "urandom", "null", "config", "api-key", "cache", "fs"}
	for len(g.Nodes) < nodes {
		p := procs[rng.IntN(len(procs))]
		switch x := rng.Float64(); {
		case x < 0.8:
			f := fk[rng.IntN(len(fk))]
			name := fmt.Sprintf(f.path, words[rng.IntN(len(words))]+fmt.Sprint(rng.IntN(50)))
			n := add(provenance.Node{Kind: provenance.NodeFile, Label: name, Path: name, Class: f.class})
			for i, k := range f.kinds {
				if i > 0 && rng.Float64() < 0.5 {
					break
				}
				if k == R {
					edge(n, p, k)
				} else {
					edge(p, n, k)
				}
			}
		case x < 0.93:
			s := add(provenance.Node{Kind: provenance.NodeSocket, Label: fmt.Sprintf("10.62.%d.%d:%d", rng.IntN(9), 2+rng.IntN(200), []int{8080, 5432, 6379}[rng.IntN(3)]),
				Class: provenance.ClassInternal, Proto: "tcp"})
			edge(p, s, provenance.EdgeConnect)
			edge(p, s, provenance.EdgeSend)
			if rng.Float64() < 0.5 {
				edge(s, p, provenance.EdgeRecv)
			}
		default:
			q := add(provenance.Node{Kind: provenance.NodePipe, Label: fmt.Sprintf("pipe:[%d]", rng.IntN(1e6))})
			edge(p, q, provenance.EdgeWrite)
			edge(q, procs[rng.IntN(len(procs))], provenance.EdgeRead)
		}
	}
	return g
}

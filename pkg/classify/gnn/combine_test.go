package gnn

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// A graph exactly at the one-class threshold τ is benign: τ is a benign
// validation graph's own score, and its identical copies must not be
// flagged. Farther than τ is anomalous.
func TestCombineOneClassTie(t *testing.T) {
	m := &Model{Meta: Meta{Threshold: 0.5, Train: TrainConfig{OneClassVotes: true}}, OneClass: &OneClassStats{Threshold: 2}, oc: &Net[float32]{}}
	for _, tc := range []struct {
		a      float64
		attack bool
	}{{1, false}, {2, false}, {math.Nextafter(2, 3), true}, {4, true}} {
		r := m.result(0.1, tc.a, &provenance.Graph{Function: "f"})
		if (r.Verdict == verdict.Attack) != tc.attack {
			t.Errorf("anomaly %v (τ 2): %s, score %v", tc.a, r.Verdict, r.Score)
		}
	}
	// Without OneClassVotes the anomaly is reported, not decisive.
	m.Meta.Train.OneClassVotes = false
	if r := m.result(0.1, 4, &provenance.Graph{Function: "f"}); r.Verdict != verdict.Benign || r.AnomalyScore <= 0.5 {
		t.Errorf("non-voting one-class part: %s, anomaly score %v", r.Verdict, r.AnomalyScore)
	}
}

func egressGraph(fn string, endpoints ...string) *provenance.Graph {
	g := &provenance.Graph{Function: fn, Nodes: []provenance.Node{{ID: 0, Kind: provenance.NodeProcess, Label: "node"}}}
	for _, ep := range endpoints {
		g.Nodes = append(g.Nodes, provenance.Node{ID: len(g.Nodes), Kind: provenance.NodeSocket, Class: provenance.ClassExternal, Label: ep})
		g.Edges = append(g.Edges, provenance.Edge{Src: 0, Dst: len(g.Nodes) - 1, Kind: provenance.EdgeConnect})
	}
	// an internal peer is never an egress endpoint
	g.Nodes = append(g.Nodes, provenance.Node{ID: len(g.Nodes), Kind: provenance.NodeSocket, Class: provenance.ClassInternal, Label: "10.62.1.1:*"})
	return g
}

// The egress baseline flags a new external endpoint only for a function
// whose benign graphs rarely reach one (leave-one-out estimate ≤ 1%), and
// explains the verdict by the endpoint.
func TestEgressBaseline(t *testing.T) {
	var benign []Example
	add := func(n int, fn string, eps ...string) {
		for range n {
			benign = append(benign, Example{Graph: egressGraph(fn, eps...)})
		}
	}
	add(150, "stable", "10.65.0.2:80")
	add(50, "stable")
	add(100, "fetcher", "10.65.0.2:80")
	for i := range 10 { // 10% of its graphs reach an endpoint seen once
		add(1, "fetcher", "192.0.2."+string(rune('a'+i))+":443")
	}
	add(5, "rare", "10.65.0.2:80") // too few graphs to arm
	st := &OneClassStats{Threshold: 2, EgressMinGraphs: 20, EgressMaxMissing: 0.01}
	st.Egress = egressBaselines(benign)
	if err := st.checkEgress(); err != nil {
		t.Fatal(err)
	}
	if got := st.Egress["fetcher"].MissingMass(); math.Abs(got-10.0/110) > 1e-12 {
		t.Errorf("fetcher missing mass %v, want 10/110", got)
	}
	m := &Model{Meta: Meta{Threshold: 0.5}, OneClass: st, oc: &Net[float32]{}}
	for _, tc := range []struct {
		name   string
		g      *provenance.Graph
		attack bool
	}{
		{"known endpoint", egressGraph("stable", "10.65.0.2:80"), false},
		{"no endpoint", egressGraph("stable"), false},
		{"new endpoint", egressGraph("stable", "10.65.0.2:80", "10.66.0.2:4444"), true},
		{"new endpoint, varied function", egressGraph("fetcher", "10.66.0.2:4444"), false},
		{"new endpoint, too few graphs", egressGraph("rare", "10.66.0.2:4444"), false},
		{"new endpoint, unknown function", egressGraph("other", "10.66.0.2:4444"), false},
	} {
		r := m.result(0.1, 1, tc.g)
		if (r.Verdict == verdict.Attack) != tc.attack {
			t.Errorf("%s: %s (score %v, source %s)", tc.name, r.Verdict, r.Score, r.Source)
		}
		if tc.attack && (r.Source != "egress" || !slices.Equal(r.NovelEndpoints, []string{"10.66.0.2:4444"})) {
			t.Errorf("%s: source %s, novel %v", tc.name, r.Source, r.NovelEndpoints)
		}
	}
	ex := explainEgress(egressGraph("stable", "10.65.0.2:80", "10.66.0.2:4444"), []string{"10.66.0.2:4444"}, 5)
	if len(ex.Nodes) != 1 || ex.Nodes[0].Label != "10.66.0.2:4444" || len(ex.Edges) != 1 || ex.Edges[0].From != "node" {
		t.Errorf("explanation %+v", ex)
	}
}

// A model file's egress baselines are untrusted input.
func TestCheckEgressRefuses(t *testing.T) {
	ok := func() *OneClassStats {
		return &OneClassStats{EgressMinGraphs: 20, EgressMaxMissing: 0.01,
			Egress: map[string]*Egress{"f": {Endpoints: []string{"a:1", "b:2"}, Graphs: 30, Singletons: 1}}}
	}
	if err := ok().checkEgress(); err != nil {
		t.Fatal(err)
	}
	for name, spoil := range map[string]func(*OneClassStats){
		"unsorted":          func(o *OneClassStats) { o.Egress["f"].Endpoints = []string{"b:2", "a:1"} },
		"duplicate":         func(o *OneClassStats) { o.Egress["f"].Endpoints = []string{"a:1", "a:1"} },
		"singletons>graphs": func(o *OneClassStats) { o.Egress["f"].Singletons = 31 },
		"no graphs":         func(o *OneClassStats) { o.Egress["f"].Graphs = 0 },
		"null":              func(o *OneClassStats) { o.Egress["f"] = nil },
		"rule":              func(o *OneClassStats) { o.EgressMaxMissing = 1 },
		"min graphs":        func(o *OneClassStats) { o.EgressMinGraphs = 0 },
	} {
		o := ok()
		spoil(o)
		if err := o.checkEgress(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A trained model: a benign-looking graph that reaches an endpoint its
// function never reached is flagged by the egress part, and the
// explanation names the endpoint first, then what the supervised
// attribution says was done around it.
func TestClassifyEgressExplains(t *testing.T) {
	m, _ := trainSmall(t)
	rng := rand.New(rand.NewPCG(7, 7))
	g := SyntheticGraph(rng, 30, false)
	if e, armed := m.OneClass.egressArmed(g.Function); !armed {
		t.Fatalf("egress baseline of %s not armed: %+v", g.Function, e)
	}
	const ep = "192.0.2.9:443"
	sock := len(g.Nodes)
	g.Nodes = append(g.Nodes, provenance.Node{ID: sock, Kind: provenance.NodeSocket, Label: ep, Class: provenance.ClassExternal, Addr: ep, Proto: "tcp"})
	g.Edges = append(g.Edges,
		provenance.Edge{Src: 0, Dst: sock, Kind: provenance.EdgeConnect, Count: 1, First: g.Start, Last: g.Start},
		provenance.Edge{Src: sock, Dst: 0, Kind: provenance.EdgeRecv, Count: 1, Bytes: 900, First: g.Start, Last: g.Start})
	r, err := m.Classify(g, Options{TopK: 4})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != verdict.Attack || r.Source != "egress" || !slices.Equal(r.NovelEndpoints, []string{ep}) {
		t.Fatalf("verdict %s source %s novel %v supervised %.3f", r.Verdict, r.Source, r.NovelEndpoints, r.Supervised)
	}
	ex := r.Explanation
	if len(ex.Nodes) == 0 || ex.Nodes[0].Label != ep || len(ex.Nodes) > 4 || len(ex.Edges) > 4 {
		t.Fatalf("explanation nodes %+v", ex.Nodes)
	}
	if !strings.Contains(ex.Method, "then gradient×input") || len(ex.Nodes) < 2 {
		t.Errorf("explanation not filled from the supervised attribution: %s, %d nodes", ex.Method, len(ex.Nodes))
	}
}

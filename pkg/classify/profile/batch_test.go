package profile

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// stream is n benign graphs of the node_server function, in rounds.
func stream(t testing.TB, n int) []*provenance.Graph {
	base := nodeServer(t)
	var out []*provenance.Graph
	for i := 0; len(out) < n; i++ {
		for j := range base {
			if len(out) < n {
				out = append(out, round(&base[j], i))
			}
		}
	}
	return out
}

func storedProfile(t *testing.T, s Store, k Key) *Profile {
	t.Helper()
	p, err := s.Load(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func graphsOf(p *Profile) int {
	if p == nil {
		return 0
	}
	return p.Graphs
}

// TestObserveBatched: a batching Learner writes its learnt graphs every
// FlushGraphs graphs, after FlushEvery, on Flush, and at once when a graph
// arms the profile; what it stores is what writing every graph stores;
// replicas batching on one store lose none of each other's graphs.
func TestObserveBatched(t *testing.T) {
	gs := stream(t, 30)
	k := KeyOf(gs[0], "v1")
	observe := func(t *testing.T, l *Learner, gs []*provenance.Graph) []Result {
		t.Helper()
		var out []Result
		for _, g := range gs {
			res, err := l.Observe("v1", g, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, res)
		}
		return out
	}
	t.Run("every FlushGraphs graphs", func(t *testing.T) {
		s := FileStore{Dir: t.TempDir()}
		l := &Learner{Store: s, Config: Config{LearnGraphs: 1000}, FlushGraphs: 10, FlushEvery: time.Hour}
		observe(t, l, gs[:9])
		if n := graphsOf(storedProfile(t, s, k)); n != 0 {
			t.Fatalf("after 9 graphs: %d stored, want 0 (batched)", n)
		}
		observe(t, l, gs[9:10])
		if n := graphsOf(storedProfile(t, s, k)); n != 10 {
			t.Fatalf("after 10 graphs: %d stored, want 10", n)
		}
		observe(t, l, gs[10:13])
		if n := graphsOf(storedProfile(t, s, k)); n != 10 {
			t.Fatalf("after 13 graphs: %d stored, want 10", n)
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		if n := graphsOf(storedProfile(t, s, k)); n != 13 {
			t.Fatalf("after Flush: %d stored, want 13", n)
		}
	})
	t.Run("after FlushEvery", func(t *testing.T) {
		s := FileStore{Dir: t.TempDir()}
		clk := &clock{t: traceT0}
		l := &Learner{Store: s, Config: Config{LearnGraphs: 1000}, FlushGraphs: 100, FlushEvery: time.Second, Now: clk.now}
		observe(t, l, gs[:3])
		if err := l.FlushDue(); err != nil {
			t.Fatal(err)
		}
		if n := graphsOf(storedProfile(t, s, k)); n != 0 {
			t.Fatalf("%d stored before FlushEvery", n)
		}
		clk.add(time.Second)
		if err := l.FlushDue(); err != nil {
			t.Fatal(err)
		}
		if n := graphsOf(storedProfile(t, s, k)); n != 3 {
			t.Fatalf("%d stored after FlushEvery, want 3", n)
		}
	})
	t.Run("arming is written at once", func(t *testing.T) {
		s := FileStore{Dir: t.TempDir()}
		l := &Learner{Store: s, Config: Config{LearnGraphs: 12}, FlushGraphs: 100, FlushEvery: time.Hour}
		res := observe(t, l, gs[:13])
		if res[10].State != Learning || res[11].State != Armed || !res[11].Learnt || res[12].State != Armed || res[12].Learnt {
			t.Fatalf("states %v %v %v", res[10], res[11], res[12])
		}
		p := storedProfile(t, s, k)
		if p == nil || p.State != Armed || p.Graphs != 12 {
			t.Fatalf("stored %+v", p)
		}
	})
	t.Run("same profile as writing every graph", func(t *testing.T) {
		clk := &clock{t: traceT0}
		one := FileStore{Dir: t.TempDir()}
		batched := FileStore{Dir: t.TempDir()}
		cfg := Config{LearnGraphs: 25}
		observe(t, &Learner{Store: one, Config: cfg, Now: clk.now}, gs)
		observe(t, &Learner{Store: batched, Config: cfg, Now: clk.now, FlushGraphs: 7, FlushEvery: time.Hour}, gs)
		a, _ := json.Marshal(storedProfile(t, one, k))
		b, _ := json.Marshal(storedProfile(t, batched, k))
		if string(a) != string(b) {
			t.Errorf("profiles differ:\n%s\n%s", a, b)
		}
	})
	t.Run("two replicas", func(t *testing.T) {
		s := FileStore{Dir: t.TempDir()}
		a := &Learner{Store: s, Config: Config{LearnGraphs: 1000}, FlushGraphs: 4, FlushEvery: time.Hour}
		b := &Learner{Store: s, Config: Config{LearnGraphs: 1000}, FlushGraphs: 4, FlushEvery: time.Hour}
		for i, g := range gs[:20] {
			l := a
			if i%3 == 0 {
				l = b
			}
			observe(t, l, []*provenance.Graph{g})
		}
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if n := graphsOf(storedProfile(t, s, k)); n != 20 {
			t.Errorf("%d graphs stored, want 20", n)
		}
	})
	t.Run("armed by another replica", func(t *testing.T) {
		s := FileStore{Dir: t.TempDir()}
		a := &Learner{Store: s, Config: Config{LearnGraphs: 6}}
		b := &Learner{Store: s, Config: Config{LearnGraphs: 6}, FlushGraphs: 100, FlushEvery: time.Hour}
		observe(t, b, gs[:3])
		observe(t, a, gs[3:9]) // arms
		res := observe(t, b, gs[9:10])
		if res[0].State != Armed {
			t.Fatalf("b after a armed: %+v", res[0])
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if p := storedProfile(t, s, k); p.State != Armed || p.Graphs != 6 {
			t.Errorf("stored %v %d graphs, want armed with a's 6", p.State, p.Graphs)
		}
	})
	t.Run("files stay private", func(t *testing.T) {
		s := FileStore{Dir: t.TempDir()}
		l := &Learner{Store: s, FlushGraphs: 2, FlushEvery: time.Hour}
		observe(t, l, gs[:2])
		fi, err := os.Stat(s.path(k))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("profile file: %v %v", fi, err)
		}
	})
}

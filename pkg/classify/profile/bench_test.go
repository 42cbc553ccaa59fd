package profile

import "testing"

// BenchmarkCheck is the armed path of faasmon-classify per graph: reduce
// the real attack graph of tests/e2e (97 nodes) and check it against the
// learnt node_server.js profile. Run:
//
//	go test ./pkg/classify/profile -run '^$' -bench Check -benchmem
func BenchmarkCheck(b *testing.B) {
	p, _ := learnt(b, 7)
	g := e2eGraph(b)
	b.ReportAllocs()
	for b.Loop() {
		if len(p.Check(g)) == 0 {
			b.Fatal("no findings")
		}
	}
}

// BenchmarkLearn is the learning path without the store.
func BenchmarkLearn(b *testing.B) {
	g := e2eGraph(b)
	p := New(Key{Function: fn}, Config{})
	for b.Loop() {
		p.Learn(g)
	}
}

// BenchmarkCheckBenign is the common path: a graph that matches its
// profile (a node_server.js call, 10 nodes).
func BenchmarkCheckBenign(b *testing.B) {
	p, base := learnt(b, 7)
	g := round(invocations(base)[0], 99)
	x := requests(99)
	for b.Loop() {
		if fs := p.CheckBehaviour(Extract(g, x)); len(fs) != 0 {
			b.Fatal(fs)
		}
	}
}

// BenchmarkObserveLearning is faasmon-classify's learning path per graph
// with the file store: load, learn, store (each graph re-encodes and
// rewrites the whole profile, synced).
func BenchmarkObserveLearning(b *testing.B) {
	g := e2eGraph(b)
	l := &Learner{Store: FileStore{Dir: b.TempDir()}, Config: Config{LearnGraphs: 1 << 30}}
	for b.Loop() {
		if _, err := l.Observe("v1", g, nil, true); err != nil {
			b.Fatal(err)
		}
	}
}

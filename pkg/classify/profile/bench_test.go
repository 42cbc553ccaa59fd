package profile

import (
	"syscall"
	"testing"
	"time"
)

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
// with the file store: load, learn, store. write=each re-encodes and
// rewrites the whole profile, synced, for every graph (the Learner's zero
// value); write=batched is faasmon-classify's setting (one write per 64
// graphs or per second). cpu-ns/op is the process's user+system time per
// graph (ns/op includes waiting for fsync). Run:
//
//	go test ./pkg/classify/profile -run '^$' -bench ObserveLearning -count 6
func BenchmarkObserveLearning(b *testing.B) {
	g := e2eGraph(b)
	for _, c := range []struct {
		name  string
		every time.Duration
		n     int
	}{{"write=each", 0, 0}, {"write=batched", time.Second, 64}} {
		b.Run(c.name, func(b *testing.B) {
			l := &Learner{Store: FileStore{Dir: b.TempDir()}, Config: Config{LearnGraphs: 1 << 30}, FlushEvery: c.every, FlushGraphs: c.n}
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := l.Observe("v1", g, nil, true); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package provenance

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
)

// TestStateCache: a container's next batch takes the state this process
// stored without reading the file; a state another replica wrote since is
// read from disk; a batch that failed leaves nothing of its changes behind.
func TestStateCache(t *testing.T) {
	dir := t.TempDir()
	cache := &StateCache{}
	s := FileStore{Dir: dir, Cache: cache}
	other := FileStore{Dir: dir} // another replica on the node: no cache
	h := chunk.Header{Node: "n", Function: "f", Container: "c1", PID: 1, Kind: chunk.KindStrace, Stream: "s", Start: time.Unix(1, 0), End: time.Unix(1, 0)}
	key := StateKey(h)
	setBgSeq := func(st *State, n int) *State {
		if st == nil {
			st = NewState(h)
		}
		st.BgSeq = n
		return st
	}
	steps := []struct {
		name       string
		store      FileStore
		fn         func(st *State) (*State, error)
		wantBefore int // BgSeq fn sees
		wantErr    bool
		hits       uint64
	}{
		{"first batch reads nothing", s, func(st *State) (*State, error) { return setBgSeq(st, 1), nil }, 0, false, 0},
		{"second batch from the cache", s, func(st *State) (*State, error) { return setBgSeq(st, 2), nil }, 1, false, 1},
		{"another replica writes", other, func(st *State) (*State, error) { return setBgSeq(st, 7), nil }, 2, false, 1},
		{"its state is read, not the cached one", s, func(st *State) (*State, error) { return setBgSeq(st, 8), nil }, 7, false, 1},
		{"a failed batch changes the state it was given", s, func(st *State) (*State, error) { setBgSeq(st, 99); return nil, errors.New("boom") }, 8, true, 2},
		{"the next batch sees what is on disk", s, func(st *State) (*State, error) { return setBgSeq(st, 9), nil }, 8, false, 2},
	}
	for _, st := range steps {
		var saw int
		err := st.store.Update(key, func(cur *State) (*State, error) {
			if cur != nil {
				saw = cur.BgSeq
			}
			return st.fn(cur)
		})
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: err %v", st.name, err)
		}
		if saw != st.wantBefore {
			t.Errorf("%s: fn saw BgSeq %d, want %d", st.name, saw, st.wantBefore)
		}
		if hits, _ := cache.Stats(); hits != st.hits {
			t.Errorf("%s: %d cache hits, want %d", st.name, hits, st.hits)
		}
	}
}

// BenchmarkStoreUpdate is one batch's load and store of a container's
// state (fn changes one field), with and without the cache, and with the
// journal (the batch, 4 KB here, appended instead of the state
// rewritten); state=busy holds a few hundred processes and open
// invocations (about 290 KB of JSON), state=small a quiet container's
// (about 7 KB). cpu-ns/op is the process's user+system time per batch,
// what the cost account counts (ns/op includes waiting for fsync). Run:
//
//	go test ./pkg/graph/provenance -run '^$' -bench StoreUpdate -count 6
func BenchmarkStoreUpdate(b *testing.B) {
	h := chunk.Header{Node: "n", Function: "f", Container: "c1", PID: 1, Kind: chunk.KindStrace, Stream: "s", Start: time.Unix(1, 0), End: time.Unix(1, 0)}
	state := func(procs, calls int) *State {
		st := NewState(h)
		for i := 0; i < procs; i++ {
			st.Procs[1000+i] = &Proc{PPID: 1, Exe: "/usr/bin/node", Argv0: "node", Cmd: "node index.js"}
		}
		for i := 0; i < calls; i++ {
			p := st.newPartial(WindowInvocation, "call-"+string(rune('a'+i%26))+string(rune('a'+i/26)), time.Unix(1, 0))
			for j := 0; j < 40; j++ {
				p.G.Nodes = append(p.G.Nodes, Node{ID: j, Kind: NodeFile, Label: "/home/app/function/node_modules/x/index.js", Path: "/home/app/function/node_modules/x/index.js"})
			}
			st.Calls[p.G.CallID] = p
		}
		return st
	}
	rec := make([]byte, 4<<10) // a batch's body; never replayed here
	for _, size := range []struct {
		name         string
		procs, calls int
	}{{"busy", 300, 50}, {"small", 20, 1}} {
		for _, c := range []struct {
			name    string
			cache   bool
			journal bool
		}{{"cache=off", false, false}, {"cache=on", true, false}, {"journal", true, true}} {
			b.Run("state="+size.name+"/"+c.name, func(b *testing.B) {
				s := FileStore{Dir: b.TempDir()}
				if c.cache {
					s.Cache = &StateCache{}
				}
				if c.journal {
					s.Replay = func(*State, []byte) error { return nil }
				}
				key := StateKey(h)
				st := state(size.procs, size.calls)
				if err := s.Update(key, func(*State) (*State, error) { return st, nil }); err != nil {
					b.Fatal(err)
				}
				cpu0 := cpuTime()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := s.UpdateBatch(key, rec, func(st *State, _ *Lost) (*State, error) { st.BgSeq++; return st, nil }); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
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

package provenance

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
)

// bgEvent is a background write: enough for finish to emit a graph.
func bgEvent(ms int) event.Event {
	return sc(ms, 100, "write", func(e *event.Event) { e.Path = "/tmp/x"; e.Bytes = 1 })
}

func batchOf(h chunk.Header, evs ...event.Event) event.Batch {
	return event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs}
}

// TestBlindSpotsOnGraphs: every limit the builder and the tracer hit for a
// container comes out on the container's next graph as a BlindSpot, once,
// and a container that hit none has none.
func TestBlindSpotsOnGraphs(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	strace := func(stream string, seq uint64) chunk.Header { return hdr(chunk.KindStrace, stream, seq) }
	cases := []struct {
		name string
		// run applies batches to st and returns the graphs of the last.
		run  func(t *testing.T, st *State) []Graph
		want BlindSpot // zero Kind: no blind spot
	}{
		{"nothing lost", func(t *testing.T, st *State) []Graph {
			b.Apply(st, batchOf(strace("c1-strace-1", 0), bgEvent(0)))
			g, _ := b.Apply(st, batchOf(strace("c1-strace-1", 1), bgEvent(10)))
			return g
		}, BlindSpot{}},
		{"tracer dropped chunks (X-Faasmon-Dropped)", func(t *testing.T, st *State) []Graph {
			h := strace("c1-strace-1", 3)
			h.Dropped, h.DroppedBytes = 3, 421888
			g, _ := b.Apply(st, batchOf(h, bgEvent(0)))
			return g
		}, BlindSpot{Kind: BlindDropped, Stream: "c1-strace-1", Count: 3, Bytes: 421888}},
		{"tracer restarted strace", func(t *testing.T, st *State) []Graph {
			b.Apply(st, batchOf(strace("c1-strace-1", 0), bgEvent(0)))
			g, _ := b.Apply(st, batchOf(strace("c1-strace-2", 0), bgEvent(10)))
			return g
		}, BlindSpot{Kind: BlindRestart, Stream: "c1-strace-2", Count: 1, Detail: "strace"}},
		{"a pcap stream beside strace is no restart", func(t *testing.T, st *State) []Graph {
			b.Apply(st, batchOf(hdr(chunk.KindPcap, "c1-pcap-1", 0)))
			g, _ := b.Apply(st, batchOf(strace("c1-strace-1", 0), bgEvent(10)))
			return g
		}, BlindSpot{}},
		{"processes the tracer could not trace", func(t *testing.T, st *State) []Graph {
			b.Apply(st, batchOf(strace("c1-strace-1", 0), bgEvent(0)))
			h := strace("c1-strace-1", 1)
			h.Untraced = 2
			g, _ := b.Apply(st, batchOf(h, bgEvent(10)))
			return g
		}, BlindSpot{Kind: BlindUntraced, Stream: "c1-strace-1", Count: 2}},
		{"records the sensor lost", func(t *testing.T, st *State) []Graph {
			b.Apply(st, batchOf(strace("c1-strace-1", 0), bgEvent(0)))
			h := strace("c1-strace-1", 1)
			h.Lost = 300
			g, _ := b.Apply(st, batchOf(h, bgEvent(10)))
			return g
		}, BlindSpot{Kind: BlindLost, Stream: "c1-strace-1", Count: 300}},
		{"chunk far ahead refused", func(t *testing.T, st *State) []Graph {
			b.Apply(st, batchOf(strace("c1-strace-1", maxSeqJump+10), bgEvent(0)))
			g, _ := b.Apply(st, batchOf(strace("c1-strace-1", 0), bgEvent(10)))
			return g
		}, BlindSpot{Kind: BlindRefused, Stream: "c1-strace-1", Count: 1}},
		{"open invocations table full", func(t *testing.T, st *State) []Graph {
			var evs []event.Event
			for i := range maxOpenCalls + 2 {
				evs = append(evs, sc(i, 1000+i, "read", func(e *event.Event) {
					e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, fmt.Sprintf("10.62.3.1:%d", 2000+i), 100, fmt.Sprintf("call-%d", i)
				}))
			}
			evs = append(evs, bgEvent(1000))
			g, _ := b.Apply(st, batchOf(strace("c1-strace-1", 0), evs...))
			return g
		}, BlindSpot{Kind: BlindTableFull, Limit: LimitOpenCalls, Max: maxOpenCalls, Count: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := NewState(strace("c1-strace-1", 0))
			gs := c.run(t, st)
			if len(gs) == 0 {
				t.Fatal("no graph emitted")
			}
			for _, g := range gs {
				if c.want.Kind == "" {
					if len(g.Blind) != 0 {
						t.Errorf("graph %s: blind spots %+v, want none", g.ID, g.Blind)
					}
					continue
				}
				if len(g.Blind) != 1 || g.Blind[0] != c.want {
					t.Errorf("graph %s: blind spots %+v, want [%+v]", g.ID, g.Blind, c.want)
				}
				if err := g.Validate(); err != nil {
					t.Error(err)
				}
			}
			// Reported once: the next graph starts clean.
			next, _ := b.Apply(st, batchOf(strace(lastStream(st), st.Streams[lastStream(st)].Next), bgEvent(5000)))
			for _, g := range next {
				if len(g.Blind) != 0 {
					t.Errorf("reported again on %s: %+v", g.ID, g.Blind)
				}
			}
		})
	}
}

// lastStream is the strace stream st saw last (the greatest id).
func lastStream(st *State) string {
	var last string
	for id := range st.Streams {
		if StreamKind(id) == chunk.KindStrace && id > last {
			last = id
		}
	}
	return last
}

// TestStateResetReported: a stored state that is discarded on load (over
// the bound, unreadable) is a blind spot on the next graph, not a silent
// fresh start.
func TestStateResetReported(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "c1-strace-1", 0)
	cases := []struct {
		name    string
		corrupt func(t *testing.T, path string)
		want    string // in Detail; "" no reset
	}{
		{"intact", func(*testing.T, string) {}, ""},
		{"over the bound", func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte(`{"key":"`+strings.Repeat("x", 2048)+`"}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "over the 1024-byte bound"},
		{"unreadable", func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte(`{"key":`), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "unreadable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := FileStore{Dir: t.TempDir(), MaxBytes: 1024}
			apply := func(h chunk.Header) []Graph {
				var out []Graph
				err := fs.UpdateLost(StateKey(h), func(st *State, lost *Lost) (*State, error) {
					if st == nil {
						st = NewState(h)
						if lost != nil {
							st.NoteReset(lost.Reason, lost.OpenCalls)
						}
					}
					g, err := b.Apply(st, batchOf(h, bgEvent(int(h.Seq)*10)))
					out = g
					return st, err
				})
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			apply(h)
			c.corrupt(t, fs.path(StateKey(h)))
			h1 := h
			h1.Seq = 1
			gs := apply(h1)
			if len(gs) != 1 {
				t.Fatalf("%d graphs", len(gs))
			}
			var got []BlindSpot
			for _, b := range gs[0].Blind {
				if b.Kind == BlindStateReset {
					got = append(got, b)
				}
			}
			switch {
			case c.want == "" && len(got) != 0:
				t.Errorf("reset reported on an intact state: %+v", got)
			case c.want != "" && (len(got) != 1 || !strings.Contains(got[0].Detail, c.want)):
				t.Errorf("blind spots %+v, want a state reset saying %q", gs[0].Blind, c.want)
			}
		})
	}
}

// TestForgedCallIDsDoNotHideTheAttack: 256 forged call ids fill the open
// invocations table before the real attack's request; the oldest forged
// ones are emitted to make room, and the attack keeps its own invocation
// graph with its download and exec (issue 14: it went to the background
// window when the table refused new calls).
func TestForgedCallIDsDoNotHideTheAttack(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "c1-strace-1", 0)
	st := NewState(h)
	var evs []event.Event
	for i := range maxOpenCalls {
		evs = append(evs, sc(i, 300, "read", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, fmt.Sprintf("10.62.3.9:%d", 3000+i), 100, fmt.Sprintf("forged-%d", i)
		}))
	}
	evs = append(evs, downloadAndExec("call-attack", 1000)...)
	gs, err := b.Apply(st, batchOf(h, evs...))
	if err != nil {
		t.Fatal(err)
	}
	var attack *Graph
	forged := 0
	for i := range gs {
		if strings.HasPrefix(gs[i].CallID, "forged-") {
			forged++
		}
	}
	attack = attackWithExec(t, gs)
	if forged != 1 {
		t.Errorf("%d forged graphs emitted to make room, want 1 (the oldest)", forged)
	}
	if _, ok := st.Calls["forged-0"]; ok {
		t.Error("the oldest forged call is still open")
	}
	if len(attack.Blind) == 0 || attack.Blind[0].Limit != LimitOpenCalls {
		t.Errorf("the table limit is not reported: %+v", attack.Blind)
	}
}

// TestProcessFloodDoesNotHideTheAttack: 4,096 sleeping processes fill the
// process table before the real attack's request; the idlest is forgotten
// to make room, and the attack keeps its invocation graph with its
// payload's exec (issue 14: the newcomer got a throw-away entry, so its
// call id was lost and its acts went to the background window). The limit
// is reported.
func TestProcessFloodDoesNotHideTheAttack(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "c1-strace-1", 0)
	st := NewState(h)
	var evs []event.Event
	for i := range maxProcs {
		evs = append(evs, sc(0, 50, "clone", func(e *event.Event) { e.Ret = int64(10000 + i) }))
	}
	evs = append(evs, downloadAndExec("call-attack", 1000)...)
	gs, err := b.Apply(st, batchOf(h, evs...))
	if err != nil {
		t.Fatal(err)
	}
	attackWithExec(t, gs)
	if len(st.Procs) > maxProcs {
		t.Errorf("process table holds %d, bound %d", len(st.Procs), maxProcs)
	}
	if _, ok := st.Procs[10000]; ok {
		t.Error("the idlest sleeper (the first forked) is still in the table")
	}
	if _, ok := st.Procs[50]; !ok {
		t.Error("the parent that forked last, the most recent actor among the old, was forgotten")
	}
	var reported bool
	for _, g := range gs {
		for _, bs := range g.Blind {
			reported = reported || bs.Limit == LimitProcs
		}
	}
	if !reported {
		t.Error("the table limit is not reported")
	}
}

// TestThreadTableBounded: threads that never exit do not grow the state
// without end; the limit is reported.
func TestThreadTableBounded(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "c1-strace-1", 0)
	st := NewState(h)
	var evs []event.Event
	for i := range maxProcs + 10 {
		evs = append(evs, sc(0, 50, "clone", func(e *event.Event) { e.Ret, e.Thread = int64(10000+i), true }))
	}
	evs = append(evs, bgEvent(10))
	gs, err := b.Apply(st, batchOf(h, evs...))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Threads) > maxProcs {
		t.Errorf("thread table holds %d, bound %d", len(st.Threads), maxProcs)
	}
	var reported bool
	for _, g := range gs {
		for _, bs := range g.Blind {
			reported = reported || bs.Limit == LimitProcs && bs.Count == 10
		}
	}
	if !reported {
		t.Errorf("the table limit is not reported (10 threads unmapped)")
	}
}

// attackWithExec is the invocation graph of "call-attack" (downloadAndExec)
// among gs, which must hold its payload's exec.
func attackWithExec(t *testing.T, gs []Graph) *Graph {
	t.Helper()
	var attack *Graph
	for i := range gs {
		if gs[i].CallID == "call-attack" {
			attack = &gs[i]
		}
	}
	if attack == nil {
		t.Fatalf("no invocation graph of the attack among %d graphs", len(gs))
	}
	for _, e := range attack.Edges {
		if e.Kind == EdgeExecve && strings.Contains(attack.Nodes[e.Src].Label, "p.sh") {
			return attack
		}
	}
	t.Error("the attack's graph lacks the payload's exec")
	return attack
}

package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/alert"
	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/heartbeat"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/hopauth/hoptest"
	"github.com/faasmon/faasmon/pkg/invoke"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// forwarder stands for classify's queue: it refuses while down, and
// records what it took.
type forwarder struct {
	mu   sync.Mutex
	down bool
	got  map[string]int
}

func (f *forwarder) send(_ context.Context, g *provenance.Graph) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("gateway answered 502")
	}
	f.got[g.ID]++
	return nil
}

func invocationBatch(t0 time.Time, seq uint64, call string) []byte {
	h := chunk.Header{Node: "n", Function: "f", Container: "c", PID: 7, Kind: chunk.KindStrace, Stream: "c-strace-1", Seq: seq, Start: t0, End: t0}
	conn := func(e event.Event) event.Event {
		e.Kind, e.PID, e.Time, e.Proto, e.Local, e.Remote = event.KindSyscall, 7, t0, "TCP", "10.62.1.2:8080", "10.62.1.1:40000"
		return e
	}
	b, _ := json.Marshal(event.Batch{Version: event.SchemaVersion, Chunk: h, Events: []event.Event{
		conn(event.Event{Syscall: "read", Bytes: 100, CallID: call}),
		{Kind: event.KindSyscall, PID: 7, Time: t0, Syscall: "openat", Path: "/etc/passwd"},
		conn(event.Event{Syscall: "write", Bytes: 50}),
	}})
	return b
}

func post(t *testing.T, body []byte) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	hoptest.Sign(req.Header, hopauth.KindEvents, body, hoptest.Good)
	Handle(rec, req)
	return rec.Code, rec.Body.String()
}

// TestForwardSurvivesFailureAndRestart: a graph whose forward fails is not
// lost with the batch that made it (the old handler stored the state, then
// answered 502, and the graph was gone): it waits in the outbox, and a
// later sweep, by this process or a restarted one, forwards it exactly
// once; a full outbox refuses the batch without storing its state.
func TestForwardSurvivesFailureAndRestart(t *testing.T) {
	fnhttp.DefaultHop.Keys = hoptest.Source()
	oldNext, oldOutbox := next, outbox
	defer func() { next, outbox = oldNext, oldOutbox }()
	next = "faasmon-classify"
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		down      bool // classify's queue refuses during the call
		max       int
		status    int
		inOutbox  int // files after the call
		forwarded int // graphs classify got once, at the call or by a restarted process
	}{
		{"forward works: nothing left", false, 100, 202, 0, 1},
		{"forward fails: kept, then swept after a restart", true, 100, 202, 1, 1},
		{"outbox full: batch refused, state not stored", true, 1, 503, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			store = journaled(dir)
			nodes = heartbeat.Tracker{Dir: t.TempDir()}
			f := &forwarder{down: c.down, got: map[string]int{}}
			outbox = pending{Dir: dir + "/outbox", Max: c.max, Send: f.send}
			if c.status == 503 {
				// One graph already waits.
				if code, body := post(t, invocationBatch(t0, 0, "first")); code != 202 {
					t.Fatalf("first batch: %d %s", code, body)
				}
			}
			code, body := post(t, invocationBatch(t0, 1, "abc"))
			if code != c.status {
				t.Fatalf("status %d %s, want %d", code, body, c.status)
			}
			ents, _ := os.ReadDir(outbox.Dir)
			if len(ents) != c.inOutbox {
				t.Fatalf("%d files in the outbox, want %d", len(ents), c.inOutbox)
			}
			for _, e := range ents {
				if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v", e.Name(), fi.Mode())
				}
			}
			// A restarted process: a new outbox value, classify back.
			f.down = false
			restarted := pending{Dir: outbox.Dir, Max: c.max, Send: f.send}
			var wg sync.WaitGroup
			for range 3 { // three replicas sweep at once
				wg.Go(func() { restarted.sweep(context.Background(), time.Now().Add(time.Minute)) })
			}
			wg.Wait()
			total := 0
			for id, n := range f.got {
				if n != 1 {
					t.Errorf("%s forwarded %d times", id, n)
				}
				total += n
			}
			if total != c.forwarded {
				t.Errorf("%d graphs forwarded, want %d (%v)", total, c.forwarded, f.got)
			}
			if ents, _ := os.ReadDir(outbox.Dir); len(ents) != 0 {
				t.Errorf("%d files left after the sweep", len(ents))
			}
			if c.status == 503 {
				// The refused batch was not recorded as applied: sent
				// again, it is applied, not skipped as a duplicate.
				outbox.Max = 100
				code, body := post(t, invocationBatch(t0, 1, "abc"))
				if code != 202 || bytes.Contains([]byte(body), []byte(`"duplicate":true`)) {
					t.Errorf("redelivered batch: %d %s", code, body)
				}
			}
		})
	}
}

// TestSilenceAlert: a node heard of and then silent past the bound is one
// blind-spot verdict, which faasmon-alert's processor raises as a Warning
// "faasmon blind spot" alert; heard again, one Notice; never an attack.
func TestSilenceAlert(t *testing.T) {
	fnhttp.DefaultHop.Keys = hoptest.Source()
	oldNext := next
	defer func() { next = oldNext }()
	next = ""
	store = provenance.FileStore{Dir: t.TempDir()}
	nodes = heartbeat.Tracker{Dir: t.TempDir()}
	var sent []*verdict.Verdict
	w := watcher{Nodes: nodes, After: time.Minute, Send: func(_ context.Context, v *verdict.Verdict) error {
		sent = append(sent, v)
		return nil
	}}
	// The tracer's heartbeat through the handler.
	h, hb := heartbeat.Chunk("node-3", 9, time.Now(), 0, time.Now())
	b, _ := json.Marshal(event.Batch{Version: event.SchemaVersion, Chunk: h})
	if code, body := post(t, b); code != 202 {
		t.Fatalf("heartbeat: %d %s (%s)", code, body, hb)
	}
	now := time.Now()
	var out bytes.Buffer
	p := &alert.Processor{Dedupe: alert.NewMemoryDedupe(0), Fanout: &alert.Fanout{Sinks: []alert.Sink{&alert.WriterSink{W: &out}}}, Stats: &alert.Stats{}}
	steps := []struct {
		at       time.Duration
		beat     bool
		rule     string // "" no verdict
		priority string
	}{
		{30 * time.Second, false, "", ""},
		{61 * time.Second, false, verdict.BlindSilent, "Warning"},
		{90 * time.Second, false, "", ""},
		{100 * time.Second, true, verdict.BlindBack, "Notice"},
		{110 * time.Second, false, "", ""},
	}
	for i, s := range steps {
		if s.beat {
			nodes.Seen("node-3", now.Add(s.at))
		}
		sent = nil
		w.check(context.Background(), now.Add(s.at))
		if s.rule == "" {
			if len(sent) != 0 {
				t.Errorf("step %d: %d verdicts, want none", i, len(sent))
			}
			continue
		}
		if len(sent) != 1 {
			t.Fatalf("step %d: %d verdicts, want 1", i, len(sent))
		}
		v := sent[0]
		if v.Verdict != verdict.Benign || !v.Alerting() || len(v.Findings) != 1 || v.Findings[0].Rule != s.rule || v.Node != "node-3" {
			t.Errorf("step %d: verdict %+v", i, v)
		}
		out.Reset()
		res, err := p.Process(context.Background(), *v)
		if err != nil || res.Outcome != alert.OutcomeAlerted {
			t.Fatalf("step %d: %v %v", i, res.Outcome, err)
		}
		var a alert.Alert
		if err := json.Unmarshal(out.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		if a.Rule != "faasmon blind spot: "+s.rule || a.Priority != s.priority || a.Node != "node-3" {
			t.Errorf("step %d: alert %s %s on %s", i, a.Rule, a.Priority, a.Node)
		}
		t.Logf("%s %s: %s", a.Priority, a.Rule, v.Findings[0].Text)
	}
}

// TestRefusedGraphIsABlindSpot: a graph classify's queue refuses for good
// (too big) is dropped from the outbox, not retried for ever, and the
// container's next graph says it got no verdict.
func TestRefusedGraphIsABlindSpot(t *testing.T) {
	fnhttp.DefaultHop.Keys = hoptest.Source()
	oldNext, oldOutbox := next, outbox
	defer func() { next, outbox = oldNext, oldOutbox }()
	next = "faasmon-classify"
	dir := t.TempDir()
	store = provenance.FileStore{Dir: dir}
	nodes = heartbeat.Tracker{Dir: t.TempDir()}
	var got []*provenance.Graph
	refuse := true
	outbox = pending{Dir: dir + "/outbox", Max: 100, Send: func(_ context.Context, g *provenance.Graph) error {
		if refuse {
			return &invoke.StatusError{Function: "faasmon-classify", Status: 413, Body: "request body too large"}
		}
		got = append(got, g)
		return nil
	}}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if code, body := post(t, invocationBatch(t0, 0, "big")); code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	if ents, _ := os.ReadDir(outbox.Dir); len(ents) != 0 {
		t.Errorf("%d files kept for a graph refused for good", len(ents))
	}
	refuse = false
	if code, body := post(t, invocationBatch(t0.Add(time.Second), 1, "next")); code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	if len(got) != 1 || len(got[0].Blind) != 1 || got[0].Blind[0].Kind != provenance.BlindQueueLimit || got[0].Blind[0].Stream != "openfaas-fn.f.c/big" {
		t.Fatalf("next graph: %+v", got)
	}
}

// TestSweepReclaimsAbandonedClaims: a replica killed while forwarding a
// graph leaves it claimed; after claimAge another replica takes it back
// and forwards it, and a fresh claim is left to its owner.
func TestSweepReclaimsAbandonedClaims(t *testing.T) {
	dir := t.TempDir()
	f := &forwarder{got: map[string]int{}}
	p := pending{Dir: dir, Max: 10, Send: f.send}
	g := provenance.Graph{Version: provenance.SchemaVersion, ID: "ns.f.c/abandoned", Function: "f", Window: provenance.WindowInvocation, Nodes: []provenance.Node{}, Edges: []provenance.Edge{}}
	if err := p.put([]provenance.Graph{g}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claim := p.path(g.ID) + ".claim-dead"
	if err := os.Rename(p.path(g.ID), claim); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		at   time.Duration
		sent int
	}{
		{time.Minute, 0},                       // claimed a minute ago: its owner may be sending it
		{claimAge + time.Second, 0},            // abandoned: released...
		{claimAge + sweepAge + time.Minute, 1}, // ...and forwarded by the next sweep
	} {
		os.Chtimes(claim, now, now)
		if _, err := os.Stat(p.path(g.ID)); err == nil {
			os.Chtimes(p.path(g.ID), now, now)
		}
		p.sweep(context.Background(), now.Add(s.at))
		if f.got[g.ID] != s.sent {
			t.Fatalf("after %v: forwarded %d times, want %d", s.at, f.got[g.ID], s.sent)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%d files left", len(ents))
	}
}

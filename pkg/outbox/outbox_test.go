package outbox

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/stantest"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/hopauth/hoptest"
	"github.com/faasmon/faasmon/pkg/streaming"
	"github.com/faasmon/faasmon/pkg/verdict"
)

func attack(id string) *verdict.Verdict {
	return &verdict.Verdict{GraphID: id, Function: "fn", Verdict: verdict.Attack, Score: 0.99, Threshold: 0.5, ModelVersion: "test"}
}

// handled collects entries by graph id, as a consumer's Handle.
type handled struct {
	mu  sync.Mutex
	got map[string][]Entry
	ch  chan Entry
}

func newHandled() *handled { return &handled{got: map[string][]Entry{}, ch: make(chan Entry, 64)} }

func (h *handled) handle(_ context.Context, e Entry) error {
	h.mu.Lock()
	h.got[e.Verdict.GraphID] = append(h.got[e.Verdict.GraphID], e)
	h.mu.Unlock()
	h.ch <- e
	return nil
}

func (h *handled) wait(t *testing.T, n int, within time.Duration) []Entry {
	t.Helper()
	var out []Entry
	deadline := time.After(within)
	for len(out) < n {
		select {
		case e := <-h.ch:
			out = append(out, e)
		case <-deadline:
			t.Fatalf("%d of %d entries handled within %v", len(out), n, within)
		}
	}
	return out
}

func run(t *testing.T, c *Consumer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; c.Client.Close() })
}

// Only attack verdicts go in; the consumer waits out the grace period and
// acknowledges, so a second consumer of the group gets nothing again.
func TestPublishConsume(t *testing.T) {
	url := stantest.Start(t, streaming.DefaultCluster)
	pub := &Publisher{Client: &streaming.Client{URL: url}, Stats: &Stats{}}
	defer pub.Client.Close()
	ctx := context.Background()
	benign := attack("g-benign")
	benign.Verdict = verdict.Benign
	for _, v := range []*verdict.Verdict{attack("g-1"), benign, attack("g-2")} {
		if err := pub.Put(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if n := pub.Stats.Published.Load(); n != 2 {
		t.Errorf("published %d, want 2 (benign verdicts stay out)", n)
	}

	h := newHandled()
	st := &Stats{}
	c := &Consumer{Client: &streaming.Client{URL: url}, Grace: 300 * time.Millisecond, Handle: h.handle, Stats: st}
	run(t, c)
	got := h.wait(t, 2, 10*time.Second)
	for _, e := range got {
		if age := time.Since(e.Published); age < 300*time.Millisecond {
			t.Errorf("entry %s handled %v after publication, before the grace period", e.Verdict.GraphID, age)
		}
	}
	if got[0].Verdict.GraphID != "g-1" || got[1].Verdict.GraphID != "g-2" {
		t.Errorf("order: %s, %s", got[0].Verdict.GraphID, got[1].Verdict.GraphID)
	}
	time.Sleep(200 * time.Millisecond) // let the acks reach the server
	if s := st.Snapshot(); s.Handled != 2 || s.Redelivered != 0 {
		t.Errorf("stats %+v", s)
	}

}

// A verdict whose graph would pass the server's payload limit goes without
// its graph (counted); the rest of it arrives.
func TestBigGraphDropped(t *testing.T) {
	url := stantest.Start(t, streaming.DefaultCluster)
	pub := &Publisher{Client: &streaming.Client{URL: url}, Stats: &Stats{}}
	defer pub.Client.Close()
	big := attack("g-big")
	big.Graph = &provenance.Graph{Nodes: []provenance.Node{{Label: strings.Repeat("x", MaxEntryBytes)}}}
	if err := pub.Put(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	if n := pub.Stats.GraphsDropped.Load(); n != 1 {
		t.Errorf("graphs dropped %d, want 1", n)
	}
	if big.Graph == nil {
		t.Error("Put changed the caller's verdict")
	}
	h := newHandled()
	run(t, &Consumer{Client: &streaming.Client{URL: url}, Grace: time.Millisecond, Handle: h.handle})
	if e := h.wait(t, 1, 10*time.Second)[0]; e.Verdict.GraphID != "g-big" || e.Verdict.Graph != nil {
		t.Errorf("got %+v", e.Verdict)
	}
}

// A consumer that takes an entry and dies before acknowledging it (its
// Handle never returns, as in a process killed mid-alert) loses nothing: the
// server redelivers the entry to another member of the durable group after
// AckWait. A Handle that fails leaves its entry for redelivery too.
func TestRedeliveryAfterStuckOrFailedConsumer(t *testing.T) {
	url := stantest.Start(t, streaming.DefaultCluster)
	pub := &Publisher{Client: &streaming.Client{URL: url}}
	defer pub.Client.Close()

	stuck := make(chan Entry, 4)
	release := make(chan struct{})
	defer close(release)
	dead := &Consumer{Client: &streaming.Client{URL: url}, Grace: time.Millisecond, AckWait: time.Second,
		Handle: func(ctx context.Context, e Entry) error {
			stuck <- e
			select {
			case <-release:
			case <-ctx.Done():
			}
			return errors.New("killed")
		}}
	run(t, dead)
	// Wait until the dead consumer is subscribed before publishing.
	time.Sleep(300 * time.Millisecond)
	if err := pub.Put(context.Background(), attack("g-stuck")); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-stuck:
		if e.Redelivered {
			t.Error("first delivery marked redelivered")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first consumer got nothing")
	}

	h := newHandled()
	st := &Stats{}
	alive := &Consumer{Client: &streaming.Client{URL: url}, Grace: time.Millisecond, AckWait: time.Second, Handle: h.handle, Stats: st}
	run(t, alive)
	e := h.wait(t, 1, 10*time.Second)[0]
	if e.Verdict.GraphID != "g-stuck" || !e.Redelivered {
		t.Errorf("got %+v, want g-stuck redelivered", e)
	}
	if st.Redelivered.Load() != 1 {
		t.Errorf("redelivered %d, want 1", st.Redelivered.Load())
	}

	// Handle failing: the same consumer gets the entry again after AckWait.
	var mu sync.Mutex
	tries := 0
	h2 := newHandled()
	flaky := &Consumer{Client: &streaming.Client{URL: url}, Channel: "faasmon-outbox-flaky", Grace: time.Millisecond, AckWait: time.Second, Stats: &Stats{},
		Handle: func(ctx context.Context, e Entry) error {
			mu.Lock()
			tries++
			n := tries
			mu.Unlock()
			if n == 1 {
				return errors.New("no sink reached")
			}
			return h2.handle(ctx, e)
		}}
	run(t, flaky)
	time.Sleep(300 * time.Millisecond)
	p2 := &Publisher{Client: pub.Client, Channel: "faasmon-outbox-flaky"}
	if err := p2.Put(context.Background(), attack("g-flaky")); err != nil {
		t.Fatal(err)
	}
	if e := h2.wait(t, 1, 10*time.Second)[0]; !e.Redelivered {
		t.Errorf("second try not marked redelivered: %+v", e)
	}
	if n := flaky.Stats.HandleErrs.Load(); n != 1 {
		t.Errorf("handle errors %d, want 1", n)
	}
}

// Poison and stale entries are acknowledged and counted, never retried
// forever; they do not stop the entries behind them.
func TestInvalidAndExpired(t *testing.T) {
	url := stantest.Start(t, streaming.DefaultCluster)
	cl := &streaming.Client{URL: url}
	defer cl.Close()
	h := newHandled()
	st := &Stats{}
	c := &Consumer{Client: &streaming.Client{URL: url}, Grace: time.Millisecond, MaxAge: time.Hour, Handle: h.handle, Stats: st}
	run(t, c)
	time.Sleep(300 * time.Millisecond)
	for _, m := range []string{`not json`, `{"verdict":"attack"}`, `{"graph_id":"g-ok","verdict":"attack"}`} {
		if err := cl.Publish(context.Background(), streaming.OutboxChannel, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if e := h.wait(t, 1, 10*time.Second)[0]; e.Verdict.GraphID != "g-ok" {
		t.Errorf("handled %s", e.Verdict.GraphID)
	}
	if n := st.Invalid.Load(); n != 2 {
		t.Errorf("invalid %d, want 2", n)
	}
	// A consumer for which every entry is too old.
	old := &Consumer{Client: &streaming.Client{URL: url}, Channel: "faasmon-outbox-old", Grace: time.Millisecond, MaxAge: time.Nanosecond, Handle: h.handle, Stats: st}
	run(t, old)
	time.Sleep(300 * time.Millisecond)
	if err := cl.Publish(context.Background(), old.Channel, []byte(`{"graph_id":"g-old","verdict":"attack"}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st.Expired.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st.Expired.Load() != 1 {
		t.Errorf("expired %d, want 1", st.Expired.Load())
	}
}

// With keys, only entries sealed by the publisher's key are handled: NATS
// has no auth, so anyone on its network can publish a bare verdict, or an
// envelope signed with a retired key or altered on the way.
func TestSignedEntries(t *testing.T) {
	url := stantest.Start(t, streaming.DefaultCluster)
	pub := &Publisher{Client: &streaming.Client{URL: url}, Stats: &Stats{}, Keys: hoptest.Source()}
	defer pub.Client.Close()
	h := newHandled()
	st := &Stats{}
	c := &Consumer{Client: &streaming.Client{URL: url}, Grace: time.Millisecond, Handle: h.handle, Stats: st, Keys: hoptest.Source()}
	run(t, c)
	time.Sleep(300 * time.Millisecond)
	ctx := context.Background()
	if err := pub.Put(ctx, attack("g-1")); err != nil {
		t.Fatal(err)
	}
	retired, err := hopauth.NewKeyring(hoptest.Retired).Seal(hopauth.KindVerdict, []byte(`{"graph_id":"g-retired","verdict":"attack"}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	good, err := hoptest.Keys.Seal(hopauth.KindVerdict, []byte(`{"graph_id":"g-x","verdict":"attack"}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	altered := []byte(strings.Replace(string(good), "g-x", "g-altered", 1))
	for _, m := range [][]byte{[]byte(`{"graph_id":"g-forged","verdict":"attack"}`), retired, altered} {
		if err := pub.Client.Publish(ctx, streaming.OutboxChannel, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Put(ctx, attack("g-2")); err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, 2, 10*time.Second)
	if got[0].Verdict.GraphID != "g-1" || got[1].Verdict.GraphID != "g-2" {
		t.Errorf("handled %s, %s; want g-1, g-2", got[0].Verdict.GraphID, got[1].Verdict.GraphID)
	}
	if n := st.Refused.Load(); n != 3 {
		t.Errorf("refused %d, want 3", n)
	}
}

func TestConsumerNeedsHandle(t *testing.T) {
	if err := (&Consumer{}).Run(context.Background()); err == nil {
		t.Error("Run without Client and Handle succeeded")
	}
}

// TestBlindSpotsGoIn: a benign verdict is alert material when it carries a
// blind-spot finding (pkg/verdict's contract), so it goes in the outbox;
// one without stays out.
func TestBlindSpotsGoIn(t *testing.T) {
	url := stantest.Start(t, streaming.DefaultCluster)
	pub := &Publisher{Client: &streaming.Client{URL: url}, Stats: &Stats{}}
	defer pub.Client.Close()
	blind := attack("g-blind")
	blind.Verdict = verdict.Benign
	blind.Findings = []verdict.Finding{{Part: verdict.PartBlindSpot, Rule: verdict.BlindGap, Severity: "warning", Text: "strace lost chunk 4 of stream s (sequence gap)"}}
	plain := attack("g-plain")
	plain.Verdict = verdict.Benign
	for _, tc := range []struct {
		v    *verdict.Verdict
		want uint64
	}{{plain, 0}, {blind, 1}, {attack("g-attack"), 2}} {
		if err := pub.Put(context.Background(), tc.v); err != nil {
			t.Fatal(err)
		}
		if n := pub.Stats.Published.Load(); n != tc.want {
			t.Errorf("after %s: %d published, want %d", tc.v.GraphID, n, tc.want)
		}
	}
	h := newHandled()
	run(t, &Consumer{Client: &streaming.Client{URL: url}, Grace: time.Millisecond, Handle: h.handle})
	got := h.wait(t, 2, 10*time.Second)
	if got[0].Verdict.GraphID != "g-blind" || len(got[0].Verdict.BlindSpots()) != 1 {
		t.Errorf("first entry %+v", got[0].Verdict)
	}
}

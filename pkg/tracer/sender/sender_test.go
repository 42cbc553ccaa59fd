package sender

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

type gateway struct {
	mu       sync.Mutex
	got      []chunk.Header
	bodies   [][]byte
	fail     atomic.Int64 // answer 503 to this many more requests
	requests atomic.Int64
	t        *testing.T
	sync     bool // the tracer calls /function/, not /async-function/
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.requests.Add(1)
	want := "/async-function/faasmon-parse.openfaas-fn"
	if g.sync {
		want = "/function/faasmon-parse.openfaas-fn"
	}
	if r.URL.Path != want {
		g.t.Errorf("path %s", r.URL.Path)
	}
	// The gateway's admin password must never ride on /async-function
	// (the queue-worker logs queued headers); the chunk's MAC is checked
	// as faasmon-parse checks it.
	if r.Header.Get("Authorization") != "" {
		g.t.Errorf("Authorization header on /async-function")
	}
	b, _ := io.ReadAll(r.Body)
	if err := testKeys.Verify(hopauth.KindChunk, r.Header, b, time.Now(), 0); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		g.t.Errorf("chunk MAC: %v", err)
		return
	}
	if g.fail.Add(-1) >= 0 {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	h, err := chunk.Parse(r.Header)
	if err != nil {
		g.t.Errorf("header: %v", err)
	}
	g.mu.Lock()
	g.got = append(g.got, h)
	g.bodies = append(g.bodies, b)
	g.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

var testKeys = hopauth.NewKeyring(hopauth.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")})

func secretDir(t *testing.T) string {
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, hopauth.SecretName), []byte("k1:0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

func mk(stream string, seq uint64, size int) chunker.Chunk {
	return chunker.Chunk{Header: chunk.Header{Node: "n", Function: "f", Container: "c", PID: 1, Kind: chunk.KindStrace,
		Stream: stream, Seq: seq, Start: time.Unix(1, 0), End: time.Unix(2, 0)}, Body: make([]byte, size)}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// 5xx then recovery: every chunk arrives once, in order, retries are
// counted exactly, nothing is dropped.
func TestRetryThenRecover(t *testing.T) {
	g := &gateway{t: t}
	g.fail.Store(4)
	srv := httptest.NewServer(g)
	defer srv.Close()
	m := metrics.New()
	s, err := New(Config{Gateway: srv.URL, SecretDir: secretDir(t), Workers: 1, BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond}, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	start := time.Now()
	for i := 0; i < 10; i++ {
		s.Enqueue(mk("s1", uint64(i), 100))
	}
	waitFor(t, "10 chunks", func() bool { return metrics.Value(m.ChunksSent.WithLabelValues("strace")) == 10 })
	// Backoff 5+10+20+20 ms at least.
	if el := time.Since(start); el < 55*time.Millisecond {
		t.Errorf("4 failures took only %v: no backoff?", el)
	}
	if r := metrics.Value(m.Retries); r != 4 {
		t.Errorf("retries = %v, want 4", r)
	}
	if d := metrics.Value(m.ChunksDropped.WithLabelValues(metrics.ReasonQueueFull)); d != 0 {
		t.Errorf("dropped = %v", d)
	}
	if b := metrics.Value(m.BytesSent.WithLabelValues("strace")); b != 1000 {
		t.Errorf("bytes sent = %v", b)
	}
	g.mu.Lock()
	for i, h := range g.got {
		if h.Seq != uint64(i) || h.Dropped != 0 {
			t.Errorf("arrival %d: seq %d dropped %d", i, h.Seq, h.Dropped)
		}
	}
	g.mu.Unlock()
	s.Close()
	<-done
}

// Queue full while the gateway is down: the oldest go, the counters say
// exactly which, and the next chunk of each stream carries the gap.
func TestDropOldest(t *testing.T) {
	g := &gateway{t: t}
	srv := httptest.NewServer(g)
	defer srv.Close()
	m := metrics.New()
	const size = 10000
	// Room for exactly 5 chunks (the bound counts per-chunk overhead).
	s, err := New(Config{Gateway: srv.URL, SecretDir: secretDir(t), Workers: 1, QueueBytes: chunk.MaxBytes + overhead}, m)
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.QueueBytes = 5 * (size + overhead)
	// Interleave two streams; sender not running yet = gateway unreachable.
	for i := 0; i < 12; i++ {
		s.Enqueue(mk("a", uint64(i), size))
		s.Enqueue(mk("b", uint64(i), size))
	}
	if d := metrics.Value(m.ChunksDropped.WithLabelValues(metrics.ReasonQueueFull)); d != 19 {
		t.Fatalf("dropped chunks = %v, want 19", d)
	}
	if d := metrics.Value(m.BytesDropped.WithLabelValues(metrics.ReasonQueueFull)); d != 19*size {
		t.Fatalf("dropped bytes = %v, want %d", d, 19*size)
	}
	if q := metrics.Value(m.QueueChunks); q != 5 {
		t.Fatalf("queued = %v", q)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, "5 chunks", func() bool { return metrics.Value(m.ChunksSent.WithLabelValues("strace")) == 5 })
	s.Close()
	<-done
	// Kept: the 5 newest = b9, a10, b10, a11, b11. a lost 0..9 (10), b 0..8 (9).
	want := []struct {
		stream       string
		seq, dropped uint64
	}{{"b", 9, 9}, {"a", 10, 10}, {"b", 10, 0}, {"a", 11, 0}, {"b", 11, 0}}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.got) != len(want) {
		t.Fatalf("got %d chunks", len(g.got))
	}
	for i, w := range want {
		h := g.got[i]
		if h.Stream != w.stream || h.Seq != w.seq || h.Dropped != w.dropped {
			t.Errorf("arrival %d = %s/%d dropped %d, want %s/%d dropped %d", i, h.Stream, h.Seq, h.Dropped, w.stream, w.seq, w.dropped)
		}
		// Their size too, for the blind-spot alert's words.
		if h.DroppedBytes != w.dropped*size {
			t.Errorf("arrival %d: %d dropped bytes, want %d", i, h.DroppedBytes, w.dropped*size)
		}
	}
}

// Down long enough to overflow while a chunk is in retry: the failing chunk
// goes back to the front, is the first dropped, and the stamp survives.
func TestOutageOverflowThenRecover(t *testing.T) {
	g := &gateway{t: t}
	g.fail.Store(1 << 40)
	srv := httptest.NewServer(g)
	defer srv.Close()
	m := metrics.New()
	s, err := New(Config{Gateway: srv.URL, SecretDir: secretDir(t), Workers: 2, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, m)
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.QueueBytes = 4 * (1000 + overhead)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	const n = 40
	for i := 0; i < n; i++ {
		s.Enqueue(mk("s", uint64(i), 1000))
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "retries", func() bool { return metrics.Value(m.Retries) >= 5 })
	g.fail.Store(0) // gateway back
	waitFor(t, "queue drained", func() bool {
		return metrics.Value(m.ChunksSent.WithLabelValues("strace"))+metrics.Value(m.ChunksDropped.WithLabelValues(metrics.ReasonQueueFull)) == n
	})
	s.Close()
	<-done
	sent := metrics.Value(m.ChunksSent.WithLabelValues("strace"))
	dropped := metrics.Value(m.ChunksDropped.WithLabelValues(metrics.ReasonQueueFull))
	g.mu.Lock()
	defer g.mu.Unlock()
	// Exactly what was lost: the seq gaps at the receiver = the stamps = the counter.
	var stamped uint64
	seen := map[uint64]bool{}
	for _, h := range g.got {
		stamped += h.Dropped
		seen[h.Seq] = true
	}
	if float64(len(g.got)) != sent || float64(stamped) != dropped || int(sent)+int(dropped) != n || len(seen) != len(g.got) {
		t.Fatalf("received %d (sent metric %v), stamped drops %d, dropped metric %v, n %d", len(g.got), sent, stamped, dropped, n)
	}
	if !seen[n-1] {
		t.Error("the newest chunk was not delivered")
	}
	t.Logf("sent %v dropped %v retries %v", sent, dropped, metrics.Value(m.Retries))
}

func TestRejectedAndConfig(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too big", http.StatusRequestEntityTooLarge)
	}))
	defer srv.Close()
	m := metrics.New()
	s, err := New(Config{Gateway: srv.URL}, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	s.Enqueue(mk("s", 0, 77))
	waitFor(t, "rejection", func() bool { return metrics.Value(m.BytesDropped.WithLabelValues(metrics.ReasonRejected)) == 77 })
	if r := metrics.Value(m.Retries); r != 0 {
		t.Errorf("a 413 was retried %v times", r)
	}
	s.Close()
	<-done
	if _, err := New(Config{Gateway: "not a url"}, m); err == nil {
		t.Error("bad gateway URL accepted")
	}
	if err := CheckKeys(t.TempDir()); err == nil {
		t.Error("missing hop key accepted")
	}
	_ = strconv.Itoa
}

// A refused chunk that carried the count of the drops before it hands that
// count on, with itself added: the next chunk of the stream tells the whole
// gap (seqs 0–3 missing → Dropped 4 on seq 4).
func TestRejectedCarriesDrops(t *testing.T) {
	var mu sync.Mutex
	var got []chunk.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := chunk.Parse(r.Header)
		if err != nil {
			t.Errorf("header: %v", err)
		}
		if h.Seq == 3 {
			http.Error(w, "too big", http.StatusRequestEntityTooLarge)
			return
		}
		mu.Lock()
		got = append(got, h)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	s, err := New(Config{Gateway: srv.URL, Workers: 1}, metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.dropped["s"] = 3 // seqs 0–2 dropped for a full queue
	s.mu.Unlock()
	s.Enqueue(mk("s", 3, 10))
	s.Enqueue(mk("s", 4, 10))
	s.Close()
	s.Run(context.Background())
	if len(got) != 1 || got[0].Seq != 4 || got[0].Dropped != 4 {
		t.Fatalf("delivered %+v, want seq 4 carrying 4 dropped", got)
	}
}

// Two workers whose chunks of one stream failed together put them back in
// stream order, whichever comes back first.
func TestRequeueKeepsStreamOrder(t *testing.T) {
	s, err := New(Config{Gateway: "http://127.0.0.1:1"}, metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue(mk("other", 0, 10))
	s.requeue(mk("s", 1, 10))
	s.requeue(mk("s", 0, 10))
	var got []string
	for e := s.queue.Front(); e != nil; e = e.Next() {
		c := e.Value.(chunker.Chunk)
		got = append(got, c.Header.Stream+strconv.Itoa(int(c.Header.Seq)))
	}
	if want := "[s0 s1 other0]"; fmt.Sprint(got) != want {
		t.Errorf("queue %v, want %s", got, want)
	}
}

// TestFairDrop: a noisy container floods a full queue; the quiet one's
// chunks, though older than most of the flood, stay, and the drops come
// out of the flood's own oldest chunks. Dropping the oldest chunk whoever's
// it was lost the victim's attack chunk (issue 14).
func TestFairDrop(t *testing.T) {
	m := metrics.New()
	const size = 10000
	s, err := New(Config{Gateway: "http://127.0.0.1:1", SecretDir: secretDir(t), Workers: 1, QueueBytes: chunk.MaxBytes + overhead}, m)
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.QueueBytes = 6 * (size + overhead)
	in := func(cont, stream string, seq uint64) chunker.Chunk {
		c := mk(stream, seq, size)
		c.Header.Container = cont
		return c
	}
	s.Enqueue(in("noisy", "n", 0))
	s.Enqueue(in("victim", "v", 0)) // the attack chunk
	s.Enqueue(in("victim", "v", 1))
	for i := uint64(1); i < 40; i++ {
		s.Enqueue(in("noisy", "n", i))
	}
	s.mu.Lock()
	var kept []string
	for e := s.queue.Front(); e != nil; e = e.Next() {
		c := e.Value.(chunker.Chunk)
		kept = append(kept, fmt.Sprintf("%s/%d", c.Header.Stream, c.Header.Seq))
	}
	bytes, conts := s.bytes, len(s.contBytes)
	s.mu.Unlock()
	// The victim's two chunks, and the noisy container's four newest.
	want := []string{"v/0", "v/1", "n/36", "n/37", "n/38", "n/39"}
	if !slices.Equal(kept, want) {
		t.Fatalf("kept %v, want %v", kept, want)
	}
	if d := metrics.Value(m.ChunksDropped.WithLabelValues(metrics.ReasonQueueFull)); d != 36 {
		t.Errorf("dropped %v chunks, want the noisy container's 36", d)
	}
	if bytes != 6*(size+overhead) || conts != 2 {
		t.Errorf("accounting: %d bytes in %d containers", bytes, conts)
	}
}

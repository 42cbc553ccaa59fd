package tracer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/internal/dev/proctest"
	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/provider"
	"github.com/faasmon/faasmon/pkg/tracer"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	stracebe "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
	"github.com/faasmon/faasmon/pkg/tracer/sender"
)

// The two functions of the fault test.
//
// faultFn is the traced function: the stack test's small Go handler
// (tests/stack/functions/gofn: GET reports, POST echoes), under a name of its
// own so that nothing else on the stack traces or calls it.
//
// faultSink receives the chunks: faasmon-parse's real handler deployed under
// another name with faasmon_next="", so that it parses each chunk (headers
// and strace/pcap body, 200) and forwards nothing. That gives a meaningful
// check without the rest of the detector: the queue-worker logs every
// message it takes from the gateway's queue (with the chunk's
// X-Faasmon-Stream, -Seq and -Dropped headers) and the status the sink
// answered, so the test sees which chunks really went through the real
// gateway and NATS, and that each one parsed. A name of its own also means
// the test never replaces or deletes a detector someone else deployed.
const (
	faultFn   = "tracerfault-fn"
	faultSink = "tracerfault-sink"
)

// TestFault runs the tracer (in-process: sensors, chunker, the real sender)
// against one function of the real local stack and breaks it twice: a
// sensor process dies mid-stream, and the gateway goes away while the
// function keeps producing chunks. It checks what the tracer promises in
// each case (pkg/tracer/backend, pkg/tracer/sender):
//   - a dead sensor is restarted (faasmon_tracer_sensor_restarts_total +1)
//     as a new stream numbered from 0, the old stream's numbers have no gap,
//     and chunks keep reaching the sink;
//   - while the gateway is down the sender retries (send_retries_total
//     grows) and never counts a chunk as sent; once it is back, every chunk
//     produced is either delivered or counted as dropped, exactly, in chunks
//     and in bytes, and each loss is announced downstream with
//     X-Faasmon-Dropped on a later chunk of the same stream.
//
// It stops the shared stack's gateway, so it must not run beside other
// packages' stack tests: `make test` runs it alone (-skip/-run TestFault).
func TestFault(t *testing.T) {
	t0 := time.Now()
	s := localstack.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	deployFault(ctx, t, s)
	inst := instanceOf(t, faultFn)
	t.Logf("stack up and %s, %s deployed in %s; %s is pid %d at %s",
		faultFn, faultSink, time.Since(t0).Round(time.Millisecond), faultFn, inst.PID, inst.IP)

	t.Run("sensor killed", func(t *testing.T) {
		// Each case kills one kind of sensor process; the other kind must
		// not notice.
		for _, tc := range []struct {
			kind chunk.Kind
			comm string // the process nsenter execs into
		}{
			{chunk.KindStrace, "strace"},
			{chunk.KindPcap, "tcpdump"},
		} {
			t.Run(string(tc.kind), func(t *testing.T) {
				h := startHarness(ctx, t, s, inst, 0)
				other := chunk.KindPcap
				if tc.kind == chunk.KindPcap {
					other = chunk.KindStrace
				}
				old := h.lastStream(tc.kind)
				if got := h.scrape().get("faasmon_tracer_sensor_restarts_total", string(tc.kind)); got != 0 {
					t.Fatalf("%v restarts before any fault", got)
				}
				pid := sensorPID(t, tc.comm)

				// Kill it mid-stream: the function is being called while
				// its sensor dies (SIGKILL, as the OOM killer would: no
				// chance to flush or detach cleanly).
				burst := h.callBurst(30, 20*time.Millisecond)
				time.Sleep(250 * time.Millisecond)
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatalf("kill %s %d: %v", tc.comm, pid, err)
				}
				t.Logf("killed %s (pid %d) mid-stream", tc.comm, pid)
				if err := <-burst; err != nil {
					// After a SIGKILLed strace the kernel detaches the
					// tracee; a tracee left stopped would hang here.
					t.Fatalf("function during and after the kill: %v", err)
				}

				// The sensor comes back (RestartMin 200 ms) and counts it.
				h.waitFor("sensor restarted", 5*time.Second, func(m snapshot) bool {
					return m.get("faasmon_tracer_sensor_restarts_total", string(tc.kind)) >= 1 &&
						m.get("faasmon_tracer_sensors_running", string(tc.kind)) == 1
				})
				// Chunks keep flowing: a call after the restart shows up in
				// a chunk of a new stream of that kind.
				h.ready(tc.kind, old)
				if pid2 := sensorPID(t, tc.comm); pid2 == pid {
					t.Errorf("%s pid %d still the same after the restart", tc.comm, pid)
				}
				h.stop()

				m := h.scrape()
				if got := m.get("faasmon_tracer_sensor_restarts_total", string(tc.kind)); got != 1 {
					t.Errorf("%s restarts = %v, want exactly 1", tc.kind, got)
				}
				if got := m.get("faasmon_tracer_sensor_restarts_total", string(other)); got != 0 {
					t.Errorf("%s restarts = %v, want 0 (only %s was killed)", other, got, tc.kind)
				}
				// A restart is a new stream from seq 0, never a gap in
				// the old one: checkSeqs holds every stream to 0..n-1.
				streams := h.streams()
				if n := len(streams[tc.kind]); n != 2 {
					t.Errorf("%s streams = %v, want 2 (before and after the restart)", tc.kind, streams[tc.kind])
				}
				if n := len(streams[other]); n != 1 {
					t.Errorf("%s streams = %v, want 1", other, streams[other])
				}
				h.checkSeqs()
				// With the gateway up nothing is retried or dropped, and
				// every chunk of both streams reached the sink and parsed.
				if r := m.sum("faasmon_tracer_send_retries_total"); r != 0 {
					t.Errorf("retries = %v with the gateway up", r)
				}
				h.checkAccounting(false)
			})
		}
	})

	t.Run("gateway down", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			queueBytes int    // 0: the default 64 MiB
			body       []byte // what each call posts (nil: GET)
			// until says when enough was produced while the gateway is down.
			until    func(m snapshot, calls int) bool
			wantDrop bool
		}{{
			// The default queue holds a short outage whole: nothing may be
			// lost, everything arrives once the gateway is back.
			name:  "queue holds the outage",
			until: func(m snapshot, calls int) bool { return calls >= 20 },
		}, {
			// The smallest queue the sender accepts (one full chunk):
			// calls with 200 kB bodies (each a few kB of strace and pcap)
			// overflow it, and it must drop oldest first, counting each.
			name:       "small queue drops oldest",
			queueBytes: chunk.MaxBytes + 512,
			body:       bytes.Repeat([]byte("x"), 200<<10),
			until: func(m snapshot, calls int) bool {
				return m.get("faasmon_tracer_chunks_dropped_total", metrics.ReasonQueueFull) >= 10 || calls >= 300
			},
			wantDrop: true,
		}} {
			t.Run(tc.name, func(t *testing.T) {
				h := startHarness(ctx, t, s, inst, tc.queueBytes)
				// Everything so far is delivered, so the outage starts
				// from an empty queue and an idle queue-worker.
				// A chunk the gateway took but the queue-worker had not yet
				// handed to the sink would fail there once the gateway is
				// gone (CE acknowledges it anyway): wait past the cutter's
				// quiet period (200 ms) for the last chunk, then until the
				// worker has delivered everything sent.
				h.waitDrained()
				time.Sleep(300 * time.Millisecond)
				h.waitDrained()
				h.delivered(int(h.scrape().sum("faasmon_tracer_chunks_sent_total")))

				down := time.Now()
				if err := s.Stop(localstack.ComponentGateway); err != nil {
					t.Fatal(err)
				}
				restored := false
				t.Cleanup(func() { // never leave the stack without its gateway
					if !restored {
						if err := s.Restart(context.Background(), localstack.ComponentGateway); err != nil {
							t.Errorf("bring the gateway back: %v", err)
						}
					}
				})
				if resp, err := http.Get(localstack.GatewayURL + "/healthz"); err == nil {
					resp.Body.Close()
					t.Fatalf("gateway still answers after Stop: %s", resp.Status)
				}
				before := h.scrape() // with the gateway down: sent cannot move from here

				// Call the function at its own address (the provider's
				// instance list), as a client inside the cluster would:
				// the function works, the tracer produces, the sender
				// cannot deliver.
				bound := float64(tc.queueBytes)
				if bound == 0 {
					bound = 64 << 20
				}
				calls := 0
				for deadline := time.Now().Add(20 * time.Second); ; {
					if err := call(inst.IP, callID("down", calls), tc.body); err != nil {
						t.Fatalf("call %d with the gateway down: %v", calls, err)
					}
					calls++
					m := h.scrape()
					if q := m.sum("faasmon_tracer_queue_bytes"); q > bound {
						t.Errorf("queue holds %v bytes, bound %v", q, bound)
					}
					if tc.until(m, calls) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("after %d calls in 20 s: %v dropped", calls, m.sum("faasmon_tracer_chunks_dropped_total"))
					}
				}
				// The sender keeps trying (backoff 50–400 ms here) and
				// counts every failed POST; nothing is "sent" meanwhile.
				h.waitFor("retries while the gateway is down", 5*time.Second, func(m snapshot) bool {
					return m.sum("faasmon_tracer_send_retries_total") > before.sum("faasmon_tracer_send_retries_total")
				})
				during := h.scrape()
				if a, b := during.sum("faasmon_tracer_chunks_sent_total"), before.sum("faasmon_tracer_chunks_sent_total"); a != b {
					t.Errorf("sent went from %v to %v while the gateway was down", b, a)
				}
				t.Logf("gateway down %s: %d calls, %v retries, %v chunks queued, %v dropped",
					time.Since(down).Round(time.Millisecond), calls, during.sum("faasmon_tracer_send_retries_total"),
					during.sum("faasmon_tracer_queue_chunks"), during.sum("faasmon_tracer_chunks_dropped_total"))

				t1 := time.Now()
				if err := s.Restart(ctx, localstack.ComponentGateway); err != nil {
					t.Fatal(err)
				}
				restored = true
				t.Logf("gateway back in %s", time.Since(t1).Round(time.Millisecond))
				// The queue drains, then one more call gives every live
				// stream a chunk after its last drop: the one that must
				// carry X-Faasmon-Dropped.
				h.waitDrained()
				h.ready(chunk.KindStrace, "")
				h.ready(chunk.KindPcap, "")
				h.stop()

				if got := h.scrape().sum("faasmon_tracer_chunks_dropped_total"); tc.wantDrop && got == 0 {
					t.Errorf("no chunk dropped: the queue never overflowed")
				}
				h.checkSeqs()
				h.checkAccounting(tc.wantDrop)
			})
		}
	})
	t.Logf("TestFault took %s", time.Since(t0).Round(time.Millisecond))
}

// deployFault builds and deploys the test's two functions from a stack file
// written for the test (absolute handler paths inside the repository), and
// deletes them when the test ends.
func deployFault(ctx context.Context, t *testing.T, s *localstack.Stack) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "stack.yml")
	yml := fmt.Sprintf(`version: 1.0
provider:
  name: openfaas
  gateway: %s
functions:
  %s:
    lang: faasmon-go
    handler: %s
    image: %s:latest
  %s:
    lang: faasmon-go
    handler: %s
    image: %s:latest
    environment:
      faasmon_next: ""
      max_request_body_bytes: "262144"
    # faasmon-parse verifies every chunk's MAC (pkg/hopauth) with the
    # stack's hop key, which the test's sender signs with.
    secrets:
      - faasmon-hop-key
`, localstack.GatewayURL,
		faultFn, filepath.Join(s.Repo, "tests", "stack", "functions", "gofn"), faultFn,
		faultSink, filepath.Join(s.Repo, "functions", "faasmon-parse"), faultSink)
	if err := os.WriteFile(file, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	client, err := localstack.Client(s.Dirs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range []string{faultFn, faultSink} {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := client.DeleteFunction(dctx, n, localstack.DefaultNamespace); err != nil {
				t.Logf("delete %s: %v", n, err)
			}
			cancel()
		}
	})
	if _, err := s.Deploy(ctx, file, ""); err != nil {
		t.Fatalf("deploy: %v", err)
	}
}

// instanceOf returns the function's instance from the provider's list, the
// same list the tracer's local discovery reads.
func instanceOf(t *testing.T, fn string) localstack.Instance {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		list, err := provider.FetchInstances(context.Background(), nil, localstack.ProviderURL)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range list {
			if in.Function == fn && in.PID > 0 && in.IP != "" {
				return in
			}
		}
	}
	t.Fatalf("%s has no instance", fn)
	return localstack.Instance{}
}

// onlyFunction narrows a discovery source to one function: the stack may
// run other functions (a lab's victim app, the detector), and the test must
// neither trace them nor count their chunks.
type onlyFunction struct {
	src discovery.Source
	fn  string
}

func (o onlyFunction) Run(ctx context.Context, update func([]discovery.Target)) error {
	return o.src.Run(ctx, func(ts []discovery.Target) {
		var mine []discovery.Target
		for _, tg := range ts {
			if tg.Function == o.fn {
				mine = append(mine, tg)
			}
		}
		update(mine)
	})
}

// harness is one tracer (discovery, sensors, chunker) and one sender, wired
// as faasmon-tracer's main wires them, with the sink recording every chunk
// it is given before the sender gets it: that record is "produced".
type harness struct {
	t    *testing.T
	s    *localstack.Stack
	inst localstack.Instance
	m    *metrics.Metrics
	snd  *sender.Sender

	mu     sync.Mutex
	chunks []chunker.Chunk // in the order the sensors emitted them

	qwFrom   int64 // queue-worker log size when the harness started
	stopOnce sync.Once
	stopTr   context.CancelFunc
	trDone   chan error
	stopSnd  context.CancelFunc
	sndDone  chan struct{}
}

// startHarness starts a tracer on inst and waits until both sensors deliver
// chunks. queueBytes 0 is the sender's default.
func startHarness(ctx context.Context, t *testing.T, s *localstack.Stack, inst localstack.Instance, queueBytes int) *harness {
	t.Helper()
	// Only one tracer can ptrace a process: a tracer left running (a lab,
	// make demo) would make our strace fail to attach and restart in a loop.
	if tp := tracerPID(inst.PID); tp != 0 {
		t.Fatalf("%s (pid %d) is already traced by pid %d: stop the other tracer", inst.Function, inst.PID, tp)
	}
	m := metrics.New()
	snd, err := sender.New(sender.Config{
		Gateway:   localstack.GatewayURL,
		Function:  faultSink,
		SecretDir: s.Dirs.Secrets(),
		// Short backoff so that the test sees many retries and a quick
		// recovery; the policy itself is the production one.
		QueueBytes: queueBytes,
		BackoffMin: 50 * time.Millisecond,
		BackoffMax: 400 * time.Millisecond,
		Timeout:    5 * time.Second,
	}, m)
	if err != nil {
		t.Fatal(err)
	}
	qw, _ := os.Stat(workerLog(s))
	h := &harness{t: t, s: s, inst: inst, m: m, snd: snd, trDone: make(chan error, 1), sndDone: make(chan struct{})}
	if qw != nil {
		h.qwFrom = qw.Size()
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	stracebe.Default.Configure(stracebe.Config{Pin: stracebe.PinSameCPU})
	tr := &tracer.Tracer{
		Source:  onlyFunction{src: &discovery.Local{URL: localstack.ProviderURL}, fn: faultFn},
		Sensor:  backend.RunConfig{Node: "tracerfault", Log: log},
		Sink:    h.sink,
		Metrics: m,
		Log:     log,
	}
	sctx, stopSnd := context.WithCancel(context.Background())
	tctx, stopTr := context.WithCancel(ctx)
	h.stopSnd, h.stopTr = stopSnd, stopTr
	go func() { snd.Run(sctx); close(h.sndDone) }()
	go func() { h.trDone <- tr.Run(tctx) }()
	t.Cleanup(h.stop)
	h.ready(chunk.KindStrace, "")
	h.ready(chunk.KindPcap, "")
	return h
}

// sink is the tracer's Sink: record, then enqueue (as main does).
func (h *harness) sink(c chunker.Chunk) {
	h.mu.Lock()
	h.chunks = append(h.chunks, c)
	h.mu.Unlock()
	h.snd.Enqueue(c)
}

// stop detaches the tracer (sensors flush their last chunks), then lets the
// sender drain as main does on SIGTERM; what is left after 10 s is counted
// as dropped (shutdown), which checkAccounting then reports.
func (h *harness) stop() {
	h.stopOnce.Do(func() {
		h.stopTr()
		if err := <-h.trDone; err != nil {
			h.t.Errorf("tracer: %v", err)
		}
		h.snd.Close()
		select {
		case <-h.sndDone:
		case <-time.After(10 * time.Second):
			h.stopSnd()
			<-h.sndDone
		}
		h.stopSnd()
	})
}

// ready calls the function until a chunk of kind whose stream is not
// notStream shows the call: the sensor is attached and its chunks flow. The
// first calls after an attach can be missed (README, known limits), hence
// the retries.
func (h *harness) ready(kind chunk.Kind, notStream string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		id := callID("ready-"+string(kind), i)
		if err := call(h.inst.IP, id, nil); err != nil {
			h.t.Fatalf("call: %v", err)
		}
		for wait := time.Now().Add(1500 * time.Millisecond); time.Now().Before(wait); time.Sleep(50 * time.Millisecond) {
			if h.seen(kind, notStream, id) {
				return
			}
		}
	}
	h.t.Fatalf("no %s chunk (stream other than %q) shows a call within 10 s", kind, notStream)
}

func (h *harness) seen(kind chunk.Kind, notStream, id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.chunks {
		if c.Header.Kind == kind && c.Header.Stream != notStream && bytes.Contains(c.Body, []byte(id)) {
			return true
		}
	}
	return false
}

func (h *harness) lastStream(kind chunk.Kind) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.chunks) - 1; i >= 0; i-- {
		if h.chunks[i].Header.Kind == kind {
			return h.chunks[i].Header.Stream
		}
	}
	return ""
}

// streams lists the streams produced, by kind, in order of first chunk.
func (h *harness) streams() map[chunk.Kind][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[chunk.Kind][]string{}
	seen := map[string]bool{}
	for _, c := range h.chunks {
		if !seen[c.Header.Stream] {
			seen[c.Header.Stream] = true
			out[c.Header.Kind] = append(out[c.Header.Kind], c.Header.Stream)
		}
	}
	return out
}

// checkSeqs holds every stream to what the cutter promises: its chunks are
// numbered 0, 1, 2, … in the order they are produced, with no gap (a gap
// downstream can only come from the sender, which then says so).
func (h *harness) checkSeqs() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	next := map[string]uint64{}
	for _, c := range h.chunks {
		if c.Header.Seq != next[c.Header.Stream] {
			h.t.Errorf("stream %s: seq %d produced, want %d", c.Header.Stream, c.Header.Seq, next[c.Header.Stream])
		}
		next[c.Header.Stream] = c.Header.Seq + 1
		if len(c.Body) > chunk.MaxBytes {
			h.t.Errorf("stream %s seq %d: %d bytes", c.Header.Stream, c.Header.Seq, len(c.Body))
		}
	}
}

// callBurst calls the function n times, every gap, in the background.
func (h *harness) callBurst(n int, gap time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := call(h.inst.IP, callID("burst", i), nil); err != nil {
				done <- fmt.Errorf("call %d: %w", i, err)
				return
			}
			time.Sleep(gap)
		}
		done <- nil
	}()
	return done
}

// waitDrained waits until the sender holds nothing and everything produced
// is accounted for (sent or dropped): no chunk in flight either.
func (h *harness) waitDrained() {
	h.t.Helper()
	h.waitFor("sender drained", 15*time.Second, func(m snapshot) bool {
		h.mu.Lock()
		produced := float64(len(h.chunks))
		h.mu.Unlock()
		return m.sum("faasmon_tracer_queue_chunks") == 0 &&
			m.sum("faasmon_tracer_chunks_sent_total")+m.sum("faasmon_tracer_chunks_dropped_total") == produced
	})
}

func (h *harness) waitFor(what string, d time.Duration, ok func(snapshot) bool) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for {
		m := h.scrape()
		if ok(m) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not within %s (metrics %s)", what, d, m.tracerOnly())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkAccounting is the sender's promise, checked after stop (tracer
// detached, sender closed and drained, so nothing is pending or in flight):
//
//	produced = sent + dropped, in chunks and in body bytes,
//
// where produced is what the sink saw (and the tracer's own chunk-size
// histogram), sent and dropped are the /metrics counters; and against what
// really went through the gateway and NATS (the queue-worker's log):
// delivered = sent, the chunks missing downstream are exactly the dropped
// ones (count and bytes), every loss is announced by X-Faasmon-Dropped on a
// later chunk of its stream, and the sink parsed every chunk (200).
func (h *harness) checkAccounting(wantDrop bool) {
	t := h.t
	t.Helper()
	m := h.scrape()
	h.mu.Lock()
	chunks := append([]chunker.Chunk(nil), h.chunks...)
	h.mu.Unlock()
	byKey := map[string]chunker.Chunk{}
	var producedBytes float64
	for _, c := range chunks {
		byKey[chunkKey(c.Header.Stream, c.Header.Seq)] = c
		producedBytes += float64(len(c.Body))
	}
	produced := float64(len(chunks))
	sent, sentBytes := m.sum("faasmon_tracer_chunks_sent_total"), m.sum("faasmon_tracer_bytes_sent_total")
	dropped, droppedBytes := m.sum("faasmon_tracer_chunks_dropped_total"), m.sum("faasmon_tracer_bytes_dropped_total")
	t.Logf("produced %v chunks (%v B): sent %v (%v B), dropped %v (%v B: queue_full %v, rejected %v, shutdown %v), retries %v",
		produced, producedBytes, sent, sentBytes, dropped, droppedBytes,
		m.get("faasmon_tracer_chunks_dropped_total", metrics.ReasonQueueFull),
		m.get("faasmon_tracer_chunks_dropped_total", metrics.ReasonRejected),
		m.get("faasmon_tracer_chunks_dropped_total", metrics.ReasonShutdown),
		m.sum("faasmon_tracer_send_retries_total"))

	if got := m.sum("faasmon_tracer_chunk_bytes_count"); got != produced {
		t.Errorf("chunk_bytes histogram counts %v chunks, the sink saw %v", got, produced)
	}
	if got := m.sum("faasmon_tracer_chunk_bytes_sum"); got != producedBytes {
		t.Errorf("chunk_bytes histogram sums %v bytes, the sink saw %v", got, producedBytes)
	}
	if sent+dropped != produced {
		t.Errorf("sent %v + dropped %v = %v, produced %v: %v chunks unaccounted for", sent, dropped, sent+dropped, produced, produced-sent-dropped)
	}
	if sentBytes+droppedBytes != producedBytes {
		t.Errorf("bytes: sent %v + dropped %v != produced %v", sentBytes, droppedBytes, producedBytes)
	}
	if q, b := m.sum("faasmon_tracer_queue_chunks"), m.sum("faasmon_tracer_queue_bytes"); q != 0 || b != 0 {
		t.Errorf("queue after drain: %v chunks, %v bytes", q, b)
	}
	for _, r := range []string{metrics.ReasonRejected, metrics.ReasonShutdown} {
		if got := m.get("faasmon_tracer_chunks_dropped_total", r); got != 0 {
			t.Errorf("%v chunks dropped (%s): the gateway was up at the end and the sink takes every chunk", got, r)
		}
	}
	if !wantDrop && dropped != 0 {
		t.Errorf("%v chunks dropped, want none", dropped)
	}

	got := h.delivered(int(sent))
	missing := map[string]uint64{} // stream → chunks produced but not delivered
	var missingBytes float64
	for k, c := range byKey {
		if _, ok := got[k]; !ok {
			missing[c.Header.Stream]++
			missingBytes += float64(len(c.Body))
		}
	}
	var nMissing uint64
	for _, n := range missing {
		nMissing += n
	}
	if float64(len(got)) != sent {
		t.Errorf("the queue-worker took %d of our chunks from the gateway's queue, the sender counted %v sent", len(got), sent)
	}
	if float64(nMissing) != dropped || missingBytes != droppedBytes {
		t.Errorf("missing downstream: %d chunks (%v B), counted dropped: %v (%v B)", nMissing, missingBytes, dropped, droppedBytes)
	}
	announced := map[string]uint64{}
	for k, d := range got {
		if _, ok := byKey[k]; !ok {
			t.Errorf("delivered %s was never produced", k)
		}
		if d.status != http.StatusOK {
			t.Errorf("%s: the sink answered %d (faasmon-parse refused the chunk)", k, d.status)
		}
		if d.count > 1 {
			t.Errorf("%s delivered %d times", k, d.count)
		}
		announced[d.stream] += d.dropped
	}
	for stream, n := range missing {
		if announced[stream] != n {
			t.Errorf("stream %s: %d chunks missing, X-Faasmon-Dropped announces %d", stream, n, announced[stream])
		}
	}
	for stream, n := range announced {
		if missing[stream] == 0 && n > 0 {
			t.Errorf("stream %s: X-Faasmon-Dropped announces %d, none missing", stream, n)
		}
	}
}

func chunkKey(stream string, seq uint64) string { return stream + "/" + strconv.FormatUint(seq, 10) }

// delivery is one of our chunks as the queue-worker took it from the queue.
type delivery struct {
	stream  string
	dropped uint64 // X-Faasmon-Dropped
	status  int    // what the sink answered
	count   int    // times taken from the queue
}

// The queue-worker logs each message as "[#N] Received on [faas-request]:
// '<the STAN message, data quoted>'" and, once the function answered,
// "[#N] Invoked: <function> [<status>] in …" (nats-queue-worker main.go).
// Headers appear in data as \"X-Faasmon-Seq\":[\"12\"].
var (
	reReceived = regexp.MustCompile(`\[#(\d+)\] Received on \[faas-request\]: 'sequence:\d+ subject:"faas-request" data:"(.*?)" timestamp:`)
	reInvoked  = regexp.MustCompile(`\[#(\d+)\] Invoked: (\S+) \[(\d+)\]`)
)

func quotedHeader(data, name string) string {
	re := regexp.MustCompile(`\\"` + regexp.QuoteMeta(name) + `\\":\[\\"([^\\"]*)\\"\]`)
	if m := re.FindStringSubmatch(data); m != nil {
		return m[1]
	}
	return ""
}

// delivered waits until the queue-worker has taken want of this harness's
// chunks from the queue and the sink answered each, and returns them by
// chunkKey. It reads only what the log gained since the harness started.
func (h *harness) delivered(want int) map[string]*delivery {
	h.t.Helper()
	mine := map[string]bool{}
	h.mu.Lock()
	for _, c := range h.chunks {
		mine[c.Header.Stream] = true
	}
	h.mu.Unlock()
	fn := faultSink + "." + localstack.DefaultNamespace
	var out map[string]*delivery
	deadline := time.Now().Add(20 * time.Second)
	for {
		f, err := os.Open(workerLog(h.s))
		if err != nil {
			h.t.Fatal(err)
		}
		_, _ = f.Seek(h.qwFrom, io.SeekStart)
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			h.t.Fatal(err)
		}
		text := string(b)
		keyOf := map[string]string{} // [#N] → chunk key, for our messages
		out = map[string]*delivery{}
		for _, m := range reReceived.FindAllStringSubmatch(text, -1) {
			data := m[2]
			if !strings.Contains(data, `\"Function\":\"`+fn+`\"`) {
				continue
			}
			stream := quotedHeader(data, chunk.HStream)
			if !mine[stream] {
				continue
			}
			seq, _ := strconv.ParseUint(quotedHeader(data, chunk.HSeq), 10, 64)
			dropped, _ := strconv.ParseUint(quotedHeader(data, chunk.HDropped), 10, 64)
			k := chunkKey(stream, seq)
			keyOf[m[1]] = k
			if d, ok := out[k]; ok {
				d.count++
				continue
			}
			out[k] = &delivery{stream: stream, dropped: dropped, count: 1}
		}
		answered := 0
		for _, m := range reInvoked.FindAllStringSubmatch(text, -1) {
			if k, ok := keyOf[m[1]]; ok && m[2] == fn {
				out[k].status, _ = strconv.Atoi(m[3])
				answered++
			}
		}
		if answered >= want && len(out) >= want {
			return out
		}
		if time.Now().After(deadline) {
			h.t.Errorf("queue-worker: %d of our chunks taken, %d answered within 20 s, want %d", len(out), answered, want)
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func workerLog(s *localstack.Stack) string {
	return filepath.Join(s.Dirs.Logs(), localstack.ComponentQueueWorker+".log")
}

// snapshot is the tracer's metrics as /metrics exposes them (the same
// Gather): "name{value}" → value for one-label metrics, histograms as
// name_count and name_sum.
type snapshot map[string]float64

func (h *harness) scrape() snapshot {
	h.t.Helper()
	mfs, err := h.m.Registry.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	out := snapshot{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			labels := ""
			for _, lp := range mt.GetLabel() {
				labels += "{" + lp.GetValue() + "}"
			}
			switch {
			case mt.GetCounter() != nil:
				out[mf.GetName()+labels] = mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				out[mf.GetName()+labels] = mt.GetGauge().GetValue()
			case mt.GetHistogram() != nil:
				out[mf.GetName()+"_count"+labels] = float64(mt.GetHistogram().GetSampleCount())
				out[mf.GetName()+"_sum"+labels] = mt.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func (s snapshot) get(name, label string) float64 { return s[name+"{"+label+"}"] }

// sum adds a metric over its label values.
func (s snapshot) sum(name string) float64 {
	var v float64
	for k, x := range s {
		if k == name || strings.HasPrefix(k, name+"{") {
			v += x
		}
	}
	return v
}

func (s snapshot) tracerOnly() string {
	var keys []string
	for k := range s {
		if strings.HasPrefix(k, "faasmon_tracer_") && !strings.Contains(k, "chunk_bytes") {
			keys = append(keys, fmt.Sprintf("%s=%v", k, s[k]))
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// callClient closes each connection after its call: an idle keep-alive
// connection closing later would make the sensors produce chunks at a time
// the test does not control.
var callClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// call invokes the function at its own address in its network namespace,
// past the gateway, with our X-Call-Id so that the chunks can be matched.
func call(ip, id string, body []byte) error {
	method := http.MethodGet
	if body != nil {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, fmt.Sprintf("http://%s:%d/", ip, localstack.FunctionPort), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Call-Id", id)
	resp, err := callClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, req.URL, resp.Status)
	}
	return nil
}

func callID(what string, i int) string {
	return fmt.Sprintf("tracerfault-%s-%d-%d", what, i, time.Now().UnixNano())
}

// sensorPID finds the one sensor process of this test named comm: a child of
// the test process (nsenter execs strace or tcpdump in place).
func sensorPID(t *testing.T, comm string) int {
	t.Helper()
	found := proctest.Children(comm)
	if len(found) != 1 {
		t.Fatalf("%s processes of this test: %v, want one", comm, found)
	}
	return found[0]
}

// tracerPID is TracerPid of /proc/PID/status (0: not traced).
func tracerPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// testWriter sends the tracer's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

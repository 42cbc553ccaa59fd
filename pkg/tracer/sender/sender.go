package sender

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	sdk "github.com/openfaas/go-sdk"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/invoke"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// Config configures a Sender.
type Config struct {
	Gateway   string // e.g. http://127.0.0.1:8080
	Function  string // default faasmon-parse
	Namespace string // default openfaas-fn
	// SecretDir holds the hop key (hopauth.SecretName), as OpenFaaS
	// mounts its secrets: every chunk is signed with it (faasmon-parse
	// refuses unsigned chunks). Empty: chunks go unsigned (tests).
	SecretDir  string
	QueueBytes int           // default 64 MiB
	Workers    int           // concurrent POSTs, default 2
	BackoffMin time.Duration // default 100ms
	BackoffMax time.Duration // default 5s
	Timeout    time.Duration // per POST, default 10s
	// Sync calls the function (/function/...) instead of queueing for it
	// (/async-function/...): a chunk is sent once faasmon-parse answered
	// 2xx, which it does once faasmon-graph stored the chunk's events, so
	// a stage killed mid-chunk makes the chunk fail and be retried from
	// this queue. Queued, a chunk counted as sent at the gateway's 202 was
	// lost when the stage failed on it (CE's queue-worker does not retry).
	Sync bool
}

func (c Config) withDefaults() Config {
	if c.Function == "" {
		c.Function = "faasmon-parse"
	}
	if c.Namespace == "" {
		c.Namespace = "openfaas-fn"
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 64 << 20
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 100 * time.Millisecond
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = 5 * time.Second
		if c.BackoffMax < c.BackoffMin {
			c.BackoffMax = c.BackoffMin
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	return c
}

// overhead approximates what a queued chunk costs beyond its body (headers,
// list element), so that the memory bound holds for many small chunks too.
const overhead = 512

func cost(c chunker.Chunk) int { return len(c.Body) + overhead }

// Sender is safe for concurrent use: every sensor enqueues, Workers send.
type Sender struct {
	cfg    Config
	client *sdk.Client
	keys   *hopauth.Source // nil: unsigned
	m      *metrics.Metrics

	mu    sync.Mutex
	cond  *sync.Cond // signalled on enqueue and on close
	queue *list.List // of chunker.Chunk, oldest at front
	bytes int
	// byCont is each container's queued chunks (values: their elements
	// in queue, oldest first) and contBytes their cost: a full queue
	// drops from the container that holds the most, so one noisy
	// neighbour cannot push out another container's chunks (issue 14
	// measured a 100 MB/s writer dropping the victim's attack chunk when
	// the oldest chunk went first, whoever's it was).
	byCont    map[string]*list.List
	inCont    map[*list.Element]*list.Element
	contBytes map[string]int
	dropped   map[string]uint64 // per stream: dropped since its last dequeued chunk
	// droppedBytes is the size of those chunks (X-Faasmon-Dropped-Bytes).
	droppedBytes map[string]uint64
	// busy holds the streams a worker is sending a chunk of: one chunk per
	// stream at a time, so a stream arrives in order. Two workers on one
	// stream let chunk n+1 overtake chunk n, and the graph stage saw a gap
	// (a blind-spot alert) that the late chunk filled a moment later.
	busy   map[string]bool
	closed bool

	boMu      sync.Mutex
	failures  int       // consecutive failed POSTs (shared: the gateway is one)
	notBefore time.Time // no POST before this time
}

// New returns a Sender; call Run to start sending.
func New(cfg Config, m *metrics.Metrics) (*Sender, error) {
	cfg = cfg.withDefaults()
	u, err := url.Parse(cfg.Gateway)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("gateway URL %q: want scheme://host[:port] (%v)", cfg.Gateway, err)
	}
	if cfg.QueueBytes < chunk.MaxBytes+overhead {
		return nil, fmt.Errorf("queue of %d bytes cannot hold one chunk of %d", cfg.QueueBytes, chunk.MaxBytes)
	}
	s := &Sender{
		cfg: cfg,
		// No client auth (invoke.NewSDK says why). Chunks carry a hop MAC
		// instead (post), from a key re-read when its file changes, so a
		// rotated key is picked up without a restart.
		client:       invoke.NewSDK(u, cfg.Timeout),
		m:            m,
		queue:        list.New(),
		byCont:       map[string]*list.List{},
		inCont:       map[*list.Element]*list.Element{},
		contBytes:    map[string]int{},
		dropped:      map[string]uint64{},
		droppedBytes: map[string]uint64{},
		busy:         map[string]bool{},
	}
	if cfg.SecretDir != "" {
		s.keys = hopauth.FileSource(filepath.Join(cfg.SecretDir, hopauth.SecretName))
	}
	s.cond = sync.NewCond(&s.mu)
	return s, nil
}

// Enqueue queues c, dropping the oldest chunks when the queue is over its
// byte bound. It never blocks on the network: a sensor must never stall the
// traced process because the gateway is slow.
func (s *Sender) Enqueue(c chunker.Chunk) {
	s.m.ChunkBytes.WithLabelValues(string(c.Header.Kind)).Observe(float64(len(c.Body)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.dropLocked(c, metrics.ReasonShutdown)
		return
	}
	s.addLocked(s.queue.PushBack(c), false)
	s.trimLocked()
	s.gaugesLocked()
	s.cond.Signal()
}

// requeue puts a chunk that failed to send back at the front: it is still
// the oldest, so it is the first to go if the queue overflows meanwhile.
func (s *Sender) requeue(c chunker.Chunk) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.dropLocked(c, metrics.ReasonShutdown)
		return
	}
	// Undo the stamp given at dequeue: it is given again next time, plus
	// whatever else is dropped meanwhile.
	s.dropped[c.Header.Stream] += c.Header.Dropped
	s.droppedBytes[c.Header.Stream] += c.Header.DroppedBytes
	c.Header.Dropped, c.Header.DroppedBytes = 0, 0
	// Before any later chunk of its stream that another worker put back
	// first, so that a stream keeps its order through a failure.
	var at *list.Element
	for e := s.queue.Front(); e != nil; e = e.Next() {
		if q := e.Value.(chunker.Chunk); q.Header.Stream == c.Header.Stream && q.Header.Seq > c.Header.Seq {
			at = e
			break
		}
	}
	if at != nil {
		s.addLocked(s.queue.InsertBefore(c, at), true)
	} else {
		s.addLocked(s.queue.PushFront(c), true)
	}
	s.trimLocked()
	s.gaugesLocked()
	s.cond.Signal()
}

// addLocked books queue element e (just inserted) to its container:
// oldest first, or at the front for a chunk put back (it is the oldest).
func (s *Sender) addLocked(e *list.Element, front bool) {
	c := e.Value.(chunker.Chunk)
	k := c.Header.Container
	l := s.byCont[k]
	if l == nil {
		l = list.New()
		s.byCont[k] = l
	}
	if front {
		s.inCont[e] = l.PushFront(e)
	} else {
		s.inCont[e] = l.PushBack(e)
	}
	s.bytes += cost(c)
	s.contBytes[k] += cost(c)
}

// removeLocked takes element e out of the queue and its container's list.
func (s *Sender) removeLocked(e *list.Element) chunker.Chunk {
	c := s.queue.Remove(e).(chunker.Chunk)
	k := c.Header.Container
	if ce, ok := s.inCont[e]; ok {
		delete(s.inCont, e)
		l := s.byCont[k]
		l.Remove(ce)
		if l.Len() == 0 {
			delete(s.byCont, k)
		}
	}
	s.bytes -= cost(c)
	if s.contBytes[k] -= cost(c); s.contBytes[k] <= 0 {
		delete(s.contBytes, k)
	}
	return c
}

// trimLocked drops chunks while the queue is over its bound: each time the
// oldest chunk of the container that holds the most bytes (ties: the
// container named first, so that tests are deterministic).
func (s *Sender) trimLocked() {
	for s.bytes > s.cfg.QueueBytes && s.queue.Len() > 0 {
		var top string
		for k, b := range s.contBytes {
			if b > s.contBytes[top] || b == s.contBytes[top] && k < top {
				top = k
			}
		}
		e := s.queue.Front()
		if l := s.byCont[top]; l != nil && l.Len() > 0 {
			e = l.Front().Value.(*list.Element)
		}
		c := s.removeLocked(e)
		s.dropLocked(c, metrics.ReasonQueueFull)
	}
}

func (s *Sender) dropLocked(c chunker.Chunk, reason string) {
	// A chunk stamped at dequeue with the drops before it hands them on.
	s.dropped[c.Header.Stream] += 1 + c.Header.Dropped
	s.droppedBytes[c.Header.Stream] += uint64(len(c.Body)) + c.Header.DroppedBytes
	s.m.ChunksDropped.WithLabelValues(reason).Inc()
	s.m.BytesDropped.WithLabelValues(reason).Add(float64(len(c.Body)))
}

func (s *Sender) gaugesLocked() {
	s.m.QueueBytes.Set(float64(s.bytes))
	s.m.QueueChunks.Set(float64(s.queue.Len()))
}

// next blocks until a chunk of a stream no worker is sending is queued, or
// the sender is closed and empty. The caller calls done with the chunk's
// stream once it sent, requeued or dropped it.
func (s *Sender) next() (chunker.Chunk, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var e *list.Element
	for {
		if s.queue.Len() == 0 && s.closed {
			return chunker.Chunk{}, false
		}
		for e = s.queue.Front(); e != nil && s.busy[e.Value.(chunker.Chunk).Header.Stream]; e = e.Next() {
		}
		if e != nil {
			break
		}
		s.cond.Wait()
	}
	c := s.removeLocked(e)
	s.busy[c.Header.Stream] = true
	if n := s.dropped[c.Header.Stream]; n > 0 {
		c.Header.Dropped, c.Header.DroppedBytes = n, s.droppedBytes[c.Header.Stream]
		delete(s.dropped, c.Header.Stream)
		delete(s.droppedBytes, c.Header.Stream)
	}
	s.gaugesLocked()
	return c, true
}

// Close stops accepting chunks; Run returns once the queue is drained or its
// context is done (what is left then is counted as dropped, reason shutdown).
func (s *Sender) Close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// Run sends until Close and an empty queue, or ctx is done.
func (s *Sender) Run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.closed = true
		for s.queue.Len() > 0 {
			c := s.removeLocked(s.queue.Front())
			s.dropLocked(c, metrics.ReasonShutdown)
		}
		s.gaugesLocked()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	var wg sync.WaitGroup
	for i := 0; i < s.cfg.Workers; i++ {
		wg.Go(func() { s.worker(ctx) })
	}
	wg.Wait()
}

func (s *Sender) worker(ctx context.Context) {
	for {
		c, ok := s.next()
		if !ok {
			return
		}
		s.work(ctx, c)
		s.done(c.Header.Stream)
	}
}

// done frees stream for the next chunk of it.
func (s *Sender) done(stream string) {
	s.mu.Lock()
	delete(s.busy, stream)
	s.cond.Broadcast()
	s.mu.Unlock()
}

// work sends c once, and requeues or drops it when that fails.
func (s *Sender) work(ctx context.Context, c chunker.Chunk) {
	if err := s.waitBackoff(ctx); err != nil {
		s.requeue(c)
		return // the AfterFunc in Run empties the queue; next() then ends the worker
	}
	err := s.post(ctx, c)
	switch {
	case err == nil:
		s.backoff(true)
		s.m.ChunksSent.WithLabelValues(string(c.Header.Kind)).Inc()
		s.m.BytesSent.WithLabelValues(string(c.Header.Kind)).Add(float64(len(c.Body)))
	case errors.Is(err, errPermanent):
		s.mu.Lock()
		s.dropLocked(c, metrics.ReasonRejected)
		s.mu.Unlock()
	default:
		s.backoff(false)
		s.m.Retries.Inc()
		s.requeue(c)
	}
}

// backoff records a success (reset) or failure (double the delay, capped).
func (s *Sender) backoff(ok bool) {
	s.boMu.Lock()
	defer s.boMu.Unlock()
	if ok {
		s.failures = 0
		s.notBefore = time.Time{}
		return
	}
	s.failures++
	d := s.cfg.BackoffMin
	for i := 1; i < s.failures && d < s.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.BackoffMax)
	s.notBefore = time.Now().Add(d)
}

func (s *Sender) waitBackoff(ctx context.Context) error {
	s.boMu.Lock()
	d := time.Until(s.notBefore)
	s.boMu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errPermanent = errors.New("gateway refused the chunk")

// post makes one attempt. A 2xx is success: with Sync, faasmon-parse's 200
// once faasmon-graph stored the chunk's events; queued, the gateway's 202
// once the request is in the queue. 408, 429, 5xx (a stage down or killed
// mid-chunk), 401/403 (a key being rotated, or a gateway behind an
// authenticating proxy) and transport errors are worth retrying; any other
// status (a chunk parse refuses) will not change. Queued, faasmon-parse's
// own verdict on the MAC comes later, from the queue-worker.
func (s *Sender) post(ctx context.Context, c chunker.Chunk) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Gateway, bytes.NewReader(c.Body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", contentType(c.Header.Kind))
	c.Header.Set(req.Header)
	if s.keys != nil {
		kr, err := s.keys.Keyring()
		if err != nil {
			return err
		}
		// Signed at each attempt: a chunk retried for minutes gets a fresh
		// timestamp, so it is not refused as stale.
		if err := kr.Sign(hopauth.KindChunk, req.Header, c.Body, time.Now()); err != nil {
			return err
		}
	}
	resp, err := s.client.InvokeFunction(s.cfg.Function, s.cfg.Namespace, !s.cfg.Sync, false, req)
	if err != nil {
		return fmt.Errorf("post chunk %s/%d: %w", c.Header.Stream, c.Header.Seq, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500,
		code == http.StatusUnauthorized, code == http.StatusForbidden:
		return fmt.Errorf("post chunk %s/%d: gateway answered %d", c.Header.Stream, c.Header.Seq, code)
	default:
		return fmt.Errorf("%w: post chunk %s/%d: status %d", errPermanent, c.Header.Stream, c.Header.Seq, code)
	}
}

func contentType(k chunk.Kind) string {
	if b, ok := backend.Lookup(k); ok {
		return b.ContentType()
	}
	return "text/plain; charset=utf-8"
}

// CheckKeys reads the hop key in dir, so that a tracer fails at start
// rather than sending chunks faasmon-parse refuses.
func CheckKeys(dir string) error {
	_, err := hopauth.FileSource(filepath.Join(dir, hopauth.SecretName)).Keyring()
	return err
}

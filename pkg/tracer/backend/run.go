package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// ErrUnavailable wraps a backend's refusal to run on this node at all (no
// BPF, wrong architecture): Run gives up instead of retrying.
var ErrUnavailable = errors.New("sensor backend unavailable on this node")

// RunConfig is what Run needs beyond the backend.
type RunConfig struct {
	Node       string
	Chunk      chunker.Config
	ProcRoot   string // default /proc
	RestartMin time.Duration
	RestartMax time.Duration
	Log        *slog.Logger
}

// Lossy is a Stream that counts what it lost (Dropped: total so far).
type Lossy interface {
	Dropped() uint64
}

// Run keeps b attached to t until ctx is done or t's process ends, cutting
// its stream into chunks for sink; a stream that ends while t lives is
// restarted with backoff as a new stream (Seq from 0), for every
// backend alike.
func Run(ctx context.Context, b Backend, t discovery.Target, cfg RunConfig, m *metrics.Metrics, sink func(chunker.Chunk)) {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.RestartMin <= 0 {
		cfg.RestartMin = 200 * time.Millisecond
	}
	if cfg.RestartMax < cfg.RestartMin {
		cfg.RestartMax = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	k := b.Kind()
	log := cfg.Log.With("kind", k, "function", t.Function, "container", t.Container, "pid", t.PID)
	delay := cfg.RestartMin
	for first := true; ; first = false {
		if !first {
			m.Restarts.WithLabelValues(string(k)).Inc()
		}
		started := time.Now()
		err := runOnce(ctx, b, t, cfg, m, sink)
		if errors.Is(err, ErrUnavailable) {
			log.Error("sensor backend cannot run here; this container is not traced by it", "err", err)
			return
		}
		if ctx.Err() != nil || !discovery.Alive(cfg.ProcRoot, t) {
			return
		}
		if time.Since(started) > 30*time.Second {
			delay = cfg.RestartMin
		}
		log.Warn("sensor stream ended, restarting", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, cfg.RestartMax)
		if !discovery.Alive(cfg.ProcRoot, t) {
			return
		}
	}
}

// StreamID names one stream: unique per (container, kind, start).
func StreamID(container string, k chunk.Kind, start time.Time) string {
	if len(container) > 64 {
		container = container[:64]
	}
	return container + "-" + string(k) + "-" + strconv.FormatInt(start.UnixNano(), 10)
}

type unit struct {
	u     chunker.Unit
	trunc bool
}

// pumpTick is how often quiet periods and the time cap are checked.
const pumpTick = 50 * time.Millisecond

// lossEvery is how often a Lossy stream's losses are read: for eBPF one
// map lookup (a bpf syscall) per container, which at every pumpTick was a
// tenth of the tracer's CPU on the lab's benign run (perf, 2026-12-02).
const lossEvery = time.Second

func runOnce(ctx context.Context, b Backend, t discovery.Target, cfg RunConfig, m *metrics.Metrics, sink func(chunker.Chunk)) error {
	k := b.Kind()
	start := time.Now()
	meta := chunk.Header{
		Node: cfg.Node, Function: t.Function, Namespace: t.Namespace, Pod: t.Pod,
		Container: t.Container, Image: t.Image, PID: t.PID, Kind: k, Stream: StreamID(t.Container, k, start),
	}
	ccfg := cfg.Chunk
	if c, ok := b.(Chunker); ok {
		ccfg = c.Chunking(ccfg)
	}
	cutter := chunker.NewCutter(ccfg, meta, sink)
	s, err := b.Attach(ctx, t, cutter.Room())
	if err != nil {
		return fmt.Errorf("attach %s: %w", k, err)
	}
	if a, ok := s.(Annotator); ok {
		cutter.Annotate(a.Annotate)
	}
	re, _ := s.(Reannotator)
	var annotated uint64
	if re != nil {
		annotated = re.Annotations()
	}
	units := make(chan unit, 256)
	defer func() {
		s.Close()
		for range units { // let the reader below end
		}
	}()
	m.Sensors.WithLabelValues(string(k)).Inc()
	defer m.Sensors.WithLabelValues(string(k)).Dec()
	nextErr := make(chan error, 1)
	go func() {
		defer close(units)
		for {
			u, trunc, err := s.Next()
			if err != nil {
				nextErr <- err
				return
			}
			units <- unit{u, trunc}
		}
	}()
	lossy, _ := s.(Lossy)
	var lost uint64
	countLoss := func() {
		if lossy == nil {
			return
		}
		if n := lossy.Dropped(); n > lost {
			m.Lost.WithLabelValues(string(k), t.Function).Add(float64(n - lost))
			lost = n
			// The next chunks say so: faasmon-graph raises a blind spot
			// for the container (X-Faasmon-Lost).
			cutter.Annotate(func(h *chunk.Header) { h.Lost = n })
		}
	}
	tick := time.NewTicker(pumpTick)
	lossAt := time.Now()
	defer tick.Stop()
	prefixed := false
	for {
		select {
		case u, ok := <-units:
			if !ok {
				// Losses first: a stream may learn of some only as it
				// ends, and the last chunk is the last to carry them.
				countLoss()
				cutter.Flush()
				return <-nextErr
			}
			if !prefixed {
				prefixed = true
				if p := s.Prefix(); p != nil {
					if err := cutter.SetPrefix(p); err != nil {
						return err
					}
				}
			}
			if u.trunc {
				m.Truncated.WithLabelValues(string(k)).Inc()
			}
			if re != nil {
				if v := re.Annotations(); v != annotated {
					annotated = v
					cutter.Annotate(re.Annotate)
				}
			}
			cutter.Add(u.u, time.Now())
		case now := <-tick.C:
			cutter.Tick(now)
			if now.Sub(lossAt) >= lossEvery {
				lossAt = now
				countLoss()
			}
		}
	}
}

package tracer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	// The default sensors (backend.Defaults) register at init.
	_ "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	_ "github.com/faasmon/faasmon/pkg/tracer/backend/tcpdump"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// Tracer attaches sensors to the targets its source reports.
type Tracer struct {
	Source discovery.Source
	// Sensor is what every sensor's run shares (node, chunking, restarts);
	// a backend's own settings are its package's Configure.
	Sensor  backend.RunConfig
	Kinds   []chunk.Kind // default: backend.Defaults (strace and pcap)
	Sink    func(chunker.Chunk)
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// Exclude names functions never to trace, as "namespace/name" (see
	// ExcludeList). The detector's own functions belong here: tracing
	// faasmon-parse would feed its own work back to it without end. By
	// namespace as well as name, so that a user's function that happens
	// to be called faasmon-graph, in a namespace of its own, is traced.
	Exclude map[string]bool

	backends []backend.Backend
	excluded map[string]bool // keys of excluded targets the backends were told of
	mu       sync.Mutex
	attached map[string]*attachment
	wg       sync.WaitGroup
	healthy  time.Time // last snapshot received
}

type attachment struct {
	target discovery.Target
	cancel context.CancelFunc
	done   chan struct{}
}

// Run follows the source until ctx is done, then detaches everything.
func (t *Tracer) Run(ctx context.Context) error {
	if t.Log == nil {
		t.Log = slog.Default()
	}
	if len(t.Kinds) == 0 {
		t.Kinds = backend.Defaults()
	}
	if t.Sink == nil || t.Metrics == nil || t.Source == nil {
		return errors.New("tracer: Source, Sink and Metrics are required")
	}
	var bs []backend.Backend
	for _, k := range t.Kinds {
		b, ok := backend.Lookup(k)
		if !ok {
			return fmt.Errorf("tracer: no sensor backend for kind %q", k)
		}
		bs = append(bs, b)
	}
	t.backends = bs
	for _, b := range bs {
		if st, ok := b.(backend.Starter); ok {
			if err := st.Start(); err != nil {
				t.Log.Warn("sensor backend did not start; it will try at its first attach", "kind", b.Kind(), "err", err)
			}
		}
	}
	t.excluded = map[string]bool{}
	t.Metrics.Kinds(t.Kinds...)
	if t.Sensor.Log == nil {
		t.Sensor.Log = t.Log
	}
	t.mu.Lock()
	t.attached = map[string]*attachment{}
	t.mu.Unlock()
	err := t.Source.Run(ctx, func(ts []discovery.Target) { t.apply(ctx, ts) })
	t.apply(ctx, nil) // detach all
	t.wg.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	return nil
}

// apply diffs a snapshot against what is attached.
func (t *Tracer) apply(ctx context.Context, ts []discovery.Target) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.healthy = time.Now()
	seen := make(map[string]bool, len(ts))
	seenEx := map[string]bool{}
	for _, tg := range ts {
		if t.Exclude[excludeKey(tg.Namespace, tg.Function)] {
			seenEx[tg.Key] = true
			if !t.excluded[tg.Key] {
				t.excluded[tg.Key] = true
				for _, b := range t.backends {
					if ex, ok := b.(backend.Excluder); ok {
						if err := ex.Exclude(tg); err != nil {
							t.Log.Warn("exclude", "kind", b.Kind(), "function", tg.Function, "err", err)
						}
					}
				}
			}
			continue
		}
		seen[tg.Key] = true
		if _, ok := t.attached[tg.Key]; ok || ctx.Err() != nil {
			continue
		}
		actx, cancel := context.WithCancel(ctx)
		a := &attachment{target: tg, cancel: cancel, done: make(chan struct{})}
		t.attached[tg.Key] = a
		t.Log.Info("attach", "function", tg.Function, "container", tg.Container, "pid", tg.PID, "netns", tg.NetNS)
		var swg sync.WaitGroup
		for _, b := range t.backends {
			swg.Go(func() { backend.Run(actx, b, tg, t.Sensor, t.Metrics, t.Sink) })
		}
		t.wg.Go(func() {
			swg.Wait()
			close(a.done)
		})
	}
	for key := range t.excluded {
		if !seenEx[key] {
			delete(t.excluded, key)
		}
	}
	for key, a := range t.attached {
		if seen[key] {
			continue
		}
		// Detach without waiting under the lock: the sensors flush their last
		// chunk and strace detaches in its own time (bounded by StopGrace).
		t.Log.Info("detach", "function", a.target.Function, "container", a.target.Container)
		a.cancel()
		delete(t.attached, key)
	}
	t.Metrics.Attached.Set(float64(len(t.attached)))
}

// Attached lists the keys of attached targets (for tests and /healthz).
func (t *Tracer) Attached() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.attached))
	for k := range t.attached {
		out = append(out, k)
	}
	return out
}

// Healthy says whether discovery reported within maxAge.
func (t *Tracer) Healthy(maxAge time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.healthy.IsZero() && time.Since(t.healthy) <= maxAge
}

// Handler serves /metrics, /healthz and /attached (the container keys the
// tracer is attached to, so that a caller can wait for a new container to
// be traced before sending it work).
func Handler(m *metrics.Metrics, healthy func() bool, attached func() []string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/attached", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(attached())
	})
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !healthy() {
			http.Error(w, "discovery has not reported recently", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// Serve runs the metrics/health server on addr until ctx is done.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", addr, err)
	}
	return nil
}

// DefaultNamespace is OpenFaaS's function namespace, taken for a target
// whose discovery names none (the local stack's instances).
const DefaultNamespace = "openfaas-fn"

// ExcludeList reads a comma-separated list of functions never to trace:
// "namespace/name", or a bare "name" in ns (the detector's own namespace).
func ExcludeList(list, ns string) map[string]bool {
	out := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if n, name, ok := strings.Cut(f, "/"); ok {
			out[excludeKey(n, name)] = true
			continue
		}
		out[excludeKey(ns, f)] = true
	}
	return out
}

func excludeKey(ns, name string) string {
	if ns == "" {
		ns = DefaultNamespace
	}
	return ns + "/" + name
}

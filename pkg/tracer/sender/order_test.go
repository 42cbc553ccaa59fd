package sender

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// TestStreamOrder: several workers send several streams at once, yet each
// stream arrives in order: with chunk n+1 overtaking chunk n (as it did
// with two workers and a slow answer), the graph stage saw a gap, a
// blind-spot alert, that the late chunk filled a moment later.
func TestStreamOrder(t *testing.T) {
	for _, workers := range []int{2, 4} {
		t.Run(fmt.Sprint(workers, " workers"), func(t *testing.T) {
			g := &gateway{t: t}
			var inflight, peak atomic.Int64
			slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inflight.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
				inflight.Add(-1)
				g.ServeHTTP(w, r)
			})
			srv := httptest.NewServer(slow)
			defer srv.Close()
			m := metrics.New()
			s, err := New(Config{Gateway: srv.URL, SecretDir: secretDir(t), Workers: workers}, m)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			go func() { s.Run(ctx); close(done) }()
			const per = 40
			for i := range per {
				for _, st := range []string{"a", "b", "c"} {
					s.Enqueue(mk(st, uint64(i), 100))
				}
			}
			waitFor(t, "all chunks", func() bool { return metrics.Value(m.ChunksSent.WithLabelValues("strace")) == 3*per })
			s.Close()
			<-done
			last := map[string]int64{"a": -1, "b": -1, "c": -1}
			g.mu.Lock()
			defer g.mu.Unlock()
			for _, h := range g.got {
				if int64(h.Seq) != last[h.Stream]+1 {
					t.Fatalf("stream %s: chunk %d after %d", h.Stream, h.Seq, last[h.Stream])
				}
				last[h.Stream] = int64(h.Seq)
			}
			if peak.Load() < 2 {
				t.Errorf("never more than %d chunk in flight: the streams were not sent concurrently", peak.Load())
			}
		})
	}
}

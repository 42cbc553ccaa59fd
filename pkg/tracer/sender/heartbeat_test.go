package sender

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/heartbeat"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// TestHeartbeat: an idle tracer still sends, signed and in sequence, a
// heartbeat chunk per interval that names its node.
func TestHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every time.Duration
		wait  time.Duration
		min   int
	}{
		{"first at once", time.Hour, 0, 1},
		{"then each interval", 20 * time.Millisecond, 100 * time.Millisecond, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gateway{t: t}
			srv := httptest.NewServer(g)
			defer srv.Close()
			m := metrics.New()
			s, err := New(Config{Gateway: srv.URL, SecretDir: secretDir(t)}, m)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { s.Run(ctx); close(done) }()
			hb := make(chan struct{})
			go func() { s.Heartbeat(ctx, "node-7", tc.every); close(hb) }()
			time.Sleep(tc.wait)
			waitFor(t, "heartbeats", func() bool {
				return metrics.Value(m.ChunksSent.WithLabelValues(string(heartbeat.Kind))) >= float64(tc.min)
			})
			cancel()
			<-hb
			<-done
			g.mu.Lock()
			defer g.mu.Unlock()
			for i, h := range g.got {
				if h.Kind != heartbeat.Kind || h.Node != "node-7" || h.Function != heartbeat.Function || h.Seq != uint64(i) {
					t.Errorf("chunk %d: %+v", i, h)
				}
			}
		})
	}
}

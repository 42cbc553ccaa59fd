package sender

import (
	"context"
	"os"
	"time"

	"github.com/faasmon/faasmon/pkg/heartbeat"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
)

// DefaultHeartbeat is how often a tracer says it is alive: well under the
// silence bound faasmon-graph alerts at (60 s by default), so that one
// lost heartbeat is no alert.
const DefaultHeartbeat = 15 * time.Second

// Heartbeat enqueues a heartbeat chunk for node every interval, the first
// at once, until ctx ends. It goes through the queue like every chunk: a
// tracer whose chunks cannot get out (gateway down, queue wedged) stops
// being heard, which is the point.
func (s *Sender) Heartbeat(ctx context.Context, node string, every time.Duration) {
	if every <= 0 {
		every = DefaultHeartbeat
	}
	start, pid := time.Now(), os.Getpid()
	t := time.NewTicker(every)
	defer t.Stop()
	for seq := uint64(0); ; seq++ {
		h, body := heartbeat.Chunk(node, pid, start, seq, time.Now())
		s.Enqueue(chunker.Chunk{Header: h, Body: body})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

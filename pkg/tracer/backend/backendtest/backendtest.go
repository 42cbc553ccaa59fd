package backendtest

import (
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
)

// Need skips t unless it runs as root with every binary in bins on PATH.
func Need(t *testing.T, bins ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (ptrace, netns)")
	}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("needs %s", b)
		}
	}
}

// Collector gathers the chunks a sensor emits (its Sink).
type Collector struct {
	mu sync.Mutex
	cs []chunker.Chunk
}

// Sink takes one chunk; safe for concurrent use.
func (c *Collector) Sink(ch chunker.Chunk) {
	c.mu.Lock()
	c.cs = append(c.cs, ch)
	c.mu.Unlock()
}

// Streams returns the chunks so far by stream, in arrival order.
func (c *Collector) Streams() map[string][]chunker.Chunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]chunker.Chunk{}
	for _, ch := range c.cs {
		out[ch.Header.Stream] = append(out[ch.Header.Stream], ch)
	}
	return out
}

// WaitFor polls cond until it holds, failing t after d.
func WaitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Target is the discovery target of the running process pid.
func Target(t *testing.T, pid int) discovery.Target {
	st, err := discovery.ProcStart("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	return discovery.Target{Key: "k" + strconv.Itoa(pid), Function: "fn", Namespace: "openfaas-fn", Container: "inst-" + strconv.Itoa(pid),
		PID: pid, PIDs: []int{pid}, StartTicks: st}
}

// CheckStream fails t unless the stream's chunks are numbered 0, 1, …,
// each within chunk.MaxBytes and with a header that parses.
func CheckStream(t *testing.T, name string, cs []chunker.Chunk) {
	t.Helper()
	for i, c := range cs {
		if c.Header.Seq != uint64(i) {
			t.Errorf("stream %s: chunk %d has seq %d", name, i, c.Header.Seq)
		}
		if len(c.Body) > chunk.MaxBytes {
			t.Errorf("stream %s: chunk %d has %d bytes", name, i, len(c.Body))
		}
		hdr := make(map[string][]string)
		c.Header.Set(hdr)
		if _, err := chunk.Parse(hdr); err != nil {
			t.Errorf("stream %s chunk %d: header does not parse: %v", name, i, err)
		}
	}
}

package ebpf_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/backend/backendtest"
	"github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// TestRunThroughIngest is the tracer's path for the ebpf kind: backend.Run
// attached to a process in a fresh cgroup cuts chunks whose headers
// validate, and faasmon-parse's ingest.Chunk turns them into the events.
func TestRunThroughIngest(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (cgroups, CAP_BPF, CAP_PERFMON)")
	}
	b := ebpf.New(ebpf.Config{})
	if _, err := b.Probe(); errors.Is(err, backend.ErrUnavailable) {
		t.Skipf("BPF refused: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	root, err := ebpf.CgroupRoot("/proc")
	if err != nil {
		t.Skip(err)
	}
	cg := filepath.Join(root, fmt.Sprintf("faasmon-ebpf-run-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	defer func() {
		for i := 0; i < 50 && os.Remove(cg) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}()
	file := filepath.Join(t.TempDir(), "marker")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/bash", "-c", `read go; cat "$F" >/dev/null; exit 0`)
	cmd.Env = append(os.Environ(), "F="+file)
	in, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		// A container without a writable cgroup tree (CI): no place
		// to put the workload where the filter singles it out.
		t.Skipf("cannot move pid %d into a cgroup: %v", cmd.Process.Pid, err)
	}

	stop := runChunks(t, b, discovery.Target{Key: "k", Function: "fn", Container: "c1", PID: cmd.Process.Pid})
	_, _ = io.WriteString(in, "go\n")
	in.Close()
	_ = cmd.Wait()
	time.Sleep(2*ebpf.PollInterval + 400*time.Millisecond) // a quiet period closes the chunk
	chunks := stop()

	if len(chunks) == 0 {
		t.Fatal("no chunk")
	}
	var evs []event.Event
	for i, c := range chunks {
		if c.Header.Kind != ebpf.Kind || c.Header.Seq != uint64(i) || c.Header.Function != "fn" || c.Header.Node != "n1" {
			t.Errorf("chunk %d header %+v", i, c.Header)
		}
		if err := c.Header.Validate(); err != nil {
			t.Errorf("chunk %d: %v", i, err)
		}
		batch, err := ingest.Chunk(c.Header, c.Body)
		if err != nil {
			t.Fatalf("ingest chunk %d: %v", i, err)
		}
		if batch.Unparsed != 0 {
			t.Errorf("chunk %d: %d unparsed: %v", i, batch.Unparsed, batch.Errors)
		}
		evs = append(evs, batch.Events...)
	}
	found := false
	for _, e := range evs {
		if e.Kind == event.KindSyscall && e.Syscall == "openat" && e.Path == file && e.Errno == "" {
			found = true
		}
	}
	if !found {
		t.Errorf("no openat of %s among %d events in %d chunks", file, len(evs), len(chunks))
	}
	if !chunk.Known(ebpf.Kind) {
		t.Error("kind ebpf not known to chunk.Parse")
	}
}

// runChunks runs b on tg through backend.Run, as the tracer does, with
// node "n1"; stop ends the run and returns every chunk it cut, in order.
func runChunks(t *testing.T, b backend.Backend, tg discovery.Target) (stop func() []chunker.Chunk) {
	t.Helper()
	var mu sync.Mutex
	var chunks []chunker.Chunk
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	m := metrics.New()
	go func() {
		defer close(done)
		backend.Run(ctx, b, tg, backend.RunConfig{Node: "n1"}, m, func(c chunker.Chunk) {
			mu.Lock()
			chunks = append(chunks, c)
			mu.Unlock()
		})
	}()
	stop = func() []chunker.Chunk {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return chunks
	}
	// Return once attached (backend.Run counts the sensor then), so that
	// the caller's workload is not early on a slow or loaded machine.
	backendtest.WaitFor(t, "the sensor attached", 10*time.Second, func() bool {
		return metrics.Value(m.Sensors.WithLabelValues(string(b.Kind()))) >= 1
	})
	return stop
}

package strace_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/proctest"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/backend/backendtest"
	stracebe "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// TestStraceRestart attaches to a real busy process, kills strace mid-stream
// and checks the restart: a new stream from seq 0, the restart counted, and
// no restart once the tracee is gone.
func TestStraceRestart(t *testing.T) {
	backendtest.Need(t, "strace", "sh")
	tracee := exec.Command("sh", "-c", "while :; do cat /etc/hostname >/dev/null; sleep 0.05; done")
	if err := tracee.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tracee.Process.Kill(); _ = tracee.Wait() }()
	m := metrics.New()
	var col backendtest.Collector
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	tg := backendtest.Target(t, tracee.Process.Pid)
	cfg := backend.RunConfig{Node: "n1", RestartMin: 50 * time.Millisecond, Chunk: chunker.Config{Quiet: 100 * time.Millisecond}}
	go func() {
		backend.Run(ctx, stracebe.New(stracebe.Config{Pin: stracebe.PinSameCPU}), tg, cfg, m, col.Sink)
		close(done)
	}()

	backendtest.WaitFor(t, "first stream's execve", 10*time.Second, func() bool {
		for _, cs := range col.Streams() {
			for _, c := range cs {
				if bytes.Contains(c.Body, []byte(`execve("/usr/bin/cat"`)) {
					return true
				}
			}
		}
		return false
	})
	if v := metrics.Value(m.Sensors.WithLabelValues("strace")); v != 1 {
		t.Fatalf("sensors running = %v", v)
	}
	st := proctest.Children("strace")
	if len(st) != 1 {
		t.Fatalf("strace children: %v", st)
	}
	if err := syscall.Kill(st[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	backendtest.WaitFor(t, "a second stream", 10*time.Second, func() bool { return len(col.Streams()) == 2 })
	if r := metrics.Value(m.Restarts.WithLabelValues("strace")); r != 1 {
		t.Fatalf("restarts = %v, want 1", r)
	}
	backendtest.WaitFor(t, "second stream's data", 10*time.Second, func() bool {
		for name := range col.Streams() {
			if !strings.HasPrefix(name, tg.Container+"-strace-") {
				t.Fatalf("stream name %q", name)
			}
		}
		return len(col.Streams()) == 2 && func() bool {
			n := 0
			for _, cs := range col.Streams() {
				if len(cs) > 0 {
					n++
				}
			}
			return n == 2
		}()
	})
	// The tracee ends: the sensor ends without a restart.
	_ = tracee.Process.Kill()
	_ = tracee.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("sensor did not stop after its tracee died")
	}
	if r := metrics.Value(m.Restarts.WithLabelValues("strace")); r != 1 {
		t.Fatalf("restarts after tracee exit = %v, want 1", r)
	}
	if v := metrics.Value(m.Sensors.WithLabelValues("strace")); v != 0 {
		t.Fatalf("sensors running = %v after stop", v)
	}
	for name, cs := range col.Streams() {
		backendtest.CheckStream(t, name, cs)
		for _, c := range cs {
			for _, l := range bytes.SplitAfter(c.Body, []byte("\n")) {
				if len(l) > 0 && l[len(l)-1] != '\n' {
					t.Fatalf("chunk cut inside a line: %q", l)
				}
			}
		}
	}
}

// TestSyscallSetAcceptedByStrace runs this machine's strace with the set:
// an unknown name makes strace refuse to start ("invalid system call"),
// which would blind every container at once.
func TestSyscallSetAcceptedByStrace(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("needs strace")
	}
	out, err := exec.Command("strace", "-f", "-e", "trace="+stracebe.SyscallSet, "-o", "/dev/null", "true").CombinedOutput()
	if err != nil {
		t.Fatalf("strace refused the set: %v: %s", err, out)
	}
	for _, name := range strings.Split(stracebe.SyscallSet, ",") {
		if strings.TrimPrefix(name, "?") == "" {
			t.Errorf("empty name in SyscallSet")
		}
	}
}

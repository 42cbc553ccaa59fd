package strace_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// TestStraceDetachKeepsTail: the stream is detached (the container ends
// or discovery drops it) right after the process did its work: strace,
// stopped with SIGTERM, still hands over every line it had, and the
// stream's last chunk holds all of the process's opens.
func TestStraceDetachKeepsTail(t *testing.T) {
	backendtest.Need(t, "strace", "bash")
	marker := filepath.Join(t.TempDir(), "marker")
	if err := os.WriteFile(marker, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 300
	tracee := exec.Command("bash", "-c", fmt.Sprintf(`read go; for ((i = 0; i < %d; i++)); do read -r x <"$F"; done; echo done; sleep 30`, n))
	tracee.Env = append(os.Environ(), "F="+marker)
	in, _ := tracee.StdinPipe()
	out, _ := tracee.StdoutPipe()
	if err := tracee.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tracee.Process.Kill(); _ = tracee.Wait() }()
	var col backendtest.Collector
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	tg := backendtest.Target(t, tracee.Process.Pid)
	go func() {
		backend.Run(ctx, stracebe.New(stracebe.Config{}), tg, backend.RunConfig{Node: "n1"}, metrics.New(), col.Sink)
		close(done)
	}()
	backendtest.WaitFor(t, "strace attached", 10*time.Second, func() bool { return proctest.Traced(tracee.Process.Pid) })
	if _, err := in.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel() // detach at once
	<-done
	opens := 0
	for _, cs := range col.Streams() {
		for _, c := range cs {
			opens += bytes.Count(c.Body, []byte(`, "`+marker+`", O_RDONLY)`))
		}
	}
	if opens != n {
		t.Errorf("%d of the %d opens in the stream", opens, n)
	}
}

package ebpf

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/tracer/discovery"
)

// TestFollowFromCreation is a cold start: a container (cgroup) created
// under the followed parent runs its first calls before the tracer
// attaches to it, and they still reach its stream, in order, with those
// made after; a muted sibling's calls are not kept; and the process,
// traced, reads TracerPid 0 (nothing ptrace-attached to it).
func TestFollowFromCreation(t *testing.T) {
	loadOrSkip(t)
	root, err := CgroupRoot("/proc")
	if err != nil {
		t.Skip(err)
	}
	parent, _ := newCgroup(t)
	child := func(name string) (*os.File, uint64) {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Skipf("cannot create a cgroup: %v", err)
		}
		t.Cleanup(func() {
			_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
			for i := 0; i < 50 && os.Remove(dir) != nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		})
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		return f, st.Ino
	}
	b := New(Config{FollowParent: strings.TrimPrefix(parent, root+"/")})
	t.Cleanup(func() { b.Close() })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	m1, m2, status := filepath.Join(tmp, "before-attach"), filepath.Join(tmp, "after-attach"), filepath.Join(tmp, "status")
	for _, f := range []string{m1, m2} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The process is born in its cgroup (clone3 CLONE_INTO_CGROUP), as a
	// container's first process is.
	start := func(cg *os.File, script string) (*exec.Cmd, func()) {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = append(os.Environ(), "M1="+m1, "M2="+m2, "OUT="+status)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Skipf("cannot start a process in a cgroup: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, func() { in.Write([]byte("go\n")); in.Close() }
	}

	mutedF, mutedID := child("muted")
	mutedCmd, mutedGo := start(mutedF, `read x; cat "$M1" >/dev/null; sleep 5`)
	// Records of what ran before the mute (the shell's start) may be held
	// until then; Mute drops them.
	time.Sleep(3 * PollInterval)
	if err := b.Exclude(discovery.Target{Key: "muted", Function: "muted", PID: mutedCmd.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	mutedGo()

	cgF, cg := child("fn")
	_, goOn := start(cgF, `cat "$M1" >/dev/null; cat /proc/self/status >"$OUT"; read x; cat "$M2" >/dev/null`)
	waitFile(t, status)
	time.Sleep(3 * PollInterval) // the first records are out of the ring, held
	b.probe.pmu.Lock()
	_, heldMuted := b.probe.pending[mutedID]
	b.probe.pmu.Unlock()
	if heldMuted {
		t.Error("records of the muted cgroup were kept")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := b.AttachCgroup(ctx, cg, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	goOn()
	var seen []string
	deadline := time.AfterFunc(10*time.Second, func() { s.Close() })
	defer deadline.Stop()
	for {
		ev, err := s.NextEvent()
		if err != nil {
			t.Fatalf("stream ended before both files were seen opened: %v (seen %v)", err, seen)
		}
		if ev.Syscall != "openat" && ev.Syscall != "open" {
			continue
		}
		if strings.HasSuffix(ev.Path, "/before-attach") || strings.HasSuffix(ev.Path, "/after-attach") {
			seen = append(seen, filepath.Base(ev.Path))
		}
		if len(seen) == 2 {
			break
		}
	}
	if strings.Join(seen, ",") != "before-attach,after-attach" {
		t.Errorf("opens seen %v, want before-attach then after-attach", seen)
	}
	st, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), "\nTracerPid:\t0\n") {
		t.Errorf("the traced process sees a tracer:\n%s", st)
	}
}

func waitFile(t *testing.T, p string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if b, _ := os.ReadFile(p); len(b) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s not written", p)
}

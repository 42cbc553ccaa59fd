package ebpf

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
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
	// A container that predates the sensor's following: not born.
	preF, _ := child("pre")
	pre := exec.Command("sleep", "30")
	pre.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(preF.Fd())}
	if err := pre.Start(); err != nil {
		t.Skipf("cannot start a process in a cgroup: %v", err)
	}
	t.Cleanup(func() { _ = pre.Process.Kill(); _ = pre.Wait() })
	time.Sleep(30 * time.Millisecond) // a tick of start time apart

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

	cgF, _ := child("fn")
	fn, goOn := start(cgF, `cat "$M1" >/dev/null; cat /proc/self/status >"$OUT"; read x; cat "$M2" >/dev/null`)
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
	target := func(pid int) discovery.Target {
		st, err := discovery.ProcStart("/proc", pid)
		if err != nil {
			t.Fatal(err)
		}
		return discovery.Target{Key: strconv.Itoa(pid), PID: pid, StartTicks: st}
	}
	bs, err := b.Attach(ctx, target(fn.Process.Pid), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	s := bs.(*Stream)
	defer s.Close()
	// Started after the following began: its chunks say so (Born), and
	// the one that predates it does not.
	var h chunk.Header
	if s.Annotate(&h); !h.Born {
		t.Error("a container created while followed is not marked born")
	}
	ps, err := b.Attach(ctx, target(pre.Process.Pid), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	h = chunk.Header{}
	if ps.(*Stream).Annotate(&h); h.Born {
		t.Error("a container that predates the following is marked born")
	}
	ps.Close()
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

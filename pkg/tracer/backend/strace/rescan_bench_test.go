package strace

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/tracer/discovery"
)

// BenchmarkRescan is one poll of the watcher over a container of 10
// processes, in steady state (every process known): the cost the watcher
// adds per container and DefaultRescan. Run as root:
//
//	go test -run XXX -bench Rescan ./pkg/tracer/backend/strace/
func BenchmarkRescan(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	root, err := discovery.CgroupRoot("/proc")
	if err != nil {
		b.Skip(err)
	}
	cg := filepath.Join(root, fmt.Sprintf("faasmon-strace-bench-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		b.Skipf("cannot create a cgroup: %v", err)
	}
	defer func() {
		for i := 0; i < 50 && os.Remove(cg) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}()
	known := map[int]member{}
	for range 10 {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		pid := cmd.Process.Pid
		if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			b.Skipf("cannot move pid %d into a cgroup: %v", pid, err)
		}
		st, _ := discovery.ProcStart("/proc", pid)
		// Known and given up: the poll reads all a followed process
		// costs (cgroup.procs, stat, status) and starts no strace.
		known[pid] = member{start: st, state: failed}
	}
	s := &stream{cfg: Config{Rescan: time.Second, Log: slog.Default()}.withDefaults(), procRoot: "/proc",
		t: discovery.Target{Container: "bench", Cgroup: cg}, tracers: map[int]bool{}, foreignTracers: map[int]bool{}}
	b.ResetTimer()
	for b.Loop() {
		if err := s.rescan(known); err != nil {
			b.Fatal(err)
		}
	}
}

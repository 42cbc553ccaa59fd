package ebpf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/tracer/discovery"
)

// TestAdopt: a target in the tracer's own cgroup is refused (its filter
// would trace the tracer itself), or, with Adopt (the local stack), moved
// into a cgroup of its own.
func TestAdopt(t *testing.T) {
	loadOrSkip(t)
	root, err := CgroupRoot("/proc")
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	tg := discovery.Target{Key: fmt.Sprintf("adopt-test-%d", os.Getpid()), PID: cmd.Process.Pid}
	self, _ := CgroupID("/proc", root, os.Getpid())
	if id, _ := CgroupID("/proc", root, tg.PID); id != self {
		t.Skip("the child is not in this test's cgroup")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if _, err := New(Config{}).Attach(ctx, tg, 0); err == nil || !strings.Contains(err.Error(), "cannot single it out") {
		t.Fatalf("Attach without Adopt = %v, want a refusal", err)
	}
	b := New(Config{Adopt: true})
	defer b.Close()
	s, err := b.Attach(ctx, tg, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := filepath.Join(root, "faasmon", tg.Key)
	defer func() {
		// Give the process back to our cgroup so that the directory can go.
		rel, _ := os.ReadFile("/proc/self/cgroup")
		for _, l := range strings.Split(string(rel), "\n") {
			if p, ok := strings.CutPrefix(l, "0::"); ok {
				_ = os.WriteFile(filepath.Join(root, p, "cgroup.procs"), []byte(strconv.Itoa(tg.PID)), 0)
			}
		}
		for i := 0; i < 50 && os.Remove(dir) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		_ = os.Remove(filepath.Dir(dir)) // faasmon/, unless a local tracer uses it
	}()
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil || !strings.Contains(string(procs), strconv.Itoa(tg.PID)) {
		t.Fatalf("pid %d not in %s: %q %v", tg.PID, dir, procs, err)
	}
	id, err := CgroupID("/proc", root, tg.PID)
	if err != nil || id == self {
		t.Errorf("after adoption the target's cgroup is %d (tracer's %d): %v", id, self, err)
	}
}

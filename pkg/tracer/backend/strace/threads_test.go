package strace

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestThreads(t *testing.T) {
	// A fake /proc: process 10 with threads 11 and 12, process 20 alone,
	// process 30 gone.
	root := t.TempDir()
	for _, p := range []string{"10/task/10", "10/task/11", "10/task/12", "20/task/20"} {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := Threads(root, []int{10, 20, 30})
	if len(m) != 2 || m[11] != 10 || m[12] != 10 {
		t.Errorf("threads %v, want 11→10 and 12→10", m)
	}
	// The real /proc: this test process has runtime threads.
	self := os.Getpid()
	real := Threads("/proc", []int{self})
	if len(real) == 0 {
		t.Fatal("no threads of the Go test process in /proc")
	}
	for tid, pid := range real {
		if pid != self || tid == self {
			t.Errorf("%d → %d", tid, pid)
		}
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(self), "task", strconv.Itoa(tid))); err != nil {
			t.Errorf("tid %d: %v", tid, err)
		}
	}
}

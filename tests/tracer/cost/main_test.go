package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestReapedChildrenCountedOnce: a child's CPU is its own group's, not
// also its parent's (which gets it again as reaped-children time).
func TestReapedChildrenCountedOnce(t *testing.T) {
	for _, tc := range []struct {
		name             string
		parent, child    cpu // last samples (first: zero, both born in the run)
		childAlive       bool
		wantPar, wantKid uint64
	}{
		{"child still running", cpu{5, 0}, cpu{8, 0}, true, 5, 8},
		{"child reaped after its last sample", cpu{5, 10}, cpu{8, 0}, false, 7, 8},
		{"child's own reaped child", cpu{5, 12}, cpu{3, 9}, false, 5, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAccount(1)
			par := &proc{pid: 10, ppid: 1, start: 1, group: "par", last: tc.parent, alive: true, round: 2}
			kid := &proc{pid: 11, ppid: 10, start: 2, group: "kid", last: tc.child, alive: tc.childAlive, round: 1}
			a.procs[key{10, 1}], a.procs[key{11, 2}] = par, kid
			g := a.groups()
			if g["par"] != tc.wantPar || g["kid"] != tc.wantKid {
				t.Errorf("parent %d child %d, want %d %d", g["par"], g["kid"], tc.wantPar, tc.wantKid)
			}
		})
	}
}

// TestSampleRealProcess: a busy child of this process is seen and its CPU
// counted in this tool's own tree.
func TestSampleRealProcess(t *testing.T) {
	a := newAccount(os.Getpid())
	a.sample("http://127.0.0.1:1", true)
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(50 * time.Millisecond):
			a.sample("http://127.0.0.1:1", false)
		}
	}
	a.sample("http://127.0.0.1:1", false)
	if got := a.groups()["other (builds, go run)"]; got == 0 {
		t.Errorf("the busy child's CPU was not counted: %v", a.groups())
	}
}

// TestSensorProcessesOnlyTheTracers: strace and tcpdump are the tracer's
// cost only when the tracer started them; one run by a test elsewhere on
// the machine is nobody's here.
func TestSensorProcessesOnlyTheTracers(t *testing.T) {
	a := newAccount(1)
	for _, p := range []*proc{
		{pid: 20, ppid: 1, comm: "faasmon-tracer"},
		{pid: 21, ppid: 20, comm: "strace"},
		{pid: 22, ppid: 20, comm: "tcpdump"},
		{pid: 30, ppid: 1, comm: "go"},
		{pid: 31, ppid: 30, comm: "strace"},
	} {
		a.byPid[p.pid] = p
	}
	for _, c := range []struct {
		pid  int
		want string
	}{
		{21, "tracer: strace"},
		{22, "tracer: tcpdump"},
		{31, ""},
	} {
		if got := a.classify(a.byPid[c.pid]); got != c.want {
			t.Errorf("pid %d: group %q, want %q", c.pid, got, c.want)
		}
	}
}

package localstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDaemonAliveWhileWrapperExecs reproduces the first-run race of issue
// 12 deterministically: the daemon is a wrapper that sleeps before it execs
// the real binary (as `unshare … sh -c '…; exec worker'` does when the page
// cache is cold). Throughout that window the daemon must count as running,
// and the readiness wait must not call it dead; after the exec too.
func TestDaemonAliveWhileWrapperExecs(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1)")
	}
	sleep, _ = filepath.EvalSymlinks(sleep)
	d := Dirs{State: t.TempDir()}
	if err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	dm := daemon{Name: "wrapped", Path: "sh", Exe: sleep,
		Args: []string{"-c", `sleep 0.6; exec "$0" 30`, sleep}}
	started, err := dm.start(d)
	if err != nil || !started {
		t.Fatalf("start: %v %v", started, err)
	}
	t.Cleanup(func() { _ = stopDaemon(d, dm.Name, time.Second) })

	pid, ok := runningPID(d, dm.Name)
	if !ok {
		t.Fatal("the wrapper, before its exec, counts as not running")
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe == sleep {
		t.Fatalf("the wrapper had already exec'd %s: the test did not hit the window", exe)
	}
	// The readiness wait polls liveness between checks: a check that is
	// not ready yet must not turn into "exited" during the window.
	ready := time.Now().Add(900 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = waitFor(ctx, d, dm.Name, func(context.Context) error {
		if time.Now().Before(ready) {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("readiness wait across the exec: %v", err)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe != sleep {
		t.Fatalf("after the window the daemon runs %q, want %q", exe, sleep)
	}
	if p2, ok := runningPID(d, dm.Name); !ok || p2 != pid {
		t.Fatalf("after the exec: pid %d running %v, want %d", p2, ok, pid)
	}
	if err := stopDaemon(d, dm.Name, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := runningPID(d, dm.Name); ok {
		t.Fatal("stopped daemon still counts as running")
	}
}

// TestPIDRecordIdentity: a recorded pid counts only while the same process
// (pid and start time) lives; a reused pid does not.
func TestPIDRecordIdentity(t *testing.T) {
	self := os.Getpid()
	start, err := procStartTime(self)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Readlink("/proc/self/exe")
	for _, tc := range []struct {
		name string
		file string
		want bool
	}{
		{"same process", fmt.Sprintf("%d %d /x/y", self, start), true},
		{"reused pid: other start time", fmt.Sprintf("%d %d %s", self, start+1, exe), false},
		{"older form, same exe", fmt.Sprintf("%d %s", self, exe), true},
		{"older form, other exe", fmt.Sprintf("%d /usr/bin/nothing-like-this", self), false},
		{"dead pid", fmt.Sprintf("%d %d x", 1<<22+7, start), false},
		{"garbage", "abc", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Dirs{State: t.TempDir()}
			if err := os.MkdirAll(d.Run(), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(pidFile(d, "x"), []byte(tc.file+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, got := runningPID(d, "x"); got != tc.want {
				t.Fatalf("%q: running %v, want %v", strings.TrimSpace(tc.file), got, tc.want)
			}
		})
	}
}

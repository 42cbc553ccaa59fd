package localstack

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Tests of several packages (go test ./... runs them as parallel processes)
// share the one stack a machine can run. Each test process holds a shared
// flock on users.lock while it uses the stack; the last one out (the one
// that gets the lock exclusively) takes the stack down, but only if a test
// started it: a stack from `make up` is left running.
var testUse struct {
	sync.Mutex
	refs  int
	users *os.File
	stack *Stack
}

const startedByTestFile = "started-by-test"

// TB is the part of testing.TB that StartForTest uses. It is an interface
// of its own so that this package, which development commands such as
// faasmon-stack and faasmon-demo link, does not import Go's testing package;
// a *testing.T or *testing.B satisfies it.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
}

// StartForTest returns a running, healthy stack for t: it reuses a running
// one or starts it (state dir from FAASMON_STACK_DIR). It skips t under
// -short (`make unit` starts nothing) and when not root. When the stack was
// started by tests, the last test process to finish takes it down and fails
// t if a namespace or veth of ours is left behind.
// Functions a test deploys are the test's to delete (t.Cleanup).
func StartForTest(t TB) *Stack {
	t.Helper()
	if testingShort() {
		t.Skip("starts the local stack; skipped under -short (make unit)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the local stack needs root (network namespaces, mounts); run as root or in CI")
	}
	wd, _ := os.Getwd()
	repo, err := RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	testUse.Lock()
	defer testUse.Unlock()
	if testUse.refs == 0 {
		s, err := NewStack(StateDirFromEnv(), repo)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Dirs.Ensure(); err != nil {
			t.Fatal(err)
		}
		users, err := lockFile(filepath.Join(s.Dirs.Run(), "users.lock"), syscall.LOCK_SH)
		if err != nil {
			t.Fatal(err)
		}
		if err := upOnce(s); err != nil {
			users.Close()
			t.Fatalf("local stack up: %v (logs in %s)", err, s.Dirs.Logs())
		}
		testUse.users, testUse.stack = users, s
	}
	testUse.refs++
	s := testUse.stack
	t.Cleanup(func() {
		testUse.Lock()
		defer testUse.Unlock()
		testUse.refs--
		if testUse.refs > 0 {
			return
		}
		if err := releaseForTest(s, testUse.users); err != nil {
			t.Errorf("local stack down: %v", err)
		}
		testUse.users, testUse.stack = nil, nil
	})
	return s
}

// testingShort is testing.Short() read through the flag the test binary
// registers, so that this package need not import testing (see TB).
func testingShort() bool {
	f := flag.Lookup("test.short")
	return f != nil && f.Value.String() == "true"
}

// upOnce starts the stack unless healthy, serialised across processes.
func upOnce(s *Stack) error {
	up, err := lockFile(filepath.Join(s.Dirs.Run(), "up.lock"), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer up.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if s.Healthy(ctx) {
		return nil
	}
	marker := filepath.Join(s.Dirs.Run(), startedByTestFile)
	if _, running := runningPID(s.Dirs, cGateway); !running {
		// Nothing of a manual stack is running: whatever we start is ours.
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			return err
		}
	}
	return s.Up(ctx)
}

// releaseForTest drops this process's use; the last user downs a stack that
// tests started.
func releaseForTest(s *Stack, users *os.File) error {
	users.Close() // drops the shared lock
	last, err := lockFile(filepath.Join(s.Dirs.Run(), "users.lock"), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		return nil // another test process still uses the stack
	}
	defer last.Close()
	marker := filepath.Join(s.Dirs.Run(), startedByTestFile)
	if _, err := os.Stat(marker); err != nil {
		return nil // started by hand (make up): leave it running
	}
	if err := s.Down(context.Background()); err != nil {
		return err
	}
	_ = os.Remove(marker)
	if left := append(OurNetns(), OurLinks()...); len(left) > 0 {
		return fmt.Errorf("namespaces/veths left after down: %v", left)
	}
	return nil
}

func lockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return f, nil
}

// Deploy builds and deploys the functions of a stack file (filter: glob on
// names, "" for all) and returns their names.
func (s *Stack) Deploy(ctx context.Context, stackFile, filter string) ([]string, error) {
	return DeployStack(ctx, DeployOptions{StackFile: stackFile, Filter: filter, Repo: s.Repo, Dirs: s.Dirs})
}

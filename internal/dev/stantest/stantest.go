package stantest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/localstack"
	stan "github.com/nats-io/stan.go"
)

// EnvBinary optionally names another nats-streaming-server binary.
const EnvBinary = "FAASMON_NATS_STREAMING_SERVER"

const name = "nats-streaming-server"

// BuildTimeout bounds building the tools on a fresh machine (module
// downloads included).
const BuildTimeout = 15 * time.Minute

var (
	once   sync.Once
	binary string
	binErr error
)

// Binary returns the path of nats-streaming-server: $FAASMON_NATS_STREAMING_SERVER
// when set, else <repo>/.cache/bin/nats-streaming-server, built there first
// (with the stack's other OpenFaaS tools, localstack.EnsureTools, at the
// versions pinned by tools/go.mod) when missing. It fails the test when the
// binary can be neither found nor built.
func Binary(t testing.TB) string {
	t.Helper()
	once.Do(func() { binary, binErr = find() })
	if binErr != nil {
		t.Fatalf("nats-streaming-server: %v", binErr)
	}
	return binary
}

func executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

func find() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if executable(p) {
			return p, nil
		}
		return "", fmt.Errorf("%s=%s is not an executable", EnvBinary, p)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	repo, err := localstack.RepoRoot(wd)
	if err != nil {
		return "", err
	}
	return ensure(repo)
}

// ensure returns <repo>/.cache/bin/nats-streaming-server, building the
// missing tools under a lock, so that test binaries running in parallel
// build once and never run a half-written file.
func ensure(repo string) (string, error) {
	bin := localstack.BinDir(repo)
	p := filepath.Join(bin, name)
	if executable(p) {
		return p, nil
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(bin, ".build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if executable(p) { // built while we waited
		return p, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	defer cancel()
	start := time.Now()
	if err := localstack.EnsureTools(ctx, repo); err != nil {
		return "", err
	}
	if !executable(p) {
		return "", fmt.Errorf("built the tools but %s is missing", p)
	}
	fmt.Fprintf(os.Stderr, "stantest: built %s in %v\n", p, time.Since(start).Round(time.Millisecond))
	return p, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs a memory-store nats-streaming-server with the given cluster id
// on a free loopback port until the test ends, and returns its URL once a
// streaming client can connect. Under -short (make unit, which starts
// nothing) it skips t instead.
func Start(t testing.TB, clusterID string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a nats-streaming-server; skipped under -short (make unit)")
	}
	bin := Binary(t)
	var lastErr error
	for try := 0; try < 3; try++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-cid", clusterID, "-st", "MEMORY")
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		url := fmt.Sprintf("nats://127.0.0.1:%d", port)
		deadline := time.Now().Add(15 * time.Second)
	wait:
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				lastErr = fmt.Errorf("server exited")
				break wait
			default:
			}
			sc, err := stan.Connect(clusterID, fmt.Sprintf("stantest-probe-%d", time.Now().UnixNano()), stan.NatsURL(url), stan.ConnectWait(time.Second))
			if err == nil {
				sc.Close()
				t.Cleanup(stop)
				return url
			}
			lastErr = err
			time.Sleep(50 * time.Millisecond)
		}
		stop()
		t.Logf("nats-streaming-server on port %d not ready: %v; logs: %s", port, lastErr, logs.String())
	}
	t.Fatalf("nats-streaming-server did not start")
	return ""
}

package lab

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/faasmon/faasmon/internal/dev/localstack"
)

// GraphArchive is faasmon-graph's archive_dir in the repository's stack.yml.
const GraphArchive = "/var/tmp/faasmon/graphs"

// TracerAddr is where the lab's tracer serves /metrics and /healthz.
const TracerAddr = "127.0.0.1:9464"

// Tracer is the faasmon tracer running against the local stack, as the
// DaemonSet runs on a node.
type Tracer struct {
	cmd  *exec.Cmd
	done chan error
	Log  string
}

// StartTracer builds the tracer into the repository's tool cache and runs
// it with the local provider as its discovery source and the stack's
// gateway credentials. It returns once the tracer reports healthy.
func StartTracer(ctx context.Context, repo, stackDir string) (*Tracer, error) {
	bin := filepath.Join(localstack.BinDir(repo), "faasmon-tracer")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./tracer-daemonset/cmd/faasmon-tracer")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build tracer: %v: %s", err, out)
	}
	t := &Tracer{Log: filepath.Join(stackDir, "logs", "faasmon-tracer.log"), done: make(chan error, 1)}
	logf, err := os.OpenFile(t.Log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tracer log: %w", err)
	}
	args := []string{"-source", "local", "-secret-dir", filepath.Join(stackDir, "auth"), "-listen", TracerAddr}
	if os.Getenv("FAASMON_CGROUP_PARENT") == "" {
		// The eBPF sensor (the default where it loads) follows the
		// provider's instances from creation, so a cold start's first
		// invocation is traced; strace ignores it.
		args = append(args, "-cgroup-parent", localstack.FunctionCgroup)
	}
	t.cmd = exec.Command(bin, args...)
	t.cmd.Stdout, t.cmd.Stderr = logf, logf
	if err := t.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start tracer: %w", err)
	}
	go func() { t.done <- t.cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-t.done:
			return nil, fmt.Errorf("tracer exited at start: %v (log %s)", err, t.Log)
		case <-time.After(200 * time.Millisecond):
		}
		if res, err := http.Get("http://" + TracerAddr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return t, nil
			}
		}
	}
	t.Stop()
	return nil, fmt.Errorf("tracer not healthy within 20s (log %s)", t.Log)
}

// Stop ends the tracer (it detaches strace and flushes its last chunks on
// SIGTERM) and waits for it.
func (t *Tracer) Stop() error {
	if t == nil || t.cmd.Process == nil {
		return nil
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-t.done:
		return err
	case <-time.After(10 * time.Second):
		_ = t.cmd.Process.Kill()
		return <-t.done
	}
}

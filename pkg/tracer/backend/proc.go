package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Proc is a sensor that runs as a child process whose standard output is
// its stream (strace, tcpdump): the part those backends share.
type Proc struct {
	name   string
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *tailBuffer
	cancel context.CancelFunc
}

// StartProc starts name with args; label (the sensor's kind) names it in
// errors, as name may be nsenter. The end of ctx, or Stop, sends it
// SIGTERM (strace detaches cleanly on SIGTERM; a SIGKILLed tracer can leave
// a tracee stopped); SIGKILL follows after grace.
func StartProc(ctx context.Context, label, name string, args []string, grace time.Duration) (*Proc, error) {
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = grace
	p := &Proc{name: label, cmd: cmd, stderr: &tailBuffer{max: 2048}, cancel: cancel}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s stdout: %w", label, err)
	}
	p.out = out
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	return p, nil
}

// Stdout is the process's output; read it to its end before End.
func (p *Proc) Stdout() io.Reader { return p.out }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stop asks the process to end (SIGTERM); its output then ends.
func (p *Proc) Stop() { p.cancel() }

// End waits for the process, once its output ended with rerr, and says
// why the stream ended: always an error, naming the exit status and the
// tail of its stderr.
func (p *Proc) End(rerr error) error {
	werr := p.cmd.Wait()
	p.cancel()
	switch {
	case werr != nil:
		return fmt.Errorf("%s exited: %w (stderr: %q)", p.name, werr, p.stderr.String())
	case rerr != nil && !errors.Is(rerr, io.EOF):
		return fmt.Errorf("%s output: %w", p.name, rerr)
	default:
		return fmt.Errorf("%s exited (stderr: %q)", p.name, p.stderr.String())
	}
}

// Signaled says whether the process was ended by a signal; ask after End.
// A tracer killed from outside (SIGKILL, the OOM killer) ends so, and its
// tracees then run on untraced.
func (p *Proc) Signaled() bool {
	if p.cmd.ProcessState == nil {
		return false
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// tailBuffer keeps the last max bytes written (a sensor's stderr, for logs).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

package localstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemon is one long-running part of the stack (NATS Streaming, Prometheus,
// the provider, the gateway, the queue-worker), tracked by a pid file so that
// a later `up` finds it and `down` stops it from another process.
type daemon struct {
	Name string
	Path string
	Args []string
	Env  []string // added to a minimal environment
	Dir  string
	// Exe is the binary the process ends up running when Path is a
	// wrapper that execs it (unshare … exec worker); default Path.
	Exe   string
	Ready func(ctx context.Context) error
	// Addrs it listens on: they must be free before it starts, or the
	// readiness check would pass on someone else's server.
	Addrs []string
}

func pidFile(d Dirs, name string) string { return filepath.Join(d.Run(), name+".pid") }

// runningPID returns the pid recorded for name when that process is still
// alive and is still the process that was started.
//
// A daemon's identity is its pid and its start time in clock ticks since
// boot (/proc/PID/stat field 22): execve keeps both, a reused pid cannot
// have the same start time. Comparing /proc/PID/exe with the daemon's
// binary, as this did before, called a live daemon dead while its wrapper
// chain (unshare → sh → exec worker) had not yet reached its last exec: on a
// fresh machine, with nothing in the page cache, the readiness poll landed
// in that window and `up` failed. The wrapper is the daemon until it execs.
//
// A pid file of the older form "PID EXE" (a stack left by an older
// version) is still read, by its exe.
func runningPID(d Dirs, name string) (int, bool) {
	b, err := os.ReadFile(pidFile(d, name))
	if err != nil {
		return 0, false
	}
	rec, err := parsePIDRecord(b)
	if err != nil {
		return 0, false
	}
	return rec.PID, rec.alive()
}

// pidRecord is one line of a pid file: "PID START EXE".
type pidRecord struct {
	PID   int
	Start uint64 // start time in clock ticks after boot; 0 in the older form
	Exe   string // the binary the daemon ends up running (for people and the older form)
}

func (r pidRecord) String() string { return fmt.Sprintf("%d %d %s\n", r.PID, r.Start, r.Exe) }

func parsePIDRecord(b []byte) (pidRecord, error) {
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return pidRecord{}, errors.New("empty pid file")
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 0 {
		return pidRecord{}, fmt.Errorf("bad pid %q", fields[0])
	}
	r := pidRecord{PID: pid}
	rest := fields[1:]
	if len(rest) > 0 {
		if st, err := strconv.ParseUint(rest[0], 10, 64); err == nil {
			r.Start, rest = st, rest[1:]
		}
	}
	r.Exe = strings.Join(rest, " ")
	return r, nil
}

// alive says whether the recorded process still runs.
func (r pidRecord) alive() bool {
	if !processAlive(r.PID) {
		return false
	}
	if r.Start != 0 {
		st, err := procStartTime(r.PID)
		return err == nil && st == r.Start
	}
	if r.Exe == "" {
		return true
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", r.PID))
	return err == nil && strings.TrimSuffix(exe, " (deleted)") == r.Exe
}

// procStartTime reads field 22 of /proc/PID/stat, the process's start time
// in clock ticks after boot.
func procStartTime(pid int) (uint64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: count
	// from the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// processAlive is kill(pid, 0) minus zombies, which kill still reaches.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// state is the first field after the parenthesised command name.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// start launches the daemon unless it already runs; it returns whether it
// started it. Daemons get their own session so that a Ctrl-C on `make up`
// does not take them down, and log to logs/<name>.log.
func (dm daemon) start(d Dirs) (bool, error) {
	if _, ok := runningPID(d, dm.Name); ok {
		return false, nil
	}
	for _, a := range dm.Addrs {
		if dialOK(context.Background(), a) == nil {
			return false, fmt.Errorf("%s: %s is already in use by a process the stack did not start (a stack of another state dir?)", dm.Name, a)
		}
	}
	logPath := filepath.Join(d.Logs(), dm.Name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return false, fmt.Errorf("%s: open log: %w", dm.Name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n=== %s starting %s %s\n", time.Now().Format(time.RFC3339), dm.Path, strings.Join(dm.Args, " "))
	cmd := exec.Command(dm.Path, dm.Args...)
	cmd.Dir = dm.Dir
	cmd.Env = append(baseEnv(), dm.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	closeInheritedOnExec()
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("%s: start %s: %w", dm.Name, dm.Path, err)
	}
	// Reap it if it exits while we live, so a crashed daemon is not mistaken
	// for a running zombie.
	go func() { _ = cmd.Wait() }()
	exe, _ := filepath.Abs(cmd.Path) // cmd.Path is resolved through PATH
	if dm.Exe != "" {
		exe = dm.Exe
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	start, err := procStartTime(cmd.Process.Pid)
	if err != nil {
		// It died at once; the pid file would name nobody. The readiness
		// wait reports it with the daemon's log.
		start = 1
	}
	rec := pidRecord{PID: cmd.Process.Pid, Start: start, Exe: exe}
	if err := os.WriteFile(pidFile(d, dm.Name), []byte(rec.String()), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return false, fmt.Errorf("%s: write pid file: %w", dm.Name, err)
	}
	return true, nil
}

// closeInheritedOnExec marks the descriptors this process inherited (Go
// opens its own close-on-exec) close-on-exec, so that a daemon, which
// outlives us, does not keep them open: a flock(1) lock held by whoever ran
// the tests stayed held by a gateway the tests had restarted.
func closeInheritedOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// stopDaemon sends SIGTERM, waits up to grace, then SIGKILLs, and removes the
// pid file. A missing or stale pid file is not an error.
func stopDaemon(d Dirs, name string, grace time.Duration) error {
	defer os.Remove(pidFile(d, name))
	pid, ok := runningPID(d, name)
	if !ok {
		return nil
	}
	return stopPID(pid, grace)
}

func stopPID(pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("signal %d: %w", pid, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !processAlive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	for i := 0; i < 40 && processAlive(pid); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	return nil
}

// baseEnv is what every daemon inherits: a PATH and HOME, nothing else from
// the caller's environment, so that a developer's shell settings (GOFLAGS,
// proxies, OPENFAAS_*) do not leak into the stack.
func baseEnv() []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if h := os.Getenv("HOME"); h != "" {
		env = append(env, "HOME="+h)
	}
	return env
}

// waitFor polls check until it succeeds, ctx ends, or the process dies.
func waitFor(ctx context.Context, d Dirs, name string, check func(context.Context) error) error {
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		if _, ok := runningPID(d, name); !ok {
			return fmt.Errorf("%s exited; see %s: %w", name, filepath.Join(d.Logs(), name+".log"), last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", name, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

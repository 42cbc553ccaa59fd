package localstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// running is one live function process with what the provider needs to
// stop it and to tell why it died.
type running struct {
	Instance
	slot    netSlot
	dir     string // instances/<id>: private copy (home/) and secrets/
	logPath string
	logFrom int64  // where this instance's output starts in logPath
	cgroup  string // its cgroup v2 directory ("" if it has none)
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process exited
	exitErr error
}

// instanceRecord is written to run/instances/<id>.json so that down can kill
// instances even when the provider itself died without cleaning up.
type instanceRecord struct {
	PID   int    `json:"pid"`
	NetNS string `json:"netns"`
	Slot  int    `json:"slot"`
	Dir   string `json:"dir"`
}

func newID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startOptions is what an instance is started from.
type startOptions struct {
	Name      string
	Namespace string
	Artefact  string   // build dir, copied privately
	FProcess  []string // argv run inside the sandbox
	Env       map[string]string
	Secrets   []string // names in the provider's secret store
	Labels    map[string]string
	Slot      int
	Ready     time.Duration
}

// startInstance makes a private copy, a network namespace and a sandboxed
// process, and waits until the process answers HTTP. On failure it cleans
// up and returns an error that carries the tail of the process's log.
func (p *Provider) startInstance(ctx context.Context, o startOptions) (_ *running, err error) {
	id := newID()
	r := &running{
		Instance: Instance{
			Function:  o.Name,
			Namespace: o.Namespace,
			ID:        id,
			Labels:    o.Labels,
			Image:     artefactVersion(o.Name, o.Artefact),
		},
		slot:    slotFor(o.Slot),
		dir:     filepath.Join(p.dirs.Instances(), o.Name+"-"+id),
		logPath: filepath.Join(p.dirs.Logs(), "functions", o.Name+".log"),
		done:    make(chan struct{}),
	}
	r.NetNS = r.slot.Path()
	r.IP = r.slot.FnIP
	defer func() {
		if err != nil {
			p.cleanupInstance(r)
		}
	}()

	home, secrets := filepath.Join(r.dir, "home"), filepath.Join(r.dir, "secrets")
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, fmt.Errorf("instance dir: %w", err)
	}
	if err := copyTree(o.Artefact, home, p.user.UID, p.user.GID); err != nil {
		return nil, fmt.Errorf("private copy of %s: %w", o.Artefact, err)
	}
	if err := p.materialiseSecrets(secrets, o.Secrets); err != nil {
		return nil, err
	}
	if err := r.slot.setup(ctx); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(filepath.Dir(r.logPath), 0o700); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open function log: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== %s instance %s starting in %s (%s): %v\n", time.Now().Format(time.RFC3339), id, r.slot.NS, r.IP, o.FProcess)
	if st, err := logf.Stat(); err == nil {
		r.logFrom = st.Size()
	}

	argv := sandboxCommand(r.slot.NS, home, secrets, p.user, o.FProcess)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = functionEnv(o.Env, joinArgs(o.FProcess))
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a signal to the provider's group (Ctrl-C in a
	// terminal) must not reach functions behind the provider's back.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A cgroup of its own from its first instruction, as a container has
	// (FunctionCgroup); where cgroups cannot be made (a CI container) the
	// instance runs in the provider's.
	if cg, dir, err := instanceCgroup(o.Name + "-" + id); err == nil {
		defer cg.Close()
		r.cgroup = dir
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(cg.Fd())
	} else {
		fmt.Fprintf(logf, "=== no cgroup of its own: %v\n", err)
	}
	err = cmd.Start()
	if err != nil && r.cgroup != "" {
		fmt.Fprintf(logf, "=== cannot start in cgroup %s (%v): started in the provider's\n", r.cgroup, err)
		_ = removeCgroup(r.cgroup)
		r.cgroup = ""
		cmd = exec.Command(argv[0], argv[1:]...)
		cmd.Env = functionEnv(o.Env, joinArgs(o.FProcess))
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("start %v: %w", o.FProcess, err)
	}
	r.cmd = cmd
	r.PID = cmd.Process.Pid
	r.Started = time.Now().UTC()
	go func() {
		r.exitErr = cmd.Wait()
		close(r.done)
	}()
	if err := p.writeRecord(r); err != nil {
		return nil, err
	}
	if err := r.waitReady(ctx, o.Ready); err != nil {
		return nil, err
	}
	return r, nil
}

// waitReady polls the function's port until it accepts a connection, the
// process dies or the timeout passes. An accepted connection is what
// of-watchdog's /_/health reports too (it answers the probe itself, without
// calling the function): probing through the handler would call it, and a
// function that takes seconds per request (store-functions' sleep) would
// never look ready.
func (r *running) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := netJoin(r.IP, FunctionPort)
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	for {
		if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-r.done:
			return &startError{msg: fmt.Sprintf("function process exited during start (%v)", r.exitErr), log: r.logTail(4000)}
		case <-ctx.Done():
			return &startError{msg: fmt.Sprintf("function not listening on %s after %s", addr, timeout), log: r.logTail(4000)}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startError is a failed start; the provider answers it with a 5xx that
// includes the tail of the function's log.
type startError struct {
	msg string
	log string
}

func (e *startError) Error() string { return e.msg + "\n--- log tail ---\n" + e.log }

func (r *running) logTail(n int64) string {
	f, err := os.Open(r.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	from := max(r.logFrom, st.Size()-n)
	b, _ := io.ReadAll(io.NewSectionReader(f, from, st.Size()-from))
	return string(b)
}

// stopInstance kills every process in the instance's namespace (the handler
// and anything a payload forked off), then removes namespace, copy and /tmp
// (the tmpfs dies with the last process of its mount namespace). The
// instance's own processes (its cgroup) go first, as a kubelet stops a
// pod's containers: the tracer's tcpdump also runs in the namespace, and
// killed first it was restarted for a container still alive, a blind spot
// reported on every recycle that was only the teardown.
func (p *Provider) stopInstance(r *running) {
	if r == nil {
		return
	}
	if pids := cgroupPids(r.cgroup); len(pids) > 0 {
		killAll(pids, time.Second)
	}
	if pids, err := pidsInNetns(r.NetNS); err == nil {
		killAll(pids, time.Second)
	}
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		select {
		case <-r.done:
		case <-time.After(3 * time.Second):
			p.log.Printf("instance %s of %s: pid %d did not exit after SIGKILL", r.ID, r.Function, r.PID)
		}
	}
	p.cleanupInstance(r)
}

func (p *Provider) cleanupInstance(r *running) {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
	if err := removeCgroup(r.cgroup); err != nil {
		p.log.Printf("instance %s of %s: remove cgroup %s: %v", r.ID, r.Function, r.cgroup, err)
	}
	if err := r.slot.teardown(); err != nil {
		p.log.Printf("instance %s of %s: teardown %s: %v", r.ID, r.Function, r.slot.NS, err)
	}
	if err := os.RemoveAll(r.dir); err != nil {
		p.log.Printf("instance %s of %s: remove %s: %v", r.ID, r.Function, r.dir, err)
	}
	_ = os.Remove(p.recordPath(r.ID))
}

func (p *Provider) recordPath(id string) string {
	return filepath.Join(p.dirs.Run(), "instances", id+".json")
}

func (p *Provider) writeRecord(r *running) error {
	if err := os.MkdirAll(filepath.Dir(p.recordPath(r.ID)), 0o700); err != nil {
		return fmt.Errorf("record dir: %w", err)
	}
	b, _ := json.Marshal(instanceRecord{PID: r.PID, NetNS: r.slot.NS, Slot: r.slot.N, Dir: r.dir})
	if err := os.WriteFile(p.recordPath(r.ID), b, 0o600); err != nil {
		return fmt.Errorf("write instance record: %w", err)
	}
	return nil
}

// SweepInstances kills and removes what instance records name: the
// fallback for a provider that died without stopping its functions.
func SweepInstances(d Dirs) error {
	dir := filepath.Join(d.Run(), "instances")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var rec instanceRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		} else {
			if rec.PID > 0 && processAlive(rec.PID) {
				killAll([]int{rec.PID}, 500*time.Millisecond)
			}
			errs = append(errs, slotFor(rec.Slot).teardown())
			if rec.Dir != "" && within(d.Instances(), rec.Dir) {
				errs = append(errs, os.RemoveAll(rec.Dir))
			}
		}
		errs = append(errs, os.Remove(path))
	}
	sweepCgroups()
	return errors.Join(errs...)
}

func netJoin(ip string, port int) string { return ip + ":" + strconv.Itoa(port) }

func joinArgs(a []string) string {
	s := ""
	for i, x := range a {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
}

// artefactVersion names the build an instance runs, for per-version
// profiles: each deploy builds anew, so the build time tells versions
// apart.
func artefactVersion(name, artefact string) string {
	m, err := ReadManifest(artefact)
	if err != nil || m.Built.IsZero() {
		return "local:" + name
	}
	return "local:" + name + "@" + m.Built.UTC().Format("20060102T150405.000Z")
}

package ebpf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/event"
)

// newCgroup makes a child cgroup of the cgroup v2 tree for this test and
// returns its directory and id; it is removed at cleanup (once empty).
func newCgroup(t testing.TB) (string, uint64) {
	t.Helper()
	root, err := CgroupRoot("/proc")
	if err != nil {
		t.Skipf("no cgroup v2 here: %v", err)
	}
	dir := filepath.Join(root, fmt.Sprintf("faasmon-ebpf-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() {
		// The cgroup can be removed once its processes are reaped.
		for i := 0; i < 50; i++ {
			if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("cgroup %s left behind", dir)
	})
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return dir, st.Ino
}

// workload is what the traced process does, as user nobody: read a file,
// fail to open a root-only file (EACCES), exec a binary, connect to a
// loopback port (bash's /dev/tcp: socket + connect), rename, chmod and
// unlink a file, then exit 3.
const workload = `read go
cat "$DIR/readable" >/dev/null
cat "$DIR/secret" 2>/dev/null
/bin/true
exec 5<>/dev/tcp/127.0.0.1/$PORT
echo hi >"$W/a"
mv "$W/a" "$W/b"
chmod 600 "$W/b"
rm -f "$W/b"
exit 3
`

func startWorkload(t *testing.T, dir, w string, port int, inCgroup string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	if err := os.Mkdir(w, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(w, 0o777); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/bash", "-c", workload)
	cmd.Env = append(os.Environ(), "DIR="+dir, "W="+w, "PORT="+strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd, startGated(t, cmd, inCgroup)
}

// startGated starts cmd, whose script first reads a line from stdin, moves
// it into the cgroup inCgroup (unless empty) and returns its stdin: the
// script goes on when the test writes that line, once the sensor watches.
func startGated(t *testing.T, cmd *exec.Cmd, inCgroup string) io.WriteCloser {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if inCgroup != "" {
		if err := os.WriteFile(filepath.Join(inCgroup, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
			// A container without a writable cgroup tree (CI): no place
			// to put the workload where the filter singles it out.
			t.Skipf("cannot move pid %d into a cgroup: %v", cmd.Process.Pid, err)
		}
	}
	return in
}

// TestSensor runs the workload in a fresh cgroup and the same workload
// outside it, and checks what the sensor reported: the first's calls with
// their fields, nothing of the second.
func TestSensor(t *testing.T) {
	loadOrSkip(t)
	b := loadedBackend(t)
	cgDir, cg := newCgroup(t)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Not t.TempDir: its parent is 0700 and the workload runs as nobody.
	dir, err := os.MkdirTemp("", "faasmon-ebpf-test-")
	must(err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(os.Chmod(dir, 0o755))
	must(os.WriteFile(filepath.Join(dir, "readable"), []byte("0123456789"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "secret"), []byte("root only"), 0o600))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	inside, inGo := startWorkload(t, dir, filepath.Join(dir, "in"), port, cgDir)
	outside, outGo := startWorkload(t, dir, filepath.Join(dir, "out"), port, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := b.AttachCgroup(ctx, cg, 0)
	must(err)

	for _, w := range []io.WriteCloser{inGo, outGo} {
		_, _ = io.WriteString(w, "go\n")
		w.Close()
	}
	for _, c := range []*exec.Cmd{inside, outside} {
		if err := c.Wait(); err == nil || c.ProcessState.ExitCode() != 3 {
			t.Fatalf("workload %d: %v (want exit 3)", c.Process.Pid, err)
		}
	}
	// Collect through the chunk path: JSON lines, parsed back.
	time.AfterFunc(4*PollInterval+200*time.Millisecond, func() { s.Close() })
	var body bytes.Buffer
	for {
		u, _, err := s.Next()
		if err != nil {
			break
		}
		body.Write(u.Data)
	}
	if s.Undecodable != 0 {
		t.Errorf("%d undecodable records", s.Undecodable)
	}
	if d := s.Dropped(); d != 0 {
		t.Errorf("%d records dropped", d)
	}
	parsed, err := Parse(body.Bytes())
	must(err)
	if parsed.Unparsed != 0 {
		t.Fatalf("%d lines unparsed: %v", parsed.Unparsed, parsed.Errors)
	}
	evs := parsed.Events
	t.Logf("%d events, %d bytes of chunk", len(evs), body.Len())
	if os.Getenv("FAASMON_EBPF_DUMP") != "" {
		t.Logf("%s", body.Bytes())
	}

	// Every event comes from the traced process or its descendants.
	tree := map[int]bool{inside.Process.Pid: true}
	for _, e := range evs {
		if e.Kind == event.KindSyscall && (e.Syscall == "clone" || e.Syscall == "clone3" || e.Syscall == "fork" || e.Syscall == "vfork") && e.Ret > 0 && tree[e.PID] {
			tree[int(e.Ret)] = true
		}
	}
	for _, e := range evs {
		if !tree[e.PID] {
			t.Errorf("event of pid %d outside the cgroup's tree: %+v", e.PID, e)
		}
		if e.PID == outside.Process.Pid {
			t.Errorf("the process outside the cgroup was traced: %+v", e)
		}
	}

	find := func(what string, ok func(e event.Event) bool) event.Event {
		t.Helper()
		for _, e := range evs {
			if ok(e) {
				return e
			}
		}
		t.Errorf("no %s among %d events", what, len(evs))
		return event.Event{}
	}
	sys := func(name string) func(e event.Event) bool {
		return func(e event.Event) bool { return e.Kind == event.KindSyscall && e.Syscall == name }
	}
	and := func(a func(event.Event) bool, b func(event.Event) bool) func(event.Event) bool {
		return func(e event.Event) bool { return a(e) && b(e) }
	}
	readable, secret := filepath.Join(dir, "readable"), filepath.Join(dir, "secret")

	op := find("successful open of "+readable, and(sys("openat"), func(e event.Event) bool { return e.Path == readable }))
	if op.Errno != "" || op.FD < 0 || op.Ret != int64(op.FD) || !strings.HasPrefix(op.Flags, "O_RDONLY") {
		t.Errorf("open of readable: %+v", op)
	}
	rd := find("read of readable", and(sys("read"), func(e event.Event) bool { return e.Path == readable && e.Bytes > 0 }))
	if rd.Bytes != 10 || rd.FD != op.FD {
		t.Errorf("read: %+v (want 10 bytes from fd %d)", rd, op.FD)
	}
	sec := find("failed open of "+secret, and(sys("openat"), func(e event.Event) bool { return e.Path == secret }))
	if sec.Errno != "EACCES" || sec.Ret != -1 || sec.FD != -1 {
		t.Errorf("open of secret: %+v (want EACCES)", sec)
	}
	ex := find("execve of /bin/true", and(sys("execve"), func(e event.Event) bool { return e.Path == "/bin/true" }))
	if ex.Errno != "" || ex.Ret != 0 || !tree[ex.PID] || ex.PID == inside.Process.Pid || strings.Join(ex.Argv, " ") != "/bin/true" {
		t.Errorf("execve: %+v (want a child of %d, succeeded)", ex, inside.Process.Pid)
	}
	find("clone of the exec'd child", and(sys("clone"), func(e event.Event) bool { return int(e.Ret) == ex.PID && e.PID == inside.Process.Pid && !e.Thread }))
	find("socket(AF_INET, SOCK_STREAM)", and(sys("socket"), func(e event.Event) bool { return e.Proto == "TCP" && e.FD >= 0 }))
	want := "127.0.0.1:" + strconv.Itoa(port)
	cn := find("connect to "+want, and(sys("connect"), func(e event.Event) bool { return e.Remote == want }))
	if cn.Proto != "TCP" || cn.Errno != "" {
		t.Errorf("connect: %+v", cn)
	}
	a, bb := filepath.Join(dir, "in", "a"), filepath.Join(dir, "in", "b")
	find("rename a → b", func(e event.Event) bool {
		return e.Kind == event.KindSyscall && strings.HasPrefix(e.Syscall, "rename") && e.Path == a && e.Path2 == bb && e.Errno == ""
	})
	if e := find("chmod of b", func(e event.Event) bool {
		return e.Kind == event.KindSyscall && (e.Syscall == "fchmodat" || e.Syscall == "chmod") && e.Path == bb
	}); e.Mode != 0o600 {
		t.Errorf("chmod: %+v (want mode 600)", e)
	}
	find("unlink of b", func(e event.Event) bool {
		return e.Kind == event.KindSyscall && (e.Syscall == "unlinkat" || e.Syscall == "unlink") && e.Path == bb
	})
	wr := find("write to a", and(sys("write"), func(e event.Event) bool { return e.Path == a }))
	if wr.Bytes != 3 {
		t.Errorf("write: %+v (want 3 bytes)", wr)
	}
	find("exit 3 of the workload", func(e event.Event) bool {
		return e.Kind == event.KindExit && e.PID == inside.Process.Pid && e.ExitCode == 3
	})
	// No payload leaves the kernel: the read's event names the file and
	// the count, and no field holds the file's bytes.
	if bytes.Contains(body.Bytes(), []byte("0123456789")) {
		t.Error("a read's payload reached the chunk")
	}
}

package ebpf

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/parse/strace"
)

// rec builds a record as the programs write it.
type rec struct {
	nr         uint64
	enter      bool
	fork       bool // a sched_process_fork record (flagFork)
	pid, tid   int
	ret        int64
	args       [6]uint64
	s1, s2     string
	bytes1     []byte
	len1Errno  int32
	ts, cgroup uint64
	argv       []string
	dns        []byte // a DNS record (shapeDNS): the query, and
	dnsAddr    []byte // the destination sockaddr, if any
}

func (r rec) bytes() []byte {
	size := sizeNone
	switch {
	case r.argv != nil:
		size = sizeExec
	case r.s2 != "":
		size = sizeStr2
	case r.s1 != "" || r.len1Errno != 0:
		size = sizeStr1
	case r.bytes1 != nil:
		size = sizeBytes
	case r.dns != nil:
		size = sizeDNS
	}
	b := make([]byte, size)
	le.PutUint64(b[offTS:], r.ts)
	le.PutUint64(b[offCgroup:], r.cgroup)
	tid := r.tid
	if tid == 0 {
		tid = r.pid
	}
	le.PutUint64(b[offPidTgid:], uint64(r.pid)<<32|uint64(tid))
	le.PutUint64(b[offNr:], r.nr)
	le.PutUint64(b[offRet:], uint64(r.ret))
	for i, a := range r.args {
		le.PutUint64(b[offArgs+8*i:], a)
	}
	if r.enter {
		le.PutUint32(b[offFlags:], flagEnter)
	}
	if r.fork {
		le.PutUint32(b[offFlags:], le.Uint32(b[offFlags:])|flagFork)
	}
	put := func(off, lenOff int, s string) {
		n := copy(b[off:off+strMax], s)
		if n < strMax {
			n++ // the NUL probe_read_user_str counts
		}
		le.PutUint32(b[lenOff:], uint32(n))
	}
	if r.s1 != "" {
		put(offData1, offLen1, r.s1)
	}
	if r.len1Errno != 0 {
		le.PutUint32(b[offLen1:], uint32(r.len1Errno))
	}
	if r.s2 != "" {
		put(offData2, offLen2, r.s2)
	}
	for i, a := range r.argv {
		n := copy(b[offArgv+i*argMax:offArgv+(i+1)*argMax-1], a)
		b[offArgv+i*argMax+n] = 0
	}
	if r.bytes1 != nil {
		copy(b[offData1:], r.bytes1)
		le.PutUint32(b[offLen1:], uint32(len(r.bytes1)))
	}
	if r.dns != nil {
		le.PutUint32(b[offLen1:], uint32(copy(b[offData1:offData1+dnsMax], r.dns)))
		le.PutUint32(b[offLen2:], uint32(copy(b[offDNSAddr:offDNSAddr+dnsAddrMax], r.dnsAddr)))
	}
	return b
}

func sockaddrIn(ip [4]byte, port uint16) []byte {
	b := make([]byte, 16)
	le.PutUint16(b, unix.AF_INET)
	b[2], b[3] = byte(port>>8), byte(port)
	copy(b[4:], ip[:])
	return b
}

const atFDCWD = uint64(0xffffffffffffff9c) // -100 as the register holds it

func TestDecode(t *testing.T) {
	neg := func(e unix.Errno) int64 { return -int64(e) }
	tests := []struct {
		name string
		recs []rec // fed in order; the last one's events are checked
		want []event.Event
	}{
		{"openat ok", []rec{{nr: 257, pid: 10, ret: 3, args: [6]uint64{atFDCWD, 0, unix.O_RDONLY | unix.O_CLOEXEC}, s1: "/etc/passwd"}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "openat", Ret: 3, FD: 3, Path: "/etc/passwd", Flags: "O_RDONLY|O_CLOEXEC"}}},
		{"openat EACCES with mode", []rec{{nr: 257, pid: 10, ret: neg(unix.EACCES), args: [6]uint64{atFDCWD, 0, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC, 0o644}, s1: "/root/x"}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "openat", Ret: -1, Errno: "EACCES", FD: -1, Path: "/root/x", Flags: "O_WRONLY|O_CREAT|O_TRUNC", Mode: 0o644}}},
		{"openat relative to an opened dir", []rec{
			{nr: 257, pid: 10, ret: 4, args: [6]uint64{atFDCWD, 0, unix.O_RDONLY | unix.O_DIRECTORY}, s1: "/srv"},
			{nr: 257, pid: 10, ret: 5, args: [6]uint64{4, 0, unix.O_RDONLY}, s1: "data/a"}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "openat", Ret: 5, FD: 5, Path: "/srv/data/a", Flags: "O_RDONLY"}}},
		{"read names the file, counts bytes", []rec{
			{nr: 257, pid: 10, ret: 3, args: [6]uint64{atFDCWD, 0, 0}, s1: "/etc/hosts"},
			{nr: 0, pid: 10, ret: 42, args: [6]uint64{3, 0xdead, 4096}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "read", Ret: 42, FD: 3, Path: "/etc/hosts", Bytes: 42}}},
		{"fd table is per process", []rec{
			{nr: 257, pid: 10, ret: 3, args: [6]uint64{atFDCWD, 0, 0}, s1: "/etc/hosts"},
			{nr: 1, pid: 11, ret: 5, args: [6]uint64{3}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 11, Syscall: "write", Ret: 5, FD: 3, Bytes: 5}}},
		{"dup2 carries the name", []rec{
			{nr: 257, pid: 10, ret: 3, args: [6]uint64{atFDCWD, 0, unix.O_WRONLY}, s1: "/tmp/o"},
			{nr: 33, pid: 10, ret: 1, args: [6]uint64{3, 1}},
			{nr: 1, pid: 10, ret: 2, args: [6]uint64{1}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "write", Ret: 2, FD: 1, Path: "/tmp/o", Bytes: 2}}},
		{"connect after socket", []rec{
			{nr: 41, pid: 10, ret: 3, args: [6]uint64{unix.AF_INET, unix.SOCK_STREAM | unix.SOCK_CLOEXEC}},
			{nr: 42, pid: 10, ret: neg(unix.EINPROGRESS), args: [6]uint64{3, 0, 16}, bytes1: sockaddrIn([4]byte{10, 0, 0, 7}, 8080)}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "connect", Ret: -1, Errno: "EINPROGRESS", FD: 3, Proto: "TCP", Remote: "10.0.0.7:8080"}}},
		{"write on the connected socket", []rec{
			{nr: 41, pid: 10, ret: 3, args: [6]uint64{unix.AF_INET, unix.SOCK_STREAM}},
			{nr: 42, pid: 10, ret: 0, args: [6]uint64{3, 0, 16}, bytes1: sockaddrIn([4]byte{127, 0, 0, 1}, 53)},
			{nr: 44, pid: 10, ret: 30, args: [6]uint64{3}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "sendto", Ret: 30, FD: 3, Proto: "TCP", Remote: "127.0.0.1:53", Bytes: 30}}},
		{"raw socket", []rec{{nr: 41, pid: 10, ret: 4, args: [6]uint64{unix.AF_INET, unix.SOCK_RAW, 6}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "socket", Ret: 4, FD: 4, Proto: "RAW"}}},
		{"connect to a UNIX socket", []rec{{nr: 42, pid: 10, ret: neg(unix.ENOENT), args: [6]uint64{5, 0, 20}, bytes1: append([]byte{1, 0}, "/run/x.sock\x00"...)}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "connect", Ret: -1, Errno: "ENOENT", FD: 5, Proto: "UNIX", Remote: "/run/x.sock"}}},
		{"execve pairs enter and exit", []rec{
			{nr: 59, enter: true, pid: 20, s1: "/bin/sh", argv: []string{"sh", "-c", strings.Repeat("x", 200)}},
			{nr: 59, pid: 20, ret: 0}},
			[]event.Event{{Kind: event.KindSyscall, PID: 20, Syscall: "execve", FD: -1, Path: "/bin/sh", Argv: []string{"sh", "-c", strings.Repeat("x", argMax-1)}}}},
		{"credentials in argv are masked", []rec{
			{nr: 59, enter: true, pid: 20, s1: "/usr/bin/curl", argv: []string{"curl", "-u", "admin:hunter2", "https://x/?token=abc"}},
			{nr: 59, pid: 20}},
			[]event.Event{{Kind: event.KindSyscall, PID: 20, Syscall: "execve", FD: -1, Path: "/usr/bin/curl",
				Argv: strace.ScrubArgv([]string{"curl", "-u", "admin:hunter2", "https://x/?token=abc"})}}},
		{"failed execve", []rec{
			{nr: 59, enter: true, pid: 20, s1: "/nope"},
			{nr: 59, pid: 20, ret: neg(unix.ENOENT)}},
			[]event.Event{{Kind: event.KindSyscall, PID: 20, Syscall: "execve", Ret: -1, Errno: "ENOENT", FD: -1, Path: "/nope"}}},
		{"execve enter alone gives nothing yet", []rec{{nr: 59, enter: true, pid: 20, s1: "/bin/sh"}}, nil},
		{"exit without its enter gives nothing", []rec{{nr: 59, pid: 20}}, nil},
		{"clone in the parent", []rec{{nr: 56, pid: 30, ret: 31, args: [6]uint64{uint64(unix.SIGCHLD)}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 30, Syscall: "clone", Ret: 31, FD: -1}}},
		{"clone of a thread", []rec{{nr: 56, pid: 30, ret: 32, args: [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 30, Syscall: "clone", Ret: 32, FD: -1, Thread: true}}},
		{"clone3 flags from user memory", []rec{{nr: 435, pid: 30, ret: 33, bytes1: []byte{0, 0, 1, 0, 0, 0, 0, 0}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 30, Syscall: "clone3", Ret: 33, FD: -1, Thread: true}}},
		{"the child's clone return is dropped", []rec{{nr: 56, pid: 31, ret: 0}}, nil},
		{"exit_group", []rec{{nr: 231, enter: true, pid: 30, args: [6]uint64{0x103}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 30, Syscall: "exit_group", FD: -1, ExitCode: 3}, {Kind: event.KindExit, PID: 30, FD: -1, ExitCode: 3}}},
		{"renameat2", []rec{{nr: 316, pid: 10, args: [6]uint64{atFDCWD, 0, atFDCWD}, s1: "/a", s2: "/b"}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "renameat2", FD: -1, Path: "/a", Path2: "/b"}}},
		{"fchmodat", []rec{{nr: 268, pid: 10, args: [6]uint64{atFDCWD, 0, 0o4755}, s1: "/tmp/x"}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "fchmodat", FD: -1, Path: "/tmp/x", Mode: 0o4755}}},
		{"path read failed in the kernel", []rec{{nr: 87, pid: 10, ret: neg(unix.EFAULT), len1Errno: -14}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "unlink", Ret: -1, Errno: "EFAULT", FD: -1}}},
		{"path at the kernel's bound", []rec{{nr: 87, pid: 10, s1: "/" + strings.Repeat("a", 300)}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "unlink", FD: -1, Path: "/" + strings.Repeat("a", strMax-1)}}},
		{"chdir then a relative open", []rec{
			{nr: 80, pid: 10, s1: "/srv/app"},
			{nr: 257, pid: 10, ret: 3, args: [6]uint64{atFDCWD, 0, 0}, s1: "data/x.json"}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "openat", Ret: 3, FD: 3, Path: "/srv/app/data/x.json", Flags: "O_RDONLY"}}},
		{"a failed chdir changes nothing", []rec{
			{nr: 80, pid: 10, s1: "/srv/app"},
			{nr: 80, pid: 10, ret: neg(unix.ENOENT), s1: "/nope"},
			{nr: 87, pid: 10, s1: "tmp"}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "unlink", FD: -1, Path: "/srv/app/tmp"}}},
		{"a child inherits cwd and fds; exec keeps the redirection, closes O_CLOEXEC", []rec{
			{nr: 80, pid: 10, s1: "/w"},
			{nr: 257, pid: 10, ret: 4, args: [6]uint64{atFDCWD, 0, unix.O_RDONLY | unix.O_CLOEXEC}, s1: "/etc/hosts"},
			{nr: 56, pid: 10, ret: 11, args: [6]uint64{uint64(unix.SIGCHLD)}},
			{nr: 257, pid: 11, ret: 3, args: [6]uint64{atFDCWD, 0, unix.O_WRONLY | unix.O_CREAT}, s1: "out.txt"},
			{nr: 33, pid: 11, ret: 1, args: [6]uint64{3, 1}},
			{nr: 59, enter: true, pid: 11, s1: "/bin/echo"},
			{nr: 59, pid: 11},
			{nr: 0, pid: 11, ret: 5, args: [6]uint64{4}},
			{nr: 1, pid: 11, ret: 6, args: [6]uint64{1}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 11, Syscall: "write", Ret: 6, FD: 1, Path: "/w/out.txt", Bytes: 6}}},
		{"O_CLOEXEC fd gone after exec", []rec{
			{nr: 257, pid: 10, ret: 4, args: [6]uint64{atFDCWD, 0, unix.O_RDONLY | unix.O_CLOEXEC}, s1: "/etc/hosts"},
			{nr: 59, enter: true, pid: 10, s1: "/bin/cat"},
			{nr: 59, pid: 10},
			{nr: 0, pid: 10, ret: 5, args: [6]uint64{4}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "read", Ret: 5, FD: 4, Bytes: 5}}},
		{"kill", []rec{{nr: 62, pid: 10, args: [6]uint64{1, uint64(unix.SIGKILL)}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "kill", FD: -1, Target: 1, Signal: "SIGKILL"}}},
		{"ptrace attach", []rec{{nr: 101, pid: 10, ret: neg(unix.EPERM), args: [6]uint64{16, 1}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "ptrace", Ret: -1, Errno: "EPERM", FD: -1, Target: 1, Flags: "PTRACE_ATTACH"}}},
		{"unshare", []rec{{nr: 272, pid: 10, args: [6]uint64{unix.CLONE_NEWUSER | unix.CLONE_NEWNS}}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "unshare", FD: -1, Flags: "CLONE_NEWNS|CLONE_NEWUSER"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Decoder{}
			var got []event.Event
			for _, r := range tt.recs {
				evs, err := d.Decode(r.bytes())
				if err != nil {
					t.Fatal(err)
				}
				got = evs
			}
			for i := range got {
				got[i].Time = time.Time{}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				if !same(got[i], tt.want[i]) {
					t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestInheritedFD: a child that wrote to an fd open before the sensor
// attached and exited before its records were decoded (/proc no longer
// names its fds) is named from the parent it was forked from — what made
// TestParityWithStrace miss "cat -write-> /dev/null" on a loaded machine.
func TestInheritedFD(t *testing.T) {
	alive := map[int]bool{10: true} // the shell lives on; 11 and 12 are gone
	d := &Decoder{Describe: func(pid, fd int) string {
		if alive[pid] && fd == 1 {
			return "/dev/null"
		}
		return ""
	}}
	for _, r := range []rec{
		{nr: 56, pid: 10, ret: 11, args: [6]uint64{uint64(unix.SIGCHLD)}},
		{nr: 56, pid: 11, ret: 12, args: [6]uint64{uint64(unix.SIGCHLD)}},
	} {
		if _, err := d.Decode(r.bytes()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		pid, fd int
		want    string
	}{
		{12, 1, "/dev/null"}, // grandchild: two steps up
		{11, 1, "/dev/null"},
		{12, 2, ""}, // nobody can name it: stays unnamed
	} {
		evs, err := d.Decode(rec{nr: 1, pid: tc.pid, ret: 3, args: [6]uint64{uint64(tc.fd)}}.bytes())
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Path != tc.want {
			t.Errorf("pid %d fd %d: %+v, want path %q", tc.pid, tc.fd, evs, tc.want)
		}
	}
}

func TestArgvMasked(t *testing.T) {
	d := &Decoder{}
	if _, err := d.Decode(rec{nr: 59, enter: true, pid: 5, s1: "/usr/bin/mysql", argv: []string{"mysql", "--password", "s3cret"}}.bytes()); err != nil {
		t.Fatal(err)
	}
	evs, err := d.Decode(rec{nr: 59, pid: 5}.bytes())
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	if strings.Contains(strings.Join(evs[0].Argv, " "), "s3cret") {
		t.Errorf("argv %q leaves the node with the password", evs[0].Argv)
	}
}

func same(a, b event.Event) bool {
	return a.Kind == b.Kind && a.PID == b.PID && a.Syscall == b.Syscall && a.Ret == b.Ret && a.Thread == b.Thread &&
		a.Target == b.Target && a.Errno == b.Errno && a.FD == b.FD && a.Path == b.Path && a.Path2 == b.Path2 &&
		a.Flags == b.Flags && a.Mode == b.Mode && a.Proto == b.Proto && a.Local == b.Local && a.Remote == b.Remote &&
		a.Bytes == b.Bytes && a.Signal == b.Signal && a.ExitCode == b.ExitCode && a.CallID == b.CallID && slices.Equal(a.Argv, b.Argv)
}

func TestDecodeRejects(t *testing.T) {
	d := &Decoder{}
	for name, b := range map[string][]byte{
		"short":         make([]byte, sizeNone-1),
		"not covered":   rec{nr: 3}.bytes(),
		"enter of read": rec{nr: 0, enter: true, pid: 1}.bytes(),
		"huge nr":       rec{nr: 1 << 40}.bytes(),
	} {
		if _, err := d.Decode(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOpenFlags(t *testing.T) {
	for f, want := range map[uint64]string{
		unix.O_RDONLY:                                  "O_RDONLY",
		unix.O_RDWR | unix.O_CREAT | unix.O_EXCL:       "O_RDWR|O_CREAT|O_EXCL",
		unix.O_WRONLY | unix.O_APPEND | unix.O_CLOEXEC: "O_WRONLY|O_APPEND|O_CLOEXEC",
		unix.O_RDONLY | unix.O_SYNC:                    "O_RDONLY|O_SYNC",
		unix.O_RDWR | unix.O_TMPFILE:                   "O_RDWR|O_TMPFILE",
		unix.O_RDONLY | 0x40000000:                     "O_RDONLY|0x40000000",
	} {
		if got := OpenFlags(f); got != want {
			t.Errorf("OpenFlags(%#o) = %q, want %q", f, got, want)
		}
	}
}

// TestChildBeforeClone: the child of a shell runs before its parent
// returns from clone and redirects its stdout (open /dev/null, dup2 over
// 1); the parent's clone record comes after. What the child did must
// survive the fork — what made TestParityWithStrace miss
// "cat -write-> /dev/null" in a CI run. A pid's older state (a process
// that died without exit_group) is replaced, not merged.
func TestChildBeforeClone(t *testing.T) {
	const (
		openat = 257
		dup2   = 33
		write  = 1
		clone  = 56
	)
	tests := []struct {
		name string
		recs []rec
		want map[int]string // fd → path the child's write names
	}{
		{"child's redirection kept, the rest inherited", []rec{
			{nr: openat, pid: 10, ts: 1, ret: 0, args: [6]uint64{atFDCWD}, s1: "/etc/passwd"}, // the parent's fd 0
			{nr: openat, pid: 11, ts: 5, ret: 3, args: [6]uint64{atFDCWD, 0, unix.O_WRONLY}, s1: "/dev/null"},
			{nr: dup2, pid: 11, ts: 6, ret: 1, args: [6]uint64{3, 1}},
			{nr: clone, pid: 10, ts: 7, ret: 11, args: [6]uint64{uint64(unix.SIGCHLD)}},
		}, map[int]string{1: "/dev/null", 0: "/etc/passwd"}},
		{"a previous process's state under the pid is replaced", []rec{
			{nr: openat, pid: 11, ts: 1, ret: 3, args: [6]uint64{atFDCWD, 0, unix.O_WRONLY}, s1: "/stale"},
			{nr: dup2, pid: 11, ts: 2, ret: 1, args: [6]uint64{3, 1}},
			{nr: openat, pid: 10, ts: 3, ret: 1, args: [6]uint64{atFDCWD, 0, unix.O_WRONLY}, s1: "/parent-out"},
			{nr: clone, pid: 10, ts: 7, ret: 11, args: [6]uint64{uint64(unix.SIGCHLD)}},
		}, map[int]string{1: "/parent-out"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &Decoder{}
			for _, r := range tc.recs {
				if _, err := d.Decode(r.bytes()); err != nil {
					t.Fatal(err)
				}
			}
			for fd, want := range tc.want {
				evs, err := d.Decode(rec{nr: write, pid: 11, ts: 9, ret: 3, args: [6]uint64{uint64(fd)}}.bytes())
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) != 1 || evs[0].Path != want {
					t.Errorf("fd %d: %+v, want path %q", fd, evs, want)
				}
			}
		})
	}
}

// A fork record (sched_process_fork) is the child's birth, shown as a
// clone; the clone's own return then adds nothing for a process, and still
// tells a thread. Without fork records the clone's return is the birth.
func TestForkRecords(t *testing.T) {
	const clone, vfork, openat = 56, 58, 257
	type want struct {
		syscall string
		ret     int64
		thread  bool
	}
	tests := []struct {
		name string
		recs []rec
		want []want
		// child is a pid whose fds the child must have inherited (fd 3:
		// /parent), -1 for none.
		child int
	}{
		{"fork record first, vfork's return dropped", []rec{
			{nr: openat, pid: 10, ts: 1, ret: 3, args: [6]uint64{atFDCWD}, s1: "/parent"},
			{nr: clone, fork: true, pid: 10, ts: 2, ret: 11},
			{nr: openat, pid: 11, ts: 3, ret: 4, args: [6]uint64{atFDCWD}, s1: "/child"},
			{nr: vfork, pid: 10, ts: 4, ret: 11},
		}, []want{{"openat", 3, false}, {"clone", 11, false}, {"openat", 4, false}}, 11},
		{"a thread still from clone's return", []rec{
			{nr: clone, fork: true, pid: 10, ts: 1, ret: 12},
			{nr: clone, pid: 10, tid: 13, ts: 2, ret: 14, args: [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD}},
		}, []want{{"clone", 12, false}, {"clone", 14, true}}, -1},
		{"no fork records: the return is the birth", []rec{
			{nr: openat, pid: 10, ts: 1, ret: 3, args: [6]uint64{atFDCWD}, s1: "/parent"},
			{nr: vfork, pid: 10, ts: 4, ret: 11},
		}, []want{{"openat", 3, false}, {"vfork", 11, false}}, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &Decoder{}
			var got []want
			for _, r := range tc.recs {
				evs, err := d.Decode(r.bytes())
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range evs {
					got = append(got, want{e.Syscall, e.Ret, e.Thread})
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("events %v, want %v", got, tc.want)
			}
			if tc.child > 0 {
				evs, err := d.Decode(rec{nr: 1, pid: tc.child, ts: 9, ret: 1, args: [6]uint64{3}}.bytes())
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) != 1 || evs[0].Path != "/parent" {
					t.Errorf("the child's fd 3: %+v, want /parent inherited", evs)
				}
			}
		})
	}
	// Malformed fork records are refused, not read as a birth.
	for _, r := range []rec{
		{nr: clone, fork: true, pid: 10, ret: 0},
		{nr: clone, fork: true, pid: 10, ret: -1},
		{nr: openat, fork: true, pid: 10, ret: 11},
		{nr: clone, fork: true, enter: true, pid: 10, ret: 11},
	} {
		if _, err := (&Decoder{}).Decode(r.bytes()); err == nil {
			t.Errorf("fork record %+v accepted", r)
		}
	}
}

// A listener the sensor did not see created is named once from /proc, at
// its first accept; every accepted connection then takes its local address
// from it and its peer from accept's sockaddr, with no /proc read per
// connection.
func TestAcceptOnUnknownListener(t *testing.T) {
	const accept4 = 288
	calls := map[int]int{}
	d := &Decoder{Socket: func(pid, fd int) (sockInfo, bool) {
		calls[fd]++
		if fd == 3 {
			return sockInfo{local: "[::]:8080", remote: "[::]:0"}, true
		}
		return sockInfo{local: "10.62.2.2:8080", remote: "10.62.2.1:40000", inbound: true}, true
	}}
	peers := []uint16{40001, 40002, 40003}
	for i, port := range peers {
		evs, err := d.Decode(rec{nr: accept4, pid: 10, ts: uint64(i + 1), ret: int64(20 + i), args: [6]uint64{3},
			bytes1: sockaddrIn([4]byte{10, 62, 2, 1}, port)}.bytes())
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("10.62.2.1:%d", port)
		if len(evs) != 1 || evs[0].Proto != "TCP" || evs[0].Local != "[::]:8080" || evs[0].Remote != want {
			t.Errorf("accept %d: %+v, want TCP [::]:8080 -> %s", i, evs, want)
		}
	}
	if calls[3] != 1 || len(calls) != 1 {
		t.Errorf("/proc lookups by fd: %v, want the listener's once", calls)
	}
}

// TestAppendLine: a line is appended after what dst holds, which stays as
// it was; a line over room loses its strings (trunc), whole otherwise.
func TestAppendLine(t *testing.T) {
	ev := event.Event{Kind: event.KindSyscall, Time: time.Unix(1, 0).UTC(), PID: 7, Syscall: "openat", FD: 3,
		Path: "/usr/lib/node_modules/express/index.js", Flags: "O_RDONLY|O_CLOEXEC"}
	whole := event.AppendLine(nil, &ev)
	for _, tc := range []struct {
		name      string
		room      int
		wantTrunc bool
	}{
		{"no bound", 0, false},
		{"room enough", len(whole), false},
		{"room short", len(whole) - 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("earlier line\n")
			b, trunc := appendLine(dst, ev, tc.room)
			if string(b[:len(dst)]) != "earlier line\n" {
				t.Fatalf("dst's bytes changed: %q", b[:len(dst)])
			}
			line := b[len(dst):]
			if trunc != tc.wantTrunc {
				t.Errorf("trunc = %v, want %v", trunc, tc.wantTrunc)
			}
			var got event.Event
			if err := event.UnmarshalLine(line, &got); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			if !trunc && string(line) != string(whole) {
				t.Errorf("line = %q, want %q", line, whole)
			}
			if trunc && (got.Path != "" || got.Flags != "" || got.Syscall != "openat" || len(line) > tc.room) {
				t.Errorf("shortened line = %q (room %d)", line, tc.room)
			}
		})
	}
}

// TestOpenFlagsCache: the decoder's cache answers as OpenFlags does, and
// stays bounded however many flag values it sees.
func TestOpenFlagsCache(t *testing.T) {
	d := &Decoder{}
	for i := uint64(0); i < 3*maxFlagSets; i++ {
		f := i<<6 | i&unix.O_ACCMODE
		if got, want := d.openFlags(f), OpenFlags(f); got != want {
			t.Fatalf("openFlags(%#x) = %q, want %q", f, got, want)
		}
		if got, want := d.openFlags(f), OpenFlags(f); got != want {
			t.Fatalf("cached openFlags(%#x) = %q, want %q", f, got, want)
		}
		if len(d.flags) > maxFlagSets {
			t.Fatalf("cache holds %d flag sets", len(d.flags))
		}
	}
}

// TestNextLinesKeep: the lines Next returns are cut from shared slabs; the
// ones not yet copied (backend.Run queues up to 256) must stay intact while
// later lines are written, across slab boundaries too.
func TestNextLinesKeep(t *testing.T) {
	s := &Stream{max: 1 << 30, wake: make(chan struct{}, 1), quit: make(chan struct{}), dec: &Decoder{}}
	const n = 3000 // ~150 bytes a line: several slabs
	var want [][]byte
	ref := &Decoder{}
	for i := 0; i < n; i++ {
		r := rec{nr: 257, pid: 10, ret: 3, args: [6]uint64{atFDCWD, 0, unix.O_RDONLY}, s1: fmt.Sprintf("/srv/file-%d", i)}.bytes()
		s.push(r)
		evs, err := ref.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			l, _ := appendLine(nil, e, 0)
			want = append(want, l)
		}
	}
	var got [][]byte
	for len(got) < len(want) {
		u, _, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, u.Data)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// BenchmarkStreamNext: a record from the reader's queue to its line, as
// backend.Run takes it (Stream.Next: push's copy, decode, line).
func BenchmarkStreamNext(b *testing.B) {
	recs := [][]byte{
		rec{nr: 257, pid: 10, ret: 3, args: [6]uint64{atFDCWD, 0, unix.O_RDONLY | unix.O_CLOEXEC}, s1: "/usr/lib/node_modules/express/index.js"}.bytes(),
		rec{nr: 0, pid: 10, ret: 64, args: [6]uint64{3}}.bytes(),
	}
	s := &Stream{max: 1 << 30, wake: make(chan struct{}, 1), quit: make(chan struct{}), dec: &Decoder{}}
	b.ReportAllocs()
	for b.Loop() {
		if len(s.batch) == 0 && len(s.pending) == 0 {
			for j := 0; j < 1024; j++ {
				s.push(recs[j%2])
			}
		}
		if _, _, err := s.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

package ebpf

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/parse/strace"
)

var le = binary.LittleEndian

// ErrRecord marks a record that is not one the programs write.
var ErrRecord = errors.New("bad ebpf record")

// Decoder turns one container's raw records into events of the existing
// contract (the strace parser's: same Kind, Syscall names, Ret -1 with a
// symbolic Errno on failure, Flags as strace prints them). It keeps the
// little state strace's -yy gives for free: what each fd of each process
// is (from the opens, sockets, connects and accepts it saw), and execve's
// enter half until its result. Not safe for concurrent use.
type Decoder struct {
	// Offset turns the records' CLOCK_MONOTONIC nanoseconds into wall time.
	Offset time.Duration
	// Resolve, when set, makes a relative path absolute for process pid
	// (dirfd AT_FDCWD: its cwd; else that fd's path). The tracer reads
	// /proc; tests and the fuzzer leave it nil.
	Resolve func(pid, dirfd int, rel string) string
	// Describe, when set, names an fd the decoder did not see opened (it
	// was open before the sensor attached): /proc/<pid>/fd/<fd>'s link,
	// "pipe:[…]", "socket:[…]" or a path. Asked once per fd.
	Describe func(pid, fd int) string
	// Socket names a TCP socket fd from /proc (socketOf): nil, sockets
	// this decoder did not see created stay unnamed.
	Socket func(pid, fd int) (sockInfo, bool)
	// Canon, when set, resolves the symlinks of an absolute path as pid
	// sees it: strace -yy names an opened file by the kernel's path of
	// the fd ("/usr/lib/…/libc.so.6" for "/lib/…/libc.so.6"), and graphs
	// built from either sensor should name files alike. "" when it cannot.
	Canon func(pid int, path string) string

	procs map[int]*procState
	nfds  int                 // fds over all procs, for the bound
	ts    uint64              // the record being decoded's kernel time
	execs map[int]event.Event // by thread id
	// forkRecs: the sensor records new processes at sched_process_fork
	// (fork.go), before the child runs; clone's sys_exit then says
	// nothing new of a process (only of a thread) and is dropped.
	forkRecs bool
	// flags caches OpenFlags by value: a program opens with a handful of
	// flag sets, and formatting them was a tenth of the decoder's time.
	flags map[uint64]string
}

// maxFlagSets bounds Decoder.flags (a process cycling through flag values
// only makes the cache start over).
const maxFlagSets = 256

// openFlags is OpenFlags through the decoder's cache.
func (d *Decoder) openFlags(f uint64) string {
	if s, ok := d.flags[f]; ok {
		return s
	}
	if d.flags == nil || len(d.flags) >= maxFlagSets {
		d.flags = make(map[uint64]string, 16)
	}
	s := OpenFlags(f)
	d.flags[f] = s
	return s
}

// procState is what the decoder knows of one process: its cwd (from the
// chdirs it saw, or inherited from the parent it saw fork) and its fds.
type procState struct {
	cwd string
	fds map[int]fdInfo
	// parent is the process the decoder saw fork this one (0: unknown):
	// an fd it inherited and never reopened is its parent's.
	parent int
	// first and last are the kernel times of the first and the latest
	// record of this process: a child's records can come before its
	// parent's clone returns (fork).
	first, last uint64
}

type fdInfo struct {
	path, proto, remote, local string
	cloexec                    bool
	// accepted: a connection the process accepted, whose reads are
	// requests it received (X-Call-Id is taken only from those).
	accepted bool
}

// Bounds on the decoder's state: a container cannot grow it without end.
const (
	maxFDs   = 1 << 16
	maxExecs = 1024
)

func (d *Decoder) proc(pid int) *procState {
	p := d.procs[pid]
	if p == nil {
		p = &procState{fds: map[int]fdInfo{}, first: d.ts, last: d.ts}
		d.procs[pid] = p
	}
	return p
}

func (d *Decoder) fd(pid, fd int) (fdInfo, bool) {
	if p := d.procs[pid]; p != nil {
		fi, ok := p.fds[fd]
		return fi, ok
	}
	return fdInfo{}, false
}

// NewDecoder returns a decoder whose clock offset is measured now.
func NewDecoder() *Decoder {
	return &Decoder{Offset: clockOffset()}
}

// clockOffset is CLOCK_REALTIME - CLOCK_MONOTONIC (what bpf_ktime_get_ns
// reads).
func clockOffset() time.Duration {
	var mono, real unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &real)
	return time.Duration(real.Nano() - mono.Nano())
}

// raw is a record's fixed header.
type raw struct {
	ts, cgroup uint64
	pid, tid   int
	nr         uint64
	ret        int64
	args       [6]uint64
	len1, len2 int32
	enter      bool
	fork       bool // sched_process_fork's record (flagFork): ret is the child
	data1      []byte
	data2      []byte
	argv       []string
	head       []byte // a request head a read returned (shapeHead)
	dns        []byte // a DNS query a send carried (shapeDNS)
	dnsAddr    []byte // the destination sockaddr that send named, if any
}

func parseRaw(b []byte) (raw, error) {
	var r raw
	if len(b) < sizeNone {
		return r, fmt.Errorf("%w: %d bytes, header is %d", ErrRecord, len(b), sizeNone)
	}
	r.ts = le.Uint64(b[offTS:])
	r.cgroup = le.Uint64(b[offCgroup:])
	pt := le.Uint64(b[offPidTgid:])
	r.pid, r.tid = int(pt>>32), int(uint32(pt))
	if r.pid <= 0 || r.tid <= 0 {
		// The kernel's idle task makes no system calls: not a record.
		return r, fmt.Errorf("%w: pid %d tid %d", ErrRecord, r.pid, r.tid)
	}
	r.nr = le.Uint64(b[offNr:])
	r.ret = int64(le.Uint64(b[offRet:]))
	for i := range r.args {
		r.args[i] = le.Uint64(b[offArgs+8*i:])
	}
	r.len1 = int32(le.Uint32(b[offLen1:]))
	r.len2 = int32(le.Uint32(b[offLen2:]))
	flags := le.Uint32(b[offFlags:])
	r.enter, r.fork = flags&flagEnter != 0, flags&flagFork != 0
	if r.fork && (r.enter || r.nr != nrClone || r.ret <= 0) {
		return r, fmt.Errorf("%w: fork record of syscall %d, child %d", ErrRecord, r.nr, r.ret)
	}
	if len(b) > offData1 {
		r.data1 = b[offData1:min(len(b), offData1+strMax)]
	}
	if len(b) > offData2 {
		r.data2 = b[offData2:min(len(b), offData2+strMax)]
	}
	if !r.enter && len(b) == sizeHead && r.len1 > 0 && (r.nr == nrRead || r.nr == nrRecvfrom) {
		r.head = b[offData1 : offData1+min(int(r.len1), headMax)]
	}
	if !r.enter && len(b) == sizeDNS && r.len1 > 0 && isDNSCall(r.nr) {
		r.dns = b[offData1 : offData1+min(int(r.len1), dnsMax)]
		if r.len2 > 0 {
			r.dnsAddr = b[offDNSAddr : offDNSAddr+min(int(r.len2), dnsAddrMax)]
		}
	}
	if r.enter && len(b) >= sizeExec {
		for i := 0; i < argvMax; i++ {
			a := b[offArgv+i*argMax : offArgv+(i+1)*argMax]
			n := bytes.IndexByte(a, 0)
			if n == 0 {
				break
			}
			if n < 0 {
				n = len(a) // cannot happen: probe_read_user_str terminates
			}
			r.argv = append(r.argv, string(a[:n]))
		}
	}
	return r, nil
}

// str returns the NUL-terminated string probe_read_user_str wrote (n is
// its result: length with the NUL, or -errno).
func str(data []byte, n int32) string {
	if n <= 0 || len(data) == 0 {
		return ""
	}
	b := data[:min(int(n), len(data))]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Decode turns one record into zero or more events (a clone's child half
// and execve's enter half give none; exit_group gives the call and the
// process's exit).
func (d *Decoder) Decode(b []byte) ([]event.Event, error) {
	return d.DecodeAppend(nil, b)
}

// DecodeAppend is Decode appending to dst (no allocation per record when
// dst has room).
func (d *Decoder) DecodeAppend(dst []event.Event, b []byte) ([]event.Event, error) {
	r, err := parseRaw(b)
	if err != nil {
		return dst, err
	}
	name, ok := name(r.nr, r.enter)
	if !ok {
		return dst, fmt.Errorf("%w: syscall %d not covered (enter %v)", ErrRecord, r.nr, r.enter)
	}
	if d.procs == nil {
		d.procs = map[int]*procState{}
		d.execs = map[int]event.Event{}
	}
	d.ts = r.ts
	var prevLast uint64 // the time of this process's record before this one
	if p := d.procs[r.pid]; p != nil {
		prevLast, p.last = p.last, r.ts
	}
	ev := event.Event{Kind: event.KindSyscall, Time: time.Unix(0, int64(r.ts)).Add(d.Offset).UTC(), PID: r.pid, Syscall: name, FD: -1, Ret: r.ret}
	failed := false
	if r.ret < 0 && r.ret >= -4095 {
		ev.Ret, ev.Errno, failed = -1, errnoName(-r.ret), true
	}
	arg := func(i int) int { return int(int32(r.args[i])) } // int-typed args are 32-bit in the ABI
	if r.enter {
		switch name {
		case "execve", "execveat":
			ev.Path = str(r.data1, r.len1)
			// Command lines leave the node with credentials masked, as the
			// strace sensor's scrubber leaves them (pkg/parse/strace.ScrubArgv).
			if len(r.argv) > 0 {
				ev.Argv = strace.ScrubArgv(r.argv)
			}
			if name == "execveat" {
				ev.Path = d.abs(r.pid, arg(0), ev.Path)
			} else {
				ev.Path = d.abs(r.pid, unix.AT_FDCWD, ev.Path)
			}
			if len(d.execs) >= maxExecs {
				clear(d.execs)
			}
			d.execs[r.tid] = ev
			return dst, nil
		case "exit_group":
			code := arg(0) & 0xff
			ev.Ret, ev.ExitCode = 0, code
			// strace shows the call (= ?) and then the process's exit.
			d.exit(r.pid)
			return append(dst, ev, event.Event{Kind: event.KindExit, Time: ev.Time, PID: r.pid, FD: -1, ExitCode: code}), nil
		}
		return dst, nil
	}
	switch name {
	case "execve", "execveat":
		// A successful exec by a non-leader thread takes the leader's id.
		e, ok := d.execs[r.tid]
		if !ok {
			e, ok = d.execs[r.pid]
		}
		if !ok {
			return dst, nil // its enter half was not seen (traced mid-call)
		}
		delete(d.execs, r.tid)
		delete(d.execs, r.pid)
		e.Ret, e.Errno, e.Time = ev.Ret, ev.Errno, ev.Time
		if !failed {
			d.exec(r.pid)
		}
		return append(dst, e), nil
	case "clone", "fork", "vfork", "clone3":
		if r.ret == 0 {
			return dst, nil // the child's return: strace shows only the parent's
		}
		if r.fork {
			// The child exists and has not run yet: nothing it does can
			// come before this. Shown as strace shows the parent's clone.
			d.forkRecs = true
			d.fork(r.pid, int(r.ret), prevLast)
			return append(dst, ev), nil
		}
		var flags uint64
		switch name {
		case "clone":
			flags = r.args[0]
		case "clone3":
			if r.len1 >= 8 && len(r.data1) >= 8 {
				flags = le.Uint64(r.data1)
			}
		}
		ev.Thread = flags&unix.CLONE_THREAD != 0
		if !ev.Thread && !failed {
			if d.forkRecs {
				return dst, nil // its fork record came first
			}
			d.fork(r.pid, int(r.ret), prevLast)
		}
	case "pipe", "pipe2":
		if !failed && r.len1 >= 8 && len(r.data1) >= 8 {
			// strace -yy names a pipe end "pipe:[inode]"; the graph only
			// needs the prefix, and the inode is not at hand here.
			fi := fdInfo{path: "pipe:[]", cloexec: name == "pipe2" && r.args[1]&unix.O_CLOEXEC != 0}
			d.setFD(r.pid, int(int32(le.Uint32(r.data1))), fi)
			d.setFD(r.pid, int(int32(le.Uint32(r.data1[4:]))), fi)
		}
		return dst, nil
	case "chdir", "fchdir":
		// State only (strace's set has neither): relative paths that
		// follow are joined to the new cwd.
		if !failed {
			if name == "chdir" {
				d.proc(r.pid).cwd = d.abs(r.pid, unix.AT_FDCWD, str(r.data1, r.len1))
			} else if fi, ok := d.fd(r.pid, arg(0)); ok && fi.path != "" {
				d.proc(r.pid).cwd = fi.path
			}
		}
		return dst, nil
	case "open", "creat", "openat", "openat2":
		var p string
		dir := unix.AT_FDCWD
		switch name {
		case "open":
			ev.Flags = d.openFlags(r.args[1])
			if hasMode(r.args[1]) {
				ev.Mode = uint32(r.args[2]) & 07777
			}
		case "creat":
			ev.Mode = uint32(r.args[1]) & 07777
		case "openat":
			dir = arg(0)
			ev.Flags = d.openFlags(r.args[2])
			if hasMode(r.args[2]) {
				ev.Mode = uint32(r.args[3]) & 07777
			}
		case "openat2":
			dir = arg(0)
		}
		p = d.abs(r.pid, dir, str(r.data1, r.len1))
		if !failed && d.Canon != nil && len(p) > 0 && p[0] == '/' {
			if c := d.Canon(r.pid, p); c != "" {
				p = c
			}
		}
		ev.Path = p
		if !failed {
			ev.FD = int(r.ret)
			d.setFD(r.pid, int(r.ret), fdInfo{path: p, cloexec: (name == "open" || name == "openat") && r.args[flagArg(name)]&unix.O_CLOEXEC != 0})
		}
	case "unlink", "chmod", "mkdir", "memfd_create":
		ev.Path = d.abs(r.pid, unix.AT_FDCWD, str(r.data1, r.len1))
		switch name {
		case "chmod", "mkdir":
			ev.Mode = uint32(r.args[1]) & 07777
		case "memfd_create":
			ev.Path = "/memfd:" + str(r.data1, r.len1)
			ev.Flags = bitFlags(r.args[1], mfdFlags)
			if !failed {
				ev.FD = int(r.ret)
				d.setFD(r.pid, int(r.ret), fdInfo{path: ev.Path, cloexec: r.args[1]&unix.MFD_CLOEXEC != 0})
			}
		}
	case "unlinkat", "fchmodat", "mkdirat":
		ev.Path = d.abs(r.pid, arg(0), str(r.data1, r.len1))
		if name != "unlinkat" {
			ev.Mode = uint32(r.args[2]) & 07777
		}
	case "rename":
		ev.Path = d.abs(r.pid, unix.AT_FDCWD, str(r.data1, r.len1))
		ev.Path2 = d.abs(r.pid, unix.AT_FDCWD, str(r.data2, r.len2))
	case "renameat", "renameat2":
		ev.Path = d.abs(r.pid, arg(0), str(r.data1, r.len1))
		ev.Path2 = d.abs(r.pid, arg(2), str(r.data2, r.len2))
	case "sendmmsg":
		// Recorded only for the DNS query it sent (strace's set has no
		// sendmmsg): that query, no call.
		ev.FD = arg(0)
		d.applyFD(&ev, r.pid, ev.FD)
		if q, ok := dnsEvent(&ev, &r); ok {
			dst = append(dst, q)
		}
		return dst, nil
	case "read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev",
		"sendto", "recvfrom", "sendmsg", "recvmsg":
		ev.FD = arg(0)
		d.applyFD(&ev, r.pid, ev.FD)
		if r.ret > 0 {
			ev.Bytes = r.ret
		}
		if r.dns != nil {
			// A DNS query: its question becomes a KindDNS event after the
			// call's; nothing else of the data is kept. A sendto or
			// sendmsg naming its destination names the call's remote end
			// too, as the strace parser takes it from the sockaddr.
			if a, proto := sockaddr(r.dnsAddr, int32(len(r.dnsAddr))); a != "" && ev.Remote == "" {
				ev.Remote = a
				ev.Proto = cmp.Or(ev.Proto, proto, "UDP")
			}
			if q, ok := dnsEvent(&ev, &r); ok {
				return append(dst, ev, q), nil
			}
			return append(dst, ev), nil
		}
		// A request the process received names its invocation, as the
		// strace sensor's scrubbed head does; nothing else of the data
		// leaves the node.
		// Only on a connection it accepted (issue 14: a file, a pipe or a
		// response that carries the header names no invocation).
		if fi, ok := d.fd(r.pid, ev.FD); ok && fi.accepted {
			if id := requestCallID(r.head); id != "" {
				ev.CallID = id
			}
		}
	case "socket":
		domain, typ := arg(0), arg(1)&0xf
		var proto string
		switch {
		case domain == unix.AF_PACKET:
			proto = "PACKET"
		case (domain == unix.AF_INET || domain == unix.AF_INET6) && typ == unix.SOCK_RAW:
			proto = "RAW"
		case (domain == unix.AF_INET || domain == unix.AF_INET6) && typ == unix.SOCK_STREAM:
			proto = "TCP"
		case (domain == unix.AF_INET || domain == unix.AF_INET6) && typ == unix.SOCK_DGRAM:
			proto = "UDP"
		case domain == unix.AF_UNIX:
			proto = "UNIX"
		case domain == unix.AF_NETLINK:
			proto = "NETLINK"
		}
		ev.Proto = proto
		if !failed {
			ev.FD = int(r.ret)
			d.setFD(r.pid, int(r.ret), fdInfo{proto: proto, cloexec: arg(1)&unix.SOCK_CLOEXEC != 0})
		}
	case "connect", "bind":
		ev.FD = arg(0)
		d.applyFD(&ev, r.pid, ev.FD)
		addr, proto := sockaddr(r.data1, r.len1)
		if proto != "" && ev.Proto == "" {
			ev.Proto = proto
		}
		fi, _ := d.fd(r.pid, ev.FD)
		if fi.proto == "" {
			fi.proto = ev.Proto
		}
		if name == "connect" {
			ev.Remote = addr
			fi.remote = addr
		} else {
			ev.Local = addr
			fi.local = addr
		}
		// A non-blocking connect answers EINPROGRESS and goes on.
		if !failed || ev.Errno == "EINPROGRESS" {
			d.setFD(r.pid, ev.FD, fi)
		}
	case "dup", "dup2", "dup3":
		ev.FD = arg(0)
		d.applyFD(&ev, r.pid, ev.FD)
		if !failed && int(r.ret) != ev.FD {
			fi, _ := d.fd(r.pid, ev.FD)
			// The new fd is open across exec unless dup3 said O_CLOEXEC.
			fi.cloexec = name == "dup3" && r.args[2]&unix.O_CLOEXEC != 0
			d.setFD(r.pid, int(r.ret), fi)
		}
	case "listen":
		ev.FD = arg(0)
		d.applyFD(&ev, r.pid, ev.FD)
	case "accept", "accept4":
		lis, known := d.fd(r.pid, arg(0))
		if !known && !failed && d.Socket != nil {
			// A listener opened before the sensor attached: named once
			// from /proc (its bound address, as bind gives it for one
			// seen created), not at every accept — reading the
			// namespace's TCP table per accept was a fifth of the
			// tracer's CPU on the lab's run (pprof, 2026-12-02).
			if si, ok := d.Socket(r.pid, arg(0)); ok {
				lis = fdInfo{proto: "TCP", local: si.local}
				d.setFD(r.pid, arg(0), lis)
			}
		}
		ev.Proto, ev.Local = lis.proto, lis.local
		if !failed {
			ev.FD = int(r.ret)
			if addr, _ := sockaddr(r.data1, r.len1); addr != "" {
				ev.Remote = addr
			}
			if (ev.Proto == "" || ev.Local == "" || ev.Remote == "") && d.Socket != nil {
				if si, ok := d.Socket(r.pid, ev.FD); ok {
					ev.Proto = "TCP"
					ev.Local = cmp.Or(ev.Local, si.local)
					ev.Remote = cmp.Or(ev.Remote, si.remote)
				}
			}
			d.setFD(r.pid, ev.FD, fdInfo{proto: ev.Proto, local: ev.Local, remote: ev.Remote, accepted: true, cloexec: name == "accept4" && arg(3)&unix.SOCK_CLOEXEC != 0})
		}
	case "kill":
		ev.Target = arg(0)
		ev.Signal = signalName(arg(1))
	case "ptrace":
		ev.Target = arg(1)
		if n, ok := ptraceRequests[r.args[0]]; ok {
			ev.Flags = n
		} else {
			ev.Flags = strconv.FormatUint(r.args[0], 10)
		}
	case "setuid", "setgid":
		ev.Flags = strconv.Itoa(arg(0))
	case "unshare":
		ev.Flags = bitFlags(r.args[0], nsFlags)
	case "setns":
		ev.FD = arg(0)
		ev.Flags = bitFlags(r.args[1], nsFlags)
	}
	return append(dst, ev), nil
}

// abs makes a path absolute the way strace -yy shows it, when it can.
func (d *Decoder) abs(pid, dirfd int, p string) string {
	if p == "" || p[0] == '/' {
		return p
	}
	if dirfd != unix.AT_FDCWD {
		if fi, ok := d.fd(pid, dirfd); ok && fi.path != "" {
			return path.Join(fi.path, p)
		}
	} else if pr := d.procs[pid]; pr != nil && pr.cwd != "" {
		return path.Join(pr.cwd, p)
	}
	if d.Resolve != nil {
		if a := d.Resolve(pid, dirfd, p); a != "" {
			return a
		}
	}
	return p
}

func (d *Decoder) setFD(pid, fd int, fi fdInfo) {
	if d.nfds >= maxFDs {
		// Bounded: forget every table rather than grow (names come back
		// as files are opened again; until then reads are unnamed).
		for _, p := range d.procs {
			clear(p.fds)
		}
		d.nfds = 0
	}
	p := d.proc(pid)
	if _, ok := p.fds[fd]; !ok {
		d.nfds++
	}
	p.fds[fd] = fi
}

func (d *Decoder) applyFD(ev *event.Event, pid, fd int) {
	fi, ok := d.fd(pid, fd)
	if !ok {
		if d.Describe == nil || fd < 0 {
			return
		}
		// Remembered even when empty: one readlink per unknown fd.
		fi = fdInfo{path: d.Describe(pid, fd)}
		if fi.path == "" {
			fi = d.inherited(pid, fd)
		}
		if strings.HasPrefix(fi.path, "socket:[") && d.Socket != nil {
			// A connection opened before the sensor attached (a
			// keep-alive connection from the gateway): its endpoints,
			// and whether it came in on a port the container listens on.
			if si, ok := d.Socket(pid, fd); ok {
				fi = fdInfo{proto: "TCP", local: si.local, remote: si.remote, accepted: si.inbound}
			}
		}
		d.setFD(pid, fd, fi)
	}
	ev.Path, ev.Proto, ev.Local, ev.Remote = fi.path, fi.proto, fi.local, fi.remote
}

// maxAncestors bounds the walk up the fork chain for an inherited fd.
const maxAncestors = 8

// inherited names fd of pid from the processes it was forked from, when
// /proc can no longer name it: a short-lived child (cat writing to the
// shell's stdout) is often gone before its records are decoded, while the
// fd it wrote to was inherited, open before the sensor attached, and is
// still the same file in the parent that lives on.
func (d *Decoder) inherited(pid, fd int) fdInfo {
	for i, p := 0, d.procs[pid]; i < maxAncestors && p != nil && p.parent != 0; i++ {
		if fi, ok := d.fd(p.parent, fd); ok {
			if fi.path != "" || fi.proto != "" {
				return fi
			}
		} else if name := d.Describe(p.parent, fd); name != "" {
			fi := fdInfo{path: name}
			d.setFD(p.parent, fd, fi)
			return fi
		}
		p = d.procs[p.parent]
	}
	return fdInfo{}
}

// fork gives a new process a copy of its parent's fds and cwd, and
// remembers the parent (for fds neither sensor saw opened). The child can
// run on another CPU before its parent returns from clone, so its first
// records (a shell's child opening /dev/null and dup2'ing it over stdout)
// can come before the clone's: a child known only from records newer than
// the parent's last one before this clone (parentLast) is this child, and
// what it did is kept over what it inherited. Older state under its pid is
// a previous process's (one that died without exit_group): replaced.
func (d *Decoder) fork(parent, child int, parentLast uint64) {
	pp := d.proc(parent)
	if old := d.procs[child]; old != nil {
		if !d.forkRecs && old.parent == 0 && old.first > parentLast {
			for fd, fi := range pp.fds {
				// An fd the child only failed to name (applyFD remembers
				// that) takes the parent's name.
				if own, ok := old.fds[fd]; !ok || own == (fdInfo{}) {
					if !ok {
						d.nfds++
					}
					old.fds[fd] = fi
				}
			}
			if old.cwd == "" {
				old.cwd = pp.cwd
			}
			old.parent = parent
			return
		}
		d.nfds -= len(old.fds)
	}
	c := &procState{cwd: pp.cwd, fds: make(map[int]fdInfo, len(pp.fds)), parent: parent, first: d.ts, last: d.ts}
	for fd, fi := range pp.fds {
		c.fds[fd] = fi
	}
	d.nfds += len(c.fds)
	d.procs[child] = c
	if len(d.procs) > maxFDs {
		d.procs = map[int]*procState{child: c}
		d.nfds = len(c.fds)
	}
}

// exec closes the O_CLOEXEC fds; the others (a shell's redirections) stay.
func (d *Decoder) exec(pid int) {
	if p := d.procs[pid]; p != nil {
		for fd, fi := range p.fds {
			if fi.cloexec {
				delete(p.fds, fd)
				d.nfds--
			}
		}
	}
}

// exit forgets a process.
func (d *Decoder) exit(pid int) {
	if p := d.procs[pid]; p != nil {
		d.nfds -= len(p.fds)
		delete(d.procs, pid)
	}
}

// flagArg is the index of open's flags argument.
func flagArg(name string) int {
	if name == "open" {
		return 1
	}
	return 2 // openat
}

func hasMode(flags uint64) bool {
	return flags&unix.O_CREAT != 0 || flags&unix.O_TMPFILE == unix.O_TMPFILE
}

// openFlagNames in strace's order (after the access mode).
var openFlagNames = []struct {
	bit  uint64
	name string
}{
	{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_NOCTTY, "O_NOCTTY"},
	{unix.O_TRUNC, "O_TRUNC"}, {unix.O_APPEND, "O_APPEND"}, {unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_SYNC, "O_SYNC"}, {unix.O_DSYNC, "O_DSYNC"}, {unix.O_ASYNC, "O_ASYNC"},
	{unix.O_DIRECT, "O_DIRECT"}, {unix.O_LARGEFILE, "O_LARGEFILE"},
	{unix.O_TMPFILE, "O_TMPFILE"}, {unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"}, {unix.O_NOATIME, "O_NOATIME"},
	{unix.O_CLOEXEC, "O_CLOEXEC"}, {unix.O_PATH, "O_PATH"},
}

// OpenFlags formats open flags as strace does ("O_WRONLY|O_CREAT|O_TRUNC"):
// the access mode, the known flags (a multi-bit flag such as O_SYNC or
// O_TMPFILE only when all its bits are set, and then its bits are spent),
// and what is left in hex.
func OpenFlags(f uint64) string {
	var parts []string
	switch f & unix.O_ACCMODE {
	case unix.O_RDONLY:
		parts = append(parts, "O_RDONLY")
	case unix.O_WRONLY:
		parts = append(parts, "O_WRONLY")
	case unix.O_RDWR:
		parts = append(parts, "O_RDWR")
	default:
		parts = append(parts, "O_ACCMODE")
	}
	rest := f &^ unix.O_ACCMODE
	for _, fl := range openFlagNames {
		if rest&fl.bit == fl.bit && fl.bit != 0 {
			parts = append(parts, fl.name)
			rest &^= fl.bit
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", rest))
	}
	return strings.Join(parts, "|")
}

// sockaddr formats the bytes connect/bind named as the strace parser does:
// "ip:port", "[ip6]:port", a UNIX path ("@name" abstract).
func sockaddr(b []byte, n int32) (addr, proto string) {
	if n < 2 || len(b) < 2 {
		return "", ""
	}
	b = b[:min(int(n), len(b))]
	switch le.Uint16(b) {
	case unix.AF_INET:
		if len(b) < 8 {
			return "", ""
		}
		ip := netip.AddrFrom4([4]byte(b[4:8]))
		return ip.String() + ":" + strconv.Itoa(int(binary.BigEndian.Uint16(b[2:]))), ""
	case unix.AF_INET6:
		if len(b) < 24 {
			return "", ""
		}
		ip := netip.AddrFrom16([16]byte(b[8:24]))
		return "[" + ip.String() + "]:" + strconv.Itoa(int(binary.BigEndian.Uint16(b[2:]))), ""
	case unix.AF_UNIX:
		p := b[2:]
		if len(p) > 0 && p[0] == 0 {
			return "@" + string(bytes.TrimRight(p[1:], "\x00")), "UNIX"
		}
		if i := bytes.IndexByte(p, 0); i >= 0 {
			p = p[:i]
		}
		return string(p), "UNIX"
	case unix.AF_NETLINK:
		return "", "NETLINK"
	}
	return "", ""
}

func errnoName(e int64) string {
	if n := unix.ErrnoName(syscall.Errno(e)); n != "" {
		return n
	}
	return "E" + strconv.FormatInt(e, 10)
}

// signalName is kill's signal as the strace parser keeps it: a name, or
// nothing (signal 0 probes, unknown numbers).
func signalName(s int) string {
	if s <= 0 {
		return ""
	}
	return unix.SignalName(syscall.Signal(s))
}

type flagName struct {
	bit  uint64
	name string
}

var nsFlags = []flagName{
	{unix.CLONE_NEWTIME, "CLONE_NEWTIME"}, {unix.CLONE_FS, "CLONE_FS"}, {unix.CLONE_FILES, "CLONE_FILES"},
	{unix.CLONE_NEWNS, "CLONE_NEWNS"}, {unix.CLONE_SYSVSEM, "CLONE_SYSVSEM"},
	{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {unix.CLONE_NEWUTS, "CLONE_NEWUTS"},
	{unix.CLONE_NEWIPC, "CLONE_NEWIPC"}, {unix.CLONE_NEWUSER, "CLONE_NEWUSER"},
	{unix.CLONE_NEWPID, "CLONE_NEWPID"}, {unix.CLONE_NEWNET, "CLONE_NEWNET"},
}

var mfdFlags = []flagName{
	{unix.MFD_CLOEXEC, "MFD_CLOEXEC"}, {unix.MFD_ALLOW_SEALING, "MFD_ALLOW_SEALING"},
	{unix.MFD_HUGETLB, "MFD_HUGETLB"}, {unix.MFD_NOEXEC_SEAL, "MFD_NOEXEC_SEAL"}, {unix.MFD_EXEC, "MFD_EXEC"},
}

// bitFlags prints flags as strace does: names joined by "|", the rest in
// hex, "0" for none.
func bitFlags(f uint64, names []flagName) string {
	if f == 0 {
		return "0"
	}
	var parts []string
	for _, n := range names {
		if f&n.bit != 0 {
			parts = append(parts, n.name)
			f &^= n.bit
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("%#x", f))
	}
	return strings.Join(parts, "|")
}

var ptraceRequests = map[uint64]string{
	0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSER",
	4: "PTRACE_POKETEXT", 5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSER", 7: "PTRACE_CONT",
	8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS",
	16: "PTRACE_ATTACH", 17: "PTRACE_DETACH", 24: "PTRACE_SYSCALL",
	0x4200: "PTRACE_SETOPTIONS", 0x4201: "PTRACE_GETEVENTMSG", 0x4206: "PTRACE_SEIZE", 0x4207: "PTRACE_INTERRUPT",
}

// maxCallID bounds an X-Call-Id value (the gateway's are UUIDs).
const maxCallID = 128

// requestCallID is the X-Call-Id of an HTTP request head ("" if head is
// not one or has none): the header's value in the header block, a token of
// at most maxCallID printable bytes.
func requestCallID(head []byte) string {
	sp := bytes.IndexByte(head, ' ')
	if sp < 3 || sp > 7 {
		return ""
	}
	for _, c := range head[:sp] {
		if c < 'A' || c > 'Z' {
			return ""
		}
	}
	if end := bytes.Index(head, []byte("\r\n\r\n")); end >= 0 {
		head = head[:end+2]
	}
	for {
		i := bytes.Index(head, []byte("\r\n"))
		if i < 0 {
			return ""
		}
		head = head[i+2:]
		j := bytes.Index(head, []byte("\r\n"))
		if j < 0 {
			return "" // the head was cut inside this line
		}
		line := head[:j]
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.EqualFold(name, []byte("X-Call-Id")) {
			continue
		}
		val = bytes.TrimSpace(val)
		if len(val) == 0 || len(val) > maxCallID {
			return ""
		}
		for _, c := range val {
			if c <= ' ' || c > '~' {
				return ""
			}
		}
		return string(val)
	}
}

package strace

import (
	"bytes"
	"time"

	"github.com/faasmon/faasmon/pkg/event"
)

// Socket protocols as the event contract names them.
const (
	ProtoTCP     = "TCP"
	ProtoUDP     = "UDP"
	ProtoUNIX    = "UNIX"
	ProtoNETLINK = "NETLINK"
	// ProtoPACKET is an AF_PACKET socket, ProtoRAW a SOCK_RAW socket of
	// AF_INET/AF_INET6: both sniff or forge traffic.
	ProtoPACKET = "PACKET"
	ProtoRAW    = "RAW"
)

// atFDCWD is AT_FDCWD's value, used as FD when a *at call names it.
const atFDCWD = -100

// syscallName returns b as a string; the names of the traced set come from
// constants (a switch compiles to a search without allocating), others are
// interned.
func (p *Parser) syscallName(b []byte) string {
	switch string(b) {
	case "execve":
		return "execve"
	case "execveat":
		return "execveat"
	case "clone":
		return "clone"
	case "clone3":
		return "clone3"
	case "fork":
		return "fork"
	case "vfork":
		return "vfork"
	case "open":
		return "open"
	case "openat":
		return "openat"
	case "openat2":
		return "openat2"
	case "creat":
		return "creat"
	case "read":
		return "read"
	case "write":
		return "write"
	case "readv":
		return "readv"
	case "writev":
		return "writev"
	case "pread64":
		return "pread64"
	case "pwrite64":
		return "pwrite64"
	case "preadv":
		return "preadv"
	case "pwritev":
		return "pwritev"
	case "preadv2":
		return "preadv2"
	case "pwritev2":
		return "pwritev2"
	case "unlink":
		return "unlink"
	case "unlinkat":
		return "unlinkat"
	case "rename":
		return "rename"
	case "renameat":
		return "renameat"
	case "renameat2":
		return "renameat2"
	case "chmod":
		return "chmod"
	case "fchmod":
		return "fchmod"
	case "fchmodat":
		return "fchmodat"
	case "fchmodat2":
		return "fchmodat2"
	case "connect":
		return "connect"
	case "accept":
		return "accept"
	case "accept4":
		return "accept4"
	case "recvfrom":
		return "recvfrom"
	case "sendto":
		return "sendto"
	case "recvmsg":
		return "recvmsg"
	case "sendmsg":
		return "sendmsg"
	case "recvmmsg":
		return "recvmmsg"
	case "sendmmsg":
		return "sendmmsg"
	case "socket":
		return "socket"
	case "dup":
		return "dup"
	case "dup2":
		return "dup2"
	case "dup3":
		return "dup3"
	case "exit_group":
		return "exit_group"
	case "exit":
		return "exit"
	case "kill":
		return "kill"
	case "tkill":
		return "tkill"
	case "tgkill":
		return "tgkill"
	case "close":
		return "close"
	case "bind":
		return "bind"
	case "listen":
		return "listen"
	case "getdents64":
		return "getdents64"
	case "ptrace":
		return "ptrace"
	case "setuid":
		return "setuid"
	case "setgid":
		return "setgid"
	case "setreuid":
		return "setreuid"
	case "setresuid":
		return "setresuid"
	case "setresgid":
		return "setresgid"
	case "setregid":
		return "setregid"
	case "io_uring_setup":
		return "io_uring_setup"
	case "setfsuid":
		return "setfsuid"
	case "setfsgid":
		return "setfsgid"
	case "capset":
		return "capset"
	case "mount":
		return "mount"
	case "umount2":
		return "umount2"
	case "unshare":
		return "unshare"
	case "setns":
		return "setns"
	case "memfd_create":
		return "memfd_create"
	case "link":
		return "link"
	case "linkat":
		return "linkat"
	case "symlink":
		return "symlink"
	case "symlinkat":
		return "symlinkat"
	case "sendfile":
		return "sendfile"
	case "splice":
		return "splice"
	case "copy_file_range":
		return "copy_file_range"
	case "mkdir":
		return "mkdir"
	case "mkdirat":
		return "mkdirat"
	case "truncate":
		return "truncate"
	case "ftruncate":
		return "ftruncate"
	case "mmap":
		return "mmap"
	}
	return p.str(b)
}

// ret is a parsed "= ..." result.
type ret struct {
	val     int64
	known   bool // false for "?" or a missing result
	errno   []byte
	ann     []byte // -yy annotation of a returned fd ("</path>" content)
	deleted bool
}

// parseRet parses the text after a call's closing ')': " = 3</x>",
// " = -1 ENOENT (...)", " = ?", " = 0x7f...", " = ? ERESTARTSYS (...)".
func parseRet(b []byte) (r ret, err error) {
	b = bytes.TrimLeft(b, " ")
	if len(b) < 2 || b[0] != '=' || b[1] != ' ' {
		return r, syntaxErr("expected ' = ' after ')'")
	}
	b = b[2:]
	if len(b) > 0 && b[0] == '?' {
		b = b[1:]
	} else {
		v, n := parseNumber(b)
		if n == 0 {
			return r, syntaxErr("bad return value")
		}
		r.val, r.known = v, true
		b = b[n:]
		if len(b) > 0 && b[0] == '<' {
			j := skipAnnotation(b, 0)
			if j < 0 {
				return r, syntaxErr("unterminated fd annotation in result")
			}
			r.ann = b[1 : j-1]
			b = b[j:]
			if rr, ok := bytes.CutPrefix(b, []byte("(deleted)")); ok {
				r.deleted, b = true, rr
			}
		}
	}
	b = bytes.TrimLeft(b, " ")
	if len(b) > 0 && b[0] >= 'A' && b[0] <= 'Z' {
		i := 0
		for i < len(b) && isAlnum(b[i]) {
			i++
		}
		r.errno = b[:i]
	}
	return r, nil
}

// fdArg parses an fd argument "3</tmp/x>", "AT_FDCWD</d>", "5", "-1".
func fdArg(b []byte) (fd int, ann []byte, ok bool) {
	var rest []byte
	switch {
	case bytes.HasPrefix(b, []byte("AT_FDCWD")):
		fd, rest = atFDCWD, b[len("AT_FDCWD"):]
	default:
		v, n := parseInt(b)
		if n == 0 {
			return -1, nil, false
		}
		fd, rest = int(v), b[n:]
	}
	if len(rest) > 0 && rest[0] == '<' {
		if j := skipAnnotation(rest, 0); j > 0 {
			ann = rest[1 : j-1]
		}
	}
	return fd, ann, true
}

// endpoint is what an fd annotation says about the file or socket.
type endpoint struct {
	path, proto, local, remote []byte
	pathEsc                    bool // path needs unescaping
}

// classify reads a -yy annotation's content: a path ("/tmp/x",
// "/dev/null<char 1:3>"), a socket ("TCP:[a:1->b:2]", "UNIX-STREAM:[1->2,
// \"/s\"]", "TCPv6:[[::1]:80]", "UDP:[13635]") or a pseudo file
// ("pipe:[1234]", "socket:[1]", "anon_inode:[eventfd]", kept as a path).
func classify(a []byte) (e endpoint) {
	if len(a) == 0 {
		return e
	}
	if a[0] >= 'A' && a[0] <= 'Z' {
		i := 0
		for i < len(a) && (isAlnum(a[i]) || a[i] == '-') {
			i++
		}
		if i+1 < len(a) && a[i] == ':' && a[i+1] == '[' && a[len(a)-1] == ']' {
			proto, inner := a[:i], a[i+2:len(a)-1]
			switch {
			case bytes.HasPrefix(proto, []byte("TCP")):
				e.proto = []byte(ProtoTCP)
			case bytes.HasPrefix(proto, []byte("UDP")):
				e.proto = []byte(ProtoUDP)
			case bytes.HasPrefix(proto, []byte("UNIX")):
				e.proto = []byte(ProtoUNIX)
				// "13638->13637,\"/path\"": the bound path, if any.
				if k := bytes.Index(inner, []byte(",\"")); k >= 0 {
					e.path, e.pathEsc = inner[k+2:], true
					e.path, _ = bytes.CutSuffix(e.path, []byte(`"`))
					inner = inner[:k]
				}
			default:
				e.proto = proto
			}
			if isAllDigits(inner) && e.proto[0] != 'N' {
				return e // an inode only: not bound or connected yet
			}
			if k := bytes.Index(inner, []byte("->")); k >= 0 {
				e.local, e.remote = inner[:k], inner[k+2:]
			} else {
				e.local = inner
			}
			return e
		}
	}
	// A path; drop a nested device annotation "<char 1:3>".
	if a[len(a)-1] == '>' {
		if k := bytes.LastIndexByte(a, '<'); k > 0 {
			a = a[:k]
		}
	}
	e.path, e.pathEsc = a, true
	return e
}

func isAllDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// applyEndpoint fills the event's Path or socket fields from an annotation.
func (p *Parser) applyEndpoint(ev *event.Event, ann []byte) {
	e := classify(ann)
	if e.path != nil {
		ev.Path = p.strEsc(e.path)
	}
	if e.proto != nil {
		ev.Proto = p.str(e.proto)
	}
	if e.local != nil {
		ev.Local = p.str(e.local)
	}
	if e.remote != nil {
		ev.Remote = p.str(e.remote)
	}
}

// strEsc decodes strace's escapes in a path and interns it.
func (p *Parser) strEsc(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return p.str(b)
	}
	p.scratch = unescapeAnn(p.scratch[:0], b)
	return p.str(p.scratch)
}

// strArg decodes a quoted string argument and interns it; "" for NULL or a
// pointer.
func (p *Parser) strArg(b []byte) string {
	if len(b) == 0 || b[0] != '"' {
		return ""
	}
	if bytes.IndexByte(b, '\\') < 0 {
		if j := bytes.IndexByte(b[1:], '"'); j >= 0 {
			return p.str(b[1 : 1+j])
		}
	}
	p.scratch, _ = unquote(p.scratch[:0], b)
	return p.str(p.scratch)
}

// sockaddr formats a struct sockaddr argument as "ip:port", "[ip6]:port" or
// a UNIX path ("@name" for the abstract namespace), with its protocol
// family's contract proto when it implies one (UNIX, NETLINK).
func (p *Parser) sockaddr(b []byte) (addr, proto string) {
	if len(b) == 0 || b[0] != '{' {
		return "", ""
	}
	switch {
	case bytes.Contains(b, []byte("sa_family=AF_INET6")):
		port := between(b, "sin6_port=htons(", ")")
		ip := between(b, "inet_pton(AF_INET6, \"", "\"")
		if ip == nil || port == nil {
			return "", ""
		}
		p.scratch = append(append(append(append(p.scratch[:0], '['), ip...), "]:"...), port...)
		return p.str(p.scratch), ""
	case bytes.Contains(b, []byte("sa_family=AF_INET")):
		port := between(b, "sin_port=htons(", ")")
		ip := between(b, "inet_addr(\"", "\"")
		if ip == nil || port == nil {
			return "", ""
		}
		p.scratch = append(append(append(p.scratch[:0], ip...), ':'), port...)
		return p.str(p.scratch), ""
	case bytes.Contains(b, []byte("sa_family=AF_UNIX")):
		i := bytes.Index(b, []byte("sun_path="))
		if i < 0 {
			return "", ProtoUNIX
		}
		s := b[i+len("sun_path="):]
		abstract := len(s) > 0 && s[0] == '@'
		if abstract {
			s = s[1:]
		}
		p.scratch = p.scratch[:0]
		if abstract {
			p.scratch = append(p.scratch, '@')
		}
		p.scratch, _ = unquote(p.scratch, s)
		return p.str(p.scratch), ProtoUNIX
	case bytes.Contains(b, []byte("sa_family=AF_NETLINK")):
		return "", ProtoNETLINK
	}
	return "", ""
}

func between(b []byte, open, close string) []byte {
	i := bytes.Index(b, []byte(open))
	if i < 0 {
		return nil
	}
	b = b[i+len(open):]
	j := bytes.Index(b, []byte(close))
	if j < 0 {
		return nil
	}
	return b[:j]
}

// call builds the Event of one complete (or, with no ')', partial) call
// from the text after "name(". orphan means the text is only the resumed
// half: argument positions are unknown, so only the result, the returned
// fd's annotation and data are used.
func (p *Parser) call(pid int, t time.Time, name string, body []byte, orphan bool) (event.Event, bool, error) {
	ev := event.Event{Kind: event.KindSyscall, Time: t, PID: pid, Syscall: name, FD: -1}
	args := splitArgs(body)
	var r ret
	if args.end >= 0 {
		var err error
		if r, err = parseRet(body[args.end:]); err != nil {
			return event.Event{}, false, err
		}
	}
	if r.known {
		ev.Ret = r.val
	} else if name != "exit_group" && name != "exit" {
		ev.Errno = ErrnoUnknown
	}
	if r.errno != nil {
		ev.Errno = p.str(r.errno)
	}
	failed := r.known && r.val < 0 || r.errno != nil
	arg := func(i int) []byte {
		if orphan {
			return nil
		}
		return args.get(body, i)
	}
	fd := func(i int) []byte {
		f, ann, ok := fdArg(arg(i))
		if ok {
			ev.FD = f
		}
		return ann
	}

	switch name {
	case "execve":
		ev.Path = p.strArg(arg(0))
		ev.Argv = ScrubArgv(p.argv(arg(1)))
	case "execveat":
		ev.Path = p.strArg(arg(1))
		ev.Argv = ScrubArgv(p.argv(arg(2)))
		if d := fd(0); d != nil && len(ev.Path) > 0 && ev.Path[0] != '/' {
			ev.Path = p.joinPath(d, ev.Path)
		}
	case "clone", "clone3", "fork", "vfork":
		// Ret is the child's pid; a thread is folded into its process by
		// the graph, so say which it is.
		ev.Thread = bytes.Contains(arg(0), []byte("CLONE_THREAD")) || bytes.Contains(arg(1), []byte("CLONE_THREAD"))
	case "open", "creat", "openat", "openat2":
		var pathArg, modeArg []byte
		var dir []byte
		switch name {
		case "open":
			pathArg, modeArg = arg(0), arg(2)
			ev.Flags = p.str(arg(1))
		case "creat":
			pathArg, modeArg = arg(0), arg(1)
		case "openat":
			_, dir, _ = fdArg(arg(0))
			pathArg, modeArg = arg(1), arg(3)
			ev.Flags = p.str(arg(2))
		case "openat2":
			_, dir, _ = fdArg(arg(0))
			pathArg = arg(1)
		}
		if m, ok := parseOctal(modeArg); ok {
			ev.Mode = m
		}
		if !failed && r.known {
			ev.FD = int(r.val)
		}
		switch {
		case r.ann != nil:
			p.applyEndpoint(&ev, r.ann) // the kernel's absolute path: preferred
		default:
			ev.Path = p.strArg(pathArg)
			if len(ev.Path) > 0 && ev.Path[0] != '/' && dir != nil {
				ev.Path = p.joinPath(dir, ev.Path)
			}
		}
	case "read", "write", "readv", "writev", "pread64", "pwrite64",
		"preadv", "pwritev", "preadv2", "pwritev2",
		"recvfrom", "sendto", "recvmsg", "sendmsg", "recvmmsg", "sendmmsg":
		if ann := fd(0); ann != nil {
			p.applyEndpoint(&ev, ann)
		}
		if r.known && r.val > 0 {
			ev.Bytes = r.val
			data := arg(1)
			if orphan {
				data = body[:max(args.end, 0)]
			}
			// X-Call-Id only from a request the handler received: a read
			// on a TCP connection (an orphan half does not show its fd)
			// whose data is a request head or its continuation. The
			// tracer's Scrubber keeps a head only on connections to the
			// container's listening ports, so a response or a file that
			// carries the header names no invocation.
			if isReadCall(name) && (ev.Proto == ProtoTCP || orphan) && requestData(data) {
				if id := findCallID(data); id != nil {
					ev.CallID = p.str(id)
				}
			}
		}
		if ev.Remote == "" {
			// sendto's destination or recvfrom's source address.
			var sa []byte
			switch name {
			case "sendto", "recvfrom":
				sa = arg(4)
			case "sendmsg", "recvmsg":
				sa = between(arg(1), "msg_name=", ", msg_namelen")
			}
			if a, proto := p.sockaddr(sa); a != "" {
				ev.Remote = a
				if ev.Proto == "" {
					ev.Proto = proto
				}
			}
		}
	case "listen":
		if ann := fd(0); ann != nil {
			p.applyEndpoint(&ev, ann)
		}
	case "connect", "bind":
		if ann := fd(0); ann != nil {
			p.applyEndpoint(&ev, ann)
		}
		if a, proto := p.sockaddr(arg(1)); a != "" || proto != "" {
			if name == "bind" {
				ev.Local = a
			} else {
				ev.Remote = a
			}
			if ev.Proto == "" {
				ev.Proto = proto
			}
		}
	case "accept", "accept4":
		lis := fd(0)
		switch {
		case r.ann != nil:
			p.applyEndpoint(&ev, r.ann)
		case lis != nil:
			p.applyEndpoint(&ev, lis)
		}
		if ev.Remote == "" {
			if a, _ := p.sockaddr(arg(1)); a != "" {
				ev.Remote = a
			}
		}
	case "socket":
		a0, a1 := arg(0), arg(1)
		switch {
		case bytes.HasPrefix(a0, []byte("AF_PACKET")):
			// -yy shows a packet socket as a bare "socket:[N]": the
			// arguments say what it is, failed or not.
			ev.Proto = ProtoPACKET
		case bytes.HasPrefix(a1, []byte("SOCK_RAW")) && bytes.HasPrefix(a0, []byte("AF_INET")):
			ev.Proto = ProtoRAW
		case r.ann != nil:
			p.applyEndpoint(&ev, r.ann)
		}
		if ev.Proto == "" {
			switch {
			case bytes.HasPrefix(a0, []byte("AF_UNIX")) || bytes.HasPrefix(a0, []byte("AF_LOCAL")):
				ev.Proto = ProtoUNIX
			case bytes.HasPrefix(a0, []byte("AF_NETLINK")):
				ev.Proto = ProtoNETLINK
			case bytes.HasPrefix(a0, []byte("AF_INET")) && bytes.HasPrefix(a1, []byte("SOCK_STREAM")):
				ev.Proto = ProtoTCP
			case bytes.HasPrefix(a0, []byte("AF_INET")) && bytes.HasPrefix(a1, []byte("SOCK_DGRAM")):
				ev.Proto = ProtoUDP
			}
		}
		if !failed && r.known {
			ev.FD = int(r.val)
		}
	case "unlink", "chmod", "rename":
		ev.Path = p.strArg(arg(0))
		switch name {
		case "chmod":
			ev.Mode, _ = parseOctal(arg(1))
		case "rename":
			ev.Path2 = p.strArg(arg(1))
		}
	case "unlinkat", "fchmodat", "fchmodat2":
		_, dir, _ := fdArg(arg(0))
		ev.Path = p.strArg(arg(1))
		if len(ev.Path) > 0 && ev.Path[0] != '/' && dir != nil {
			ev.Path = p.joinPath(dir, ev.Path)
		}
		if name != "unlinkat" {
			ev.Mode, _ = parseOctal(arg(2))
		}
	case "renameat", "renameat2":
		_, d1, _ := fdArg(arg(0))
		_, d2, _ := fdArg(arg(2))
		ev.Path = p.strArg(arg(1))
		ev.Path2 = p.strArg(arg(3))
		if len(ev.Path) > 0 && ev.Path[0] != '/' && d1 != nil {
			ev.Path = p.joinPath(d1, ev.Path)
		}
		if len(ev.Path2) > 0 && ev.Path2[0] != '/' && d2 != nil {
			ev.Path2 = p.joinPath(d2, ev.Path2)
		}
	case "fchmod":
		if ann := fd(0); ann != nil {
			p.applyEndpoint(&ev, ann)
		}
		ev.Mode, _ = parseOctal(arg(1))
	case "dup", "dup2", "dup3":
		if ann := fd(0); ann != nil {
			p.applyEndpoint(&ev, ann)
		} else if r.ann != nil {
			p.applyEndpoint(&ev, r.ann)
		}
	case "kill", "tkill", "tgkill":
		if v, n := parseInt(arg(0)); n > 0 {
			ev.Target = int(v)
		}
		sig := arg(1)
		if name == "tgkill" {
			sig = arg(2)
		}
		if bytes.HasPrefix(sig, []byte("SIG")) {
			ev.Signal = p.str(sig)
		}
	case "ptrace":
		// ptrace(PTRACE_ATTACH, 18211), ptrace(PTRACE_TRACEME).
		if a := arg(0); bytes.HasPrefix(a, []byte("PTRACE_")) {
			ev.Flags = p.str(a)
		}
		if a := arg(1); len(a) > 0 {
			if v, n := parseInt(a); n == len(a) {
				ev.Target = int(v)
			}
		}
	case "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid":
		// The ids asked for, as printed: "0", "-1, 0", "0, 0, 0".
		if !orphan && args.n > 0 {
			ev.Flags = p.str(body[args.a[0].lo:args.a[args.n-1].hi])
		}
	case "capset":
		// The sets asked for: "{effective=1<<CAP_SYS_ADMIN, permitted=..., inheritable=0}".
		ev.Flags = p.str(arg(1))
	case "mount":
		// mount(source, target, fstype, flags, data): data is dropped (it
		// can hold credentials, e.g. cifs "password=").
		ev.Path = p.strArg(arg(1))
		ev.Path2 = p.strArg(arg(0))
		p.scratch = append(p.scratch[:0], unquoteOrEmpty(arg(2))...)
		if f := arg(3); len(f) > 0 && !bytes.Equal(f, []byte("0")) {
			if len(p.scratch) > 0 {
				p.scratch = append(p.scratch, ' ')
			}
			p.scratch = append(p.scratch, f...)
		}
		ev.Flags = p.str(p.scratch)
	case "umount2":
		ev.Path = p.strArg(arg(0))
		if f := arg(1); !bytes.Equal(f, []byte("0")) {
			ev.Flags = p.str(f)
		}
	case "unshare":
		ev.Flags = p.str(arg(0))
	case "setns":
		if ann := fd(0); ann != nil {
			p.applyEndpoint(&ev, ann) // "net:[4026531833]" or the nsfs path
		}
		ev.Flags = p.str(arg(1))
	case "memfd_create":
		// The name -yy shows for the fd afterwards ("/memfd:payload"), so
		// that later writes to and execs of it name the same file.
		if name := p.strArg(arg(0)); name != "" {
			p.scratch = append(append(p.scratch[:0], "/memfd:"...), name...)
			ev.Path = p.str(p.scratch)
		}
		ev.Flags = p.str(arg(1))
		if !failed && r.known {
			ev.FD = int(r.val)
		}
	case "link", "symlink":
		ev.Path = p.strArg(arg(0))
		ev.Path2 = p.strArg(arg(1))
	case "linkat":
		_, d1, _ := fdArg(arg(0))
		_, d2, _ := fdArg(arg(2))
		ev.Path = p.strArg(arg(1))
		ev.Path2 = p.strArg(arg(3))
		if len(ev.Path) > 0 && ev.Path[0] != '/' && d1 != nil {
			ev.Path = p.joinPath(d1, ev.Path)
		}
		if len(ev.Path2) > 0 && ev.Path2[0] != '/' && d2 != nil {
			ev.Path2 = p.joinPath(d2, ev.Path2)
		}
		if f := arg(4); len(f) > 0 && !bytes.Equal(f, []byte("0")) {
			ev.Flags = p.str(f)
		}
	case "symlinkat":
		// The target is the link's content, relative to the link: not joined.
		ev.Path = p.strArg(arg(0))
		_, d, _ := fdArg(arg(1))
		ev.Path2 = p.strArg(arg(2))
		if len(ev.Path2) > 0 && ev.Path2[0] != '/' && d != nil {
			ev.Path2 = p.joinPath(d, ev.Path2)
		}
	case "sendfile", "splice", "copy_file_range":
		// sendfile(out, in, ...); splice/copy_file_range(in, off, out, ...).
		inArg, outArg := arg(0), arg(2)
		if name == "sendfile" {
			inArg, outArg = arg(1), arg(0)
		}
		inFD, inAnn, ok := fdArg(inArg)
		if ok {
			ev.FD = inFD
		}
		_, outAnn, _ := fdArg(outArg)
		p.applyFlow(&ev, inAnn, outAnn)
		if r.known && r.val > 0 {
			ev.Bytes = r.val
		}
	case "mkdir", "truncate":
		ev.Path = p.strArg(arg(0))
		if name == "mkdir" {
			ev.Mode, _ = parseOctal(arg(1))
		}
	case "mkdirat":
		_, dir, _ := fdArg(arg(0))
		ev.Path = p.strArg(arg(1))
		if len(ev.Path) > 0 && ev.Path[0] != '/' && dir != nil {
			ev.Path = p.joinPath(dir, ev.Path)
		}
		ev.Mode, _ = parseOctal(arg(2))
	case "io_uring_setup":
		// A ring whose reads, writes, opens and connects strace never
		// sees one by one: the setup is the trace's only sign of them.
		if f := between(arg(1), "flags=", ","); f != nil {
			ev.Flags = p.str(f)
		}
		if !failed && r.known {
			ev.FD = int(r.val)
			if r.ann != nil {
				p.applyEndpoint(&ev, r.ann)
			}
		}
	case "ftruncate":
		if ann := fd(0); ann != nil {
			p.applyEndpoint(&ev, ann)
		}
	case "mmap":
		// mmap(addr, length, prot, flags, fd, offset). A file mapped
		// executable is code loaded without an execve (a dropped shared
		// library, LD_PRELOAD, a payload dlopen'ed by an interpreter): the
		// file and the protection are kept; anonymous maps (a JIT's) carry
		// no file and say nothing here.
		if ann := fd(4); ann != nil {
			p.applyEndpoint(&ev, ann)
		}
		ev.Flags = p.str(arg(2))
	case "exit_group", "exit":
		if v, n := parseInt(arg(0)); n > 0 {
			ev.ExitCode = int(v)
		}
	case "close":
		if ann := fd(0); ann != nil {
			p.applyEndpoint(&ev, ann)
		}
	}
	return ev, true, nil
}

// argv decodes a string array ["a", "b"...]; nil if it is not one.
func (p *Parser) argv(b []byte) []string {
	if len(b) < 2 || b[0] != '[' {
		return nil
	}
	in := b[1:]
	if k := bytes.LastIndexByte(in, ']'); k >= 0 {
		in = in[:k]
	}
	n := bytes.Count(in, []byte(`", "`)) + 1
	out := make([]string, 0, n)
	for i := 0; i < len(in); {
		c := in[i]
		if c != '"' {
			i++
			continue
		}
		j := skipString(in, i)
		out = append(out, p.strArg(in[i:j]))
		i = j
	}
	return out
}

// joinPath joins a -yy directory annotation and a relative path.
func (p *Parser) joinPath(dirAnn []byte, rel string) string {
	e := classify(dirAnn)
	if len(e.path) == 0 || e.path[0] != '/' {
		return rel
	}
	d := e.path
	p.scratch = unescapeAnn(p.scratch[:0], d)
	if rel == "." {
		return p.str(p.scratch)
	}
	if r, ok := cutDot(rel); ok {
		rel = r
	}
	if p.scratch[len(p.scratch)-1] != '/' {
		p.scratch = append(p.scratch, '/')
	}
	p.scratch = append(p.scratch, rel...)
	return p.str(p.scratch)
}

func cutDot(s string) (string, bool) {
	if len(s) > 2 && s[0] == '.' && s[1] == '/' {
		return s[2:], true
	}
	return s, false
}

// unquoteOrEmpty returns the bytes of a quoted argument, nil for NULL.
func unquoteOrEmpty(b []byte) []byte {
	if len(b) == 0 || b[0] != '"' {
		return nil
	}
	out, _ := unquote(nil, b)
	return out
}

// applyFlow fills a data-moving call's fields from its source and
// destination fds (sendfile, splice, copy_file_range): Path is the file
// read from, Path2 the file written to, and the socket fields whichever
// side is a socket (the destination when both are).
func (p *Parser) applyFlow(ev *event.Event, in, out []byte) {
	src, dst := classify(in), classify(out)
	if src.path != nil && src.proto == nil {
		ev.Path = p.strEsc(src.path)
	}
	if dst.path != nil && dst.proto == nil {
		ev.Path2 = p.strEsc(dst.path)
	}
	sock := dst
	if sock.proto == nil {
		sock = src
	}
	if sock.proto != nil {
		ev.Proto = p.str(sock.proto)
		if sock.local != nil {
			ev.Local = p.str(sock.local)
		}
		if sock.remote != nil {
			ev.Remote = p.str(sock.remote)
		}
		if sock.path != nil {
			// A UNIX socket's bound path; the file side keeps Path.
			if ev.Path == "" {
				ev.Path = p.strEsc(sock.path)
			} else if ev.Path2 == "" {
				ev.Path2 = p.strEsc(sock.path)
			}
		}
	}
}

// requestData says whether a read's printed data is an HTTP request head
// ("GET /x HTTP/1.1\r\n...") or the continuation of one that the tracer
// kept ("X-Call-Id: ...").
func requestData(b []byte) bool {
	b = bytes.TrimLeft(b, " ")
	if len(b) > 0 && b[0] == '[' { // readv/recvmsg: the first iov_base
		i := bytes.IndexByte(b, '"')
		if i < 0 {
			return false
		}
		b = b[i:]
	}
	if len(b) == 0 || b[0] != '"' {
		return false
	}
	b = b[1:]
	if requestLine(b) > 0 {
		return true
	}
	return findFold(b[:min(len(b), len("x-call-id:"))], "x-call-id:") == 0
}

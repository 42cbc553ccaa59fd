package event

import (
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
)

// SchemaVersion changes whenever a field changes meaning. Consumers refuse a
// batch of another version instead of guessing.
const SchemaVersion = 1

// Kind says which of the optional parts of an Event is filled.
type Kind string

const (
	// KindSyscall is one completed system call (unfinished/resumed pairs are
	// joined by the parser before they become an Event).
	KindSyscall Kind = "syscall"
	// KindExit is strace's "+++ exited with N +++" or "+++ killed by SIG +++".
	KindExit Kind = "exit"
	// KindSignal is strace's "--- SIGCHLD {...} ---".
	KindSignal Kind = "signal"
	// KindFlow is one transport flow seen in a pcap chunk.
	KindFlow Kind = "flow"
	// KindHTTP is one HTTP/1.x request seen in a pcap chunk.
	KindHTTP Kind = "http"
	// KindDNS is one DNS query seen in a pcap chunk, or read by the eBPF
	// sensor from the send that carried it (then PID is the sender's).
	KindDNS Kind = "dns"
)

// Security-relevant calls beyond the provenance set use the same fields
// (failed calls included: Errno set, and Path, Flags as asked, because an
// unprivileged attacker's attempt fails at the syscall and is still intent):
//
//	ptrace                      Target = tracee pid, Flags = request ("PTRACE_ATTACH")
//	setuid, setgid, setreuid,   Flags = the ids asked for as printed ("0" or "0, 0, 0");
//	setregid, setresuid,        setfsuid/setfsgid never fail: Ret = the previous id
//	setresgid, setfsuid,
//	setfsgid
//	capset                      Flags = the sets asked for as printed
//	                            ("{effective=1<<CAP_SYS_ADMIN, permitted=…, inheritable=0}")
//	mount, umount2              Path = target, Path2 = source (mount), Flags = fstype
//	                            then the MS_* flags after a space ("tmpfs MS_NOSUID",
//	                            "MS_BIND|MS_REC" for a bind mount, whose fstype is NULL);
//	                            umount2 Flags = MNT_* flags; mount's data is never kept
//	                            (it can hold credentials)
//	unshare, setns              Flags = the CLONE_* flags as printed; setns FD and
//	                            Path = the namespace fd's -yy name ("net:[4026531833]")
//	memfd_create                Path = "/memfd:" + name (what -yy shows for the fd
//	                            afterwards, so later writes and execs name the same
//	                            file), Flags = MFD_* flags, FD = Ret = the fd
//	link, linkat,               Path = the existing file (target), Path2 = the new name
//	symlink, symlinkat          (*at: joined to their dirfds; a symlink's target is its
//	                            content and is not joined); linkat Flags = AT_* flags
//	sendfile, splice,           FD = the in fd; Path = the file read from (-yy of the in
//	copy_file_range             fd), Path2 = the file written to; Proto, Local, Remote =
//	                            the socket side (the out fd's when both are sockets);
//	                            Bytes = Ret
//	socket                      Proto = "PACKET" for AF_PACKET, "RAW" for SOCK_RAW
//	                            of AF_INET/AF_INET6 (from the arguments, so failed calls
//	                            too), else as before
//	bind, listen                FD, Proto, Local from -yy or bind's sockaddr (a UNIX
//	                            listener: Path = its bound path)
//	fchmod, fchmodat2           Path (from -yy, or joined to the dirfd), Mode
//	mkdir, mkdirat, truncate,   Path, Mode (mkdir*); ftruncate FD and Path from -yy
//	ftruncate
//	io_uring_setup              Flags = the setup flags ("0", "IORING_SETUP_SQPOLL"),
//	                            FD = Ret, Path = "anon_inode:[io_uring]"
//
// Event is one observation. Only the fields that belong to its Kind are set;
// the JSON names are short because a batch holds thousands of them.
type Event struct {
	Kind Kind      `json:"k"`
	Time time.Time `json:"t"`
	PID  int       `json:"pid,omitempty"`

	// Syscall events.
	Syscall string `json:"sc,omitempty"`
	// Ret is the return value; for clone/fork it is the child's pid.
	Ret int64 `json:"ret,omitempty"`
	// Thread is set on a clone that made a thread (CLONE_THREAD), not a
	// process: graphs fold threads into their process.
	Thread bool `json:"thread,omitempty"`
	// Target is kill's target pid.
	Target int `json:"target,omitempty"`
	// Errno is the symbolic error ("ENOENT") when the call failed.
	Errno string `json:"errno,omitempty"`
	// FD is the file descriptor the call acted on, -1 if none.
	FD int `json:"fd,omitempty"`
	// Path is the file the call names or the fd refers to (from -yy); for
	// rename the source.
	Path string `json:"path,omitempty"`
	// Path2 is rename's destination.
	Path2 string `json:"path2,omitempty"`
	// Argv holds execve's arguments (truncated as strace printed them).
	Argv []string `json:"argv,omitempty"`
	// Flags are open's flags as strace prints them ("O_WRONLY|O_CREAT").
	Flags string `json:"flags,omitempty"`
	// Mode is the chmod/open mode, when given.
	Mode uint32 `json:"mode,omitempty"`
	// Socket endpoints from -yy ("TCP:[10.62.1.2:8080->10.62.1.1:51234]")
	// or from connect's sockaddr: Proto "TCP", "UDP", "UNIX", "NETLINK".
	Proto  string `json:"proto,omitempty"`
	Local  string `json:"local,omitempty"`
	Remote string `json:"remote,omitempty"`
	// Bytes moved by read/write/send/recv (the return value).
	Bytes int64 `json:"bytes,omitempty"`
	// Signal name for KindSignal and for a KindExit killed by a signal;
	// ExitCode for a normal exit.
	Signal   string `json:"sig,omitempty"`
	ExitCode int    `json:"exit,omitempty"`
	// CallID is the X-Call-Id of the request this call read, if any: only a
	// read on a connection to a port the container listens on (the request
	// the handler received), never a write, a response, a file or a pipe
	// (issue 14). It is how strace events are tied to an invocation.
	CallID string `json:"call_id,omitempty"`

	// Flow, HTTP and DNS events (pcap).
	Flow *Flow        `json:"flow,omitempty"`
	HTTP *HTTPRequest `json:"http,omitempty"`
	DNS  *DNSQuery    `json:"dns,omitempty"`
}

// Flow is a transport conversation. Src is the side that sent the first
// packet seen (the initiator when the SYN was captured).
type Flow struct {
	Proto    string    `json:"proto"` // "TCP" or "UDP"
	Src      string    `json:"src"`   // "ip:port"
	Dst      string    `json:"dst"`
	Packets  int       `json:"packets"`
	Bytes    int64     `json:"bytes"` // on-the-wire length, both directions
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	SawSYN   bool      `json:"syn,omitempty"`
	Outbound bool      `json:"outbound,omitempty"` // initiated from inside the function's namespace
}

// HTTPRequest is the request line and the headers detection needs; bodies
// are never captured.
type HTTPRequest struct {
	Src    string `json:"src"`
	Dst    string `json:"dst"`
	Method string `json:"method"`
	Host   string `json:"host,omitempty"`
	Path   string `json:"path"`
	CallID string `json:"call_id,omitempty"`
}

// DNSQuery is one question.
type DNSQuery struct {
	Src  string `json:"src"`
	Dst  string `json:"dst"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// Batch is what faasmon-parse produces from one chunk.
type Batch struct {
	Version int          `json:"version"`
	Chunk   chunk.Header `json:"chunk"`
	Events  []Event      `json:"events"`
	// Unparsed counts input lines or packets the parser could not read;
	// Errors keeps the first few messages (with line numbers) for people.
	Unparsed int      `json:"unparsed,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

package ebpf

import "sort"

// The covered system calls, by x86_64 number (this backend is x86_64 only:
// the numbers and struct pt_regs offsets are that ABI's; build.go refuses
// other architectures at load time). The set follows the strace sensor's
// provenance set (backend/strace.SyscallSet) where detection uses the call; see
// Covered for the list.
var exitCalls = map[int]spec{
	0:   {name: "read"},
	1:   {name: "write"},
	17:  {name: "pread64"},
	18:  {name: "pwrite64"},
	19:  {name: "readv"},
	20:  {name: "writev"},
	295: {name: "preadv"},
	296: {name: "pwritev"},
	44:  {name: "sendto"},
	45:  {name: "recvfrom"},
	46:  {name: "sendmsg"},
	47:  {name: "recvmsg"},
	// sendmmsg: only the DNS query it sends (glibc's resolver), as a
	// KindDNS event; strace's set does not trace it.
	307: {name: "sendmmsg", quiet: true},

	2:   {name: "open", shape: shapeStr1, a: 0},
	85:  {name: "creat", shape: shapeStr1, a: 0},
	257: {name: "openat", shape: shapeStr1, a: 1},
	437: {name: "openat2", shape: shapeStr1, a: 1},
	87:  {name: "unlink", shape: shapeStr1, a: 0},
	263: {name: "unlinkat", shape: shapeStr1, a: 1},
	82:  {name: "rename", shape: shapeStr2, a: 0, b: 1},
	264: {name: "renameat", shape: shapeStr2, a: 1, b: 3},
	316: {name: "renameat2", shape: shapeStr2, a: 1, b: 3},
	90:  {name: "chmod", shape: shapeStr1, a: 0},
	268: {name: "fchmodat", shape: shapeStr1, a: 1},
	83:  {name: "mkdir", shape: shapeStr1, a: 0},
	258: {name: "mkdirat", shape: shapeStr1, a: 1},
	319: {name: "memfd_create", shape: shapeStr1, a: 0},

	56:  {name: "clone"},
	57:  {name: "fork"},
	58:  {name: "vfork"},
	435: {name: "clone3", shape: shapeBytes, a: 0, b: -8}, // struct clone_args' flags (first u64)
	// execve/execveat: the path is taken at sys_enter; this is the result.
	59:  {name: "execve"},
	322: {name: "execveat"},
	62:  {name: "kill"},
	// chdir/fchdir: not events (strace's set has neither), but relative
	// paths are joined to the cwd they set.
	80: {name: "chdir", shape: shapeStr1, a: 0},
	81: {name: "fchdir"},
	// pipe/pipe2: state only too, so that reads and writes on a pipe name
	// it as strace -yy does ("pipe:[…]"). The two fds are 8 bytes of
	// user memory.
	22:  {name: "pipe", shape: shapeBytes, a: 0, b: -8},
	293: {name: "pipe2", shape: shapeBytes, a: 0, b: -8},
	// dup*: strace's -yy names every fd; here the decoder's fd table
	// must follow them (a shell's "> file" is open + dup2 onto 1).
	32:  {name: "dup"},
	33:  {name: "dup2"},
	292: {name: "dup3"},

	41: {name: "socket"},
	42: {name: "connect", shape: shapeBytes, a: 1, b: 2},
	49: {name: "bind", shape: shapeBytes, a: 1, b: 2},
	50: {name: "listen"},
	// The peer's address, when the caller asked for it (sockaddr_in6 is
	// 28 bytes; libuv passes NULL, then /proc names the peer).
	43:  {name: "accept", shape: shapeBytes, a: 1, b: -28},
	288: {name: "accept4", shape: shapeBytes, a: 1, b: -28},

	101: {name: "ptrace"},
	105: {name: "setuid"},
	106: {name: "setgid"},
	272: {name: "unshare"},
	308: {name: "setns"},
}

var enterCalls = map[int]spec{
	59:  {name: "execve", shape: shapeExec, a: 0, b: 1},
	322: {name: "execveat", shape: shapeExec, a: 1, b: 2},
	231: {name: "exit_group"},
}

func sortedNrs(m map[int]spec) []int {
	out := make([]int, 0, len(m))
	for nr := range m {
		out = append(out, nr)
	}
	sort.Ints(out)
	return out
}

// Covered lists the system calls this backend records, sorted.
func Covered() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[int]spec{exitCalls, enterCalls} {
		for _, s := range m {
			if !seen[s.name] && !s.quiet {
				seen[s.name] = true
				out = append(out, s.name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// name returns the syscall's name for a record.
func name(nr uint64, enter bool) (string, bool) {
	m := exitCalls
	if enter {
		m = enterCalls
	}
	if nr > 1<<20 {
		return "", false
	}
	s, ok := m[int(nr)]
	return s.name, ok
}

// Package ebpf is the tracer's eBPF sensor backend (issue 15): raw
// tracepoint programs (sys_enter, sys_exit, and sched_process_fork where
// the kernel's BTF gives task_struct's layout: fork.go) written with
// cilium/ebpf's asm package, filtered in the kernel to the function containers' cgroup v2 ids
// (a hash map user space fills, whose values are the per-container counts
// of records lost to a full ring buffer), one ring buffer for the node, and
// user space that turns each container's records into pkg/event Events of
// the strace sensor's contract and ships them as JSON lines.
//
// Where it sits: tracer (this package, registered as chunk kind "ebpf" in
// pkg/tracer/backend) → chunks → faasmon-parse (Parse) → faasmon-graph.
// Unlike strace it stops nothing: the traced process cannot see it
// (TracerPid stays 0), and a container is followed by its cgroup, so the
// processes exec'd into it later are traced too.
//
// What it records, and what not: Covered lists the system calls. Paths
// (bounded to 255 bytes, read with bpf_probe_read_user_str), open flags,
// modes, results and errno (failed calls included), process lineage
// (a new process at sched_process_fork, before it runs and by its host
// pid, so nothing it does comes before its birth and a pod's own pid
// namespace does not matter; threads from clone; execve with its first 8
// arguments of at most 95 bytes; exit_group), socket endpoints from connect/bind's sockaddr, and
// read/write byte counts, and the X-Call-Id of a request a process
// received: a read or recvfrom whose first 4 bytes are an HTTP method has
// up to 4 KiB of its data copied (headMax), from which user space keeps
// only the call id, and only on a connection the process accepted. DNS
// queries (dns.go): connect marks a socket connected to port 53 in an LRU
// map by (tgid, fd) (close, dup2/dup3 over it and another connect forget
// it); a write, send/sendto, sendmsg or sendmmsg of 17..512 bytes on a
// marked socket, or naming a port-53 sockaddr, has up to 512 bytes of its
// data (sendmsg/sendmmsg: the first iovec of the first message) and that
// sockaddr copied, of which user space keeps only the first question's
// name and type as a KindDNS event (destination: the sockaddr, else the
// fd's remote end; it must be port 53), which the graph joins to the
// resolver's socket node as it joins pcap's. Not covered: writev
// (glibc's resolver over TCP), a query over 512 bytes, a DNS socket
// inherited by fork or dup'ed, DNS over TLS/HTTPS. Never another read or
// write payload, never the environment; argv leaves with credentials
// masked (strace.ScrubArgv, as the strace sensor does).
//
// Containers are followed from their creation when Config.FollowParent
// names the cgroup they are created under (kubepods; the local stack's
// faasmon-fn): the kernel filter also matches that parent's descendants
// and their records wait in user space (Probe.Follow) until the container
// is attached, so a cold start's first invocation is traced.
//
// What strace -yy gives for free is rebuilt in user space: each process's
// fd table and cwd (opens, sockets, connects, dup, pipe, chdir, fork,
// O_CLOEXEC at exec) names the fd of a read or write; an fd opened before
// attach is named from /proc/<pid>/fd; an opened path is resolved through
// its symlinks in the process's mount namespace (/proc/<pid>/root). The
// last two need the right to ptrace-read the process (CAP_SYS_PTRACE for
// another user's), which the eBPF DaemonSet does not have: there such fds
// stay unnamed and paths stay as asked for. TestParityWithStrace checks
// that, with that right, one workload traced by both sensors gives the
// same provenance graph.
//
// x86_64 only: syscall numbers and struct pt_regs offsets are that ABI's.
package ebpf

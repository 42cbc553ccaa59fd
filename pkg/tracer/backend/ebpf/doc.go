// Package ebpf is the tracer's eBPF sensor backend (issue 15): two raw
// tracepoint programs (sys_enter, sys_exit) written with cilium/ebpf's asm
// package, filtered in the kernel to the function containers' cgroup v2 ids
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
// (clone/fork/execve/exit_group), socket endpoints from connect/bind's
// sockaddr, and read/write byte counts. Never a read or write payload.
// execve's arguments, the request line and X-Call-Id, and DNS names are not
// read yet.
//
// x86_64 only: syscall numbers and struct pt_regs offsets are that ABI's.
package ebpf

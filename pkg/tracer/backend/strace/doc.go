// Package strace is the tracer's strace sensor backend: strace -f attached
// to a function container's processes (Args), its output cut into lines
// that are scrubbed (pkg/parse/strace.Scrubber, told the container's
// listening ports from /proc) before they reach the chunker, so secrets do
// not leave the node and X-Call-Id is kept only from requests the function
// received; and its chunks parsed by pkg/parse/strace into events. strace
// may be pinned to its tracee's CPU (PinSameCPU). Registered as chunk kind
// "strace".
//
// Which processes: strace -f follows only the children of those it
// attached to. At each attach and restart the stream takes the container's
// processes now, from its cgroup (discovery.Members), not discovery's list;
// while it runs, a watcher polls the cgroup every DefaultRescan and gives a
// process that entered from outside the traced tree (kubectl exec, docker
// exec, nsenter) to a second strace whose lines join the same stream, with
// no restart (rescan.go), and whose threads join the chunks' header
// (Reannotator). Each such process is tried once and counted
// (metrics.Rescanned).
//
// Where it sits: tracer (this package, through pkg/tracer/backend.Run,
// which restarts it with backoff as a new stream) → sender → faasmon-parse
// (Parse, through pkg/parse/ingest) → faasmon-graph → classify → alert.
package strace

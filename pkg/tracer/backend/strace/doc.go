// Package strace is the tracer's strace sensor backend: strace -f attached
// to a function container's processes (Args), its output cut into lines
// that are scrubbed (pkg/parse/strace.Scrubber, told the container's listening
// ports from /proc) before they reach the chunker, so secrets do not leave
// the node and X-Call-Id is kept only from requests the function received;
// and its chunks parsed by pkg/parse/strace into events. strace may be pinned to
// its tracee's CPU (PinSameCPU). Registered as chunk kind "strace".
//
// Where it sits: tracer (this package, through pkg/tracer/backend.Run,
// which restarts it with backoff as a new stream) → sender → faasmon-parse
// (Parse, through pkg/parse/ingest) → faasmon-graph → classify → alert.
package strace

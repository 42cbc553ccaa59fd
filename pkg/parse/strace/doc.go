// Package strace turns strace 6.x text output into event.Events.
//
// It reads what the tracer runs:
//
//	strace -f -ttt -yy -s 16384 -e trace=<sensor.SyscallSet> -p PID
//
// (scrubbed by Scrubber on the node before it becomes a chunk; older
// tracers used -s 256)
//
// and also -tt wall-clock stamps, no time stamp, and the three pid prefixes
// ("[pid  123] " when strace writes to a terminal or pipe, "123 " with -o,
// none without -f). Every line form strace prints for that set is handled:
// complete calls, "<unfinished ...>" / "<... name resumed>" pairs (joined
// into one Event, timed at the call's start), -yy fd annotations, strings
// with C escapes and "..." truncation, arrays, structs, sockaddrs, errors,
// "+++ exited/killed +++", "--- SIGNAL ---" and strace's own "strace: ..."
// messages (counted, not errors), including one printed in the middle of a
// call line, which happens when a child attaches while a call is printed.
//
// # Design
//
// The parser works on []byte sub-slices of the input and allocates only for
// the strings an Event must own. Those are interned in a bounded per-Parser
// table, so the paths, endpoints and errno names that repeat on most lines
// cost a map lookup instead of an allocation; syscall names come from a
// static table. A Parser carries the only state strace output needs across
// lines: the unfinished half of each pid's in-flight call (one per thread,
// capped at MaxPending) and the -tt day. Memory is bounded by MaxLineLen,
// MaxPending and the intern cap, whatever the input.
//
// A chunk of the tracer's stream must be parseable alone, so Parse/ParseBytes
// never fail on content: bad lines become errors carrying their line number
// and are counted, an orphan "<... resumed>" (its start was in an earlier
// chunk) still yields an Event with what the resumed half shows (return
// value, errno, returned fd's annotation, data read), and calls still
// unfinished at the end of a chunk are emitted by Flush with Errno
// ErrnoUnknown.
//
// It is part of the parse stage of the flow tracer → parse → graph →
// classify → alert (strace streams), used by pkg/parse/ingest. It also holds
// what runs at the very start of the flow, on the node: Scrubber
// (scrub.go), which the tracer's sensor runs on every strace line before
// it joins a chunk so that only what detection needs leaves the node, and
// the credential masks it shares with the parser (secrets.go: ScrubArgv,
// ScrubText, MaskURLInPlace for packets).
package strace

// Command pinbench measures what pinning strace to its tracee's CPU does to
// the tracee's speed (DESIGN.md §4). It runs a tracee (this same binary in
// "tracee" mode), attaches strace the way faasmon-tracer does, and reports
// the median time of a syscall-heavy loop and of HTTP round trips served by
// the tracee, for each placement of strace and tracee.
//
//	go run ./tests/tracer/pinbench [-iters 20000] [-reqs 300]
//
// A measurement of the tracer stage of the flow tracer → parse → graph →
// classify → alert.
package main

// Command cost is the detector's CPU account: it runs a command (a lab
// run), samples every process in /proc while it runs, and prints the CPU
// time (utime+stime, and that of reaped children) each group of processes
// used during it: the app's function processes, the detector's four
// functions, the tracer (its Go process, strace, tcpdump), the gateway,
// queue-worker and NATS, the provider, and the rest (the lab driver,
// builds).
//
//	go run ./tests/tracer/cost -invocations /tmp/cost/invocations.jsonl -- \
//	    go run ./tests/lab run -n 2 -out /tmp/cost tests/lab/scenarios/benign.yaml
//
// How a process is accounted: each is read at every sample (-interval) and
// counted from its first sample (or from its birth, if born during the
// run) to its last. A process that ends adds its whole CPU time to its
// parent's reaped-children time; the part this tool already counted for
// the child is taken off the parent, so the parent keeps only what ran
// after the child's last sample (and short-lived children never sampled:
// a function's shell pipeline counts as the function's). Function
// processes are named by the local provider's instance list (the tracer's
// own discovery source) and their descendants follow them.
//
// It is a development tool of the tracer's stage (tracer → parse → graph
// → classify → alert): the issue 15 goal is detector + tracer CPU ≤ 1× the
// app's own.
package main

// Command ebpfoverhead measures what the eBPF sensor (pkg/tracer/backend/ebpf)
// costs a traced process on this machine, without the local stack:
//
//   - loop: a process doing -loop iterations of open/read/close on one file
//     (two of the three calls are recorded), wall time per run;
//   - http: a Go net/http server answering -requests sequential keep-alive
//     GETs from this process (outside the traced cgroup), median latency.
//
// Each run starts a fresh child (this binary re-executed) in a fresh cgroup
// v2 child group. Settings alternate run by run so that the machine's drift
// hits them alike: "off" (no program loaded), "idle" (programs attached,
// the child's cgroup not traced: what every other process of the node
// pays), "on" (the child's cgroup traced, records drained, decoded and
// encoded as chunk lines as the tracer would) and, with -kernel, "kernel"
// (traced, records read and counted, not decoded). It prints the medians
// and the ratios to "off".
//
// With -paired N the http server runs alone, one process for the whole run,
// the setting switched every -requests requests for N blocks per setting,
// and the server's own CPU time per request is reported beside latency.
//
//	go build -o /tmp/ebpfoverhead ./tests/tracer/ebpfoverhead && /tmp/ebpfoverhead -runs 15 -kernel   # as root
//
// A measurement of the tracer stage of the flow tracer → parse → graph →
// classify → alert, for the eBPF sensor; it needs no local stack.
package main

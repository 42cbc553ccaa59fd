// Command faasmon-tracer is faasmon's per-node tracer (a DaemonSet on
// Kubernetes, a process on the local stack): it finds the function
// processes on this node, attaches its sensors to each (-kinds: strace and
// tcpdump by default, or the eBPF sensor, each a pkg/tracer/backend
// registered by kind), and posts their output in chunks to faasmon-parse
// through the gateway's async queue. With -kinds ebpf and -cgroup-parent
// (kubepods.slice; faasmon-fn on the local stack) a container is traced
// from its creation, before discovery names it.
//
// Every flag has an environment variable (in brackets) so that the DaemonSet
// configures it without a command line.
//
// It is the tracer stage, the first of the flow tracer → parse → graph →
// classify → alert; the work is pkg/tracer.
package main

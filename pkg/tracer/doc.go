// Package tracer is faasmon's per-node tracer: it follows the function
// containers a discovery source reports, keeps one strace and one tcpdump
// attached to each, and ships their output in chunks to faasmon-parse
// through the gateway's async queue.
//
// Layout: discovery (Kubernetes or local-stack targets) → Tracer (diff of
// snapshots → attach/detach) → sensor (strace/tcpdump process per target,
// restarted while the target lives) → chunker (chunks that parse alone) →
// sender (bounded queue, retries, fair drop: the noisiest container's oldest chunk first) → gateway.
//
// It is the tracer stage, the first of the flow tracer → parse → graph →
// classify → alert.
package tracer

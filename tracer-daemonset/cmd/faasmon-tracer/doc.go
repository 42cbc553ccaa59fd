// Command faasmon-tracer is faasmon's per-node tracer (a DaemonSet on
// Kubernetes, a process on the local stack): it finds the function
// processes on this node, attaches strace and tcpdump to each, and posts
// their output in chunks to faasmon-parse through the gateway's async queue.
//
// Every flag has an environment variable (in brackets) so that the DaemonSet
// configures it without a command line.
//
// It is the tracer stage, the first of the flow tracer → parse → graph →
// classify → alert; the work is pkg/tracer.
package main

// Package discovery finds the function processes the tracer must attach to:
// on a Kubernetes node, the containers of the pods labelled faas_function
// scheduled on this node; on the local stack, the instances the local
// provider lists. Both report full snapshots; the tracer diffs them.
// Members answers which processes a target has now (its cgroup's, see
// members.go), for a sensor that attaches to processes (strace) at each
// (re)attach and while it runs.
//
// It is part of the tracer stage of the flow tracer → parse → graph →
// classify → alert.
package discovery

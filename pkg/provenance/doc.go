// Package provenance builds provenance graphs from events: who (process) did
// what (syscall) to which object (file, socket, pipe), one graph per function
// invocation and one per background window between invocations.
//
// It is the graph stage of the flow tracer → parse → graph → classify →
// alert.
package provenance

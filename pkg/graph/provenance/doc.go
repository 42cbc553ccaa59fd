// Package provenance builds provenance graphs from events: who (process) did
// what (syscall) to which object (file, socket, pipe), one graph per function
// invocation and one per background window between invocations.
//
// Graphs are bounded where they are made (MaxNodes, with overflow nodes and
// Graph.Truncated past it) and, before faasmon-graph queues them, compacted
// to the queue's body limit by Compact (compact.go), which folds repeated
// similar files and processes and keeps what the detectors read.
//
// It is the graph stage of the flow tracer → parse → graph → classify →
// alert.
package provenance

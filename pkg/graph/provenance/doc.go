// Package provenance builds provenance graphs from events: who (process) did
// what (syscall) to which object (file, socket, pipe), one graph per function
// invocation and one per background window between invocations.
//
// Graphs are bounded where they are made (MaxNodes, with overflow nodes and
// Graph.Truncated past it) and, before faasmon-graph queues them, compacted
// to the queue's body limit by Compact (compact.go), which folds repeated
// similar files and processes and keeps what the detectors read.
//
// A container's half-built graphs wait between batches in FileStore
// (store.go): a JSON snapshot of its State plus a journal of the batches
// applied since (journal.go). faasmon-graph answers a batch only once it
// is on disk, so that a process killed mid-stream loses nothing; it used
// to re-encode and rewrite the whole state for that, which was the
// largest part of its CPU (BENCHMARKS.md, "What the detector costs").
// Now a batch is appended to the journal and synced (its bytes as they
// came: no encoding), and the snapshot is rewritten every 64 batches or
// 8 MB of journal, and when the state was read from disk. Measured on a
// busy container's state (BenchmarkStoreUpdate): about a tenth of the
// CPU per batch. Keeping the state in memory and writing it every few
// seconds would have been cheaper still, but breaks the acknowledgement;
// group commit does not help here, as one container's batches come one
// at a time (the tracer waits for each answer). A cheaper encoding of the
// whole state would still cost in proportion to the state, not the batch.
//
// It is the graph stage of the flow tracer → parse → graph → classify →
// alert.
package provenance

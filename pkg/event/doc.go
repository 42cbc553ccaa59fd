// Package event is the typed event model shared by every stage: the parsers
// turn strace text and pcap bytes into Events, faasmon-parse ships them as a
// Batch to faasmon-graph (event lines, batch.go), which folds them into
// provenance graphs. line.go and lineread.go are the Event's line codec:
// the eBPF sensor writes its chunks with it, the batch is framed with it.
//
// It is the contract between the parse and graph stages of the flow tracer →
// parse → graph → classify → alert.
package event

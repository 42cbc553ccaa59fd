// Package event is the typed event model shared by every stage: the parsers
// turn strace text and pcap bytes into Events, faasmon-parse ships them as a
// Batch (JSON) to faasmon-graph, which folds them into provenance graphs.
//
// It is the contract between the parse and graph stages of the flow tracer →
// parse → graph → classify → alert.
package event

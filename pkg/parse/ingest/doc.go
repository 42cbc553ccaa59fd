// Package ingest turns one tracer chunk (headers and body) into an event
// batch: the work of faasmon-parse, kept out of the HTTP handler.
//
// It is the parse stage of the flow tracer → parse → graph → classify →
// alert, over pkg/parse/strace and pkg/parse/pcap.
package ingest

// Package function is faasmon-parse: it takes one tracer chunk (chunk
// headers, strace text or pcap bytes) and sends the events it holds on to
// faasmon-graph through the async queue.
//
// It is the parse stage of the flow tracer → parse → graph → classify →
// alert, right after the tracer; the parsing is pkg/ingest.
package function

// Package function is faasmon-parse: it takes one tracer chunk (chunk
// headers, strace text or pcap bytes) and sends the events it holds on to
// faasmon-graph: by default synchronously, answering only once graph has
// stored them, so that a failure is the caller's to retry (forward: sync);
// or through the async queue (forward: async). A heartbeat chunk is sent
// on unparsed.
//
// It is the parse stage of the flow tracer → parse → graph → classify →
// alert, right after the tracer; the parsing is pkg/parse/ingest.
package function

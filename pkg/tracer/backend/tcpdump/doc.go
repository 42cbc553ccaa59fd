// Package tcpdump is the tracer's tcpdump sensor backend: tcpdump run in a
// function container's network namespace (nsenter --net), its pcap stream
// cut into records, each chunk a pcap file of its own (the global header
// repeated as the stream's prefix), and its chunks parsed by pkg/parse/pcap into
// flow, HTTP and DNS events. Registered as chunk kind "pcap" with the
// flows role: the graph builder joins its events to invocations as those
// finish.
//
// Where it sits: tracer (this package, through pkg/tracer/backend.Run) →
// sender → faasmon-parse (Parse, through pkg/parse/ingest) → faasmon-graph.
package tcpdump

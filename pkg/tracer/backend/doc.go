// Package backend is the tracer's pluggable sensor interface: one Backend per
// chunk kind says how it attaches to a function container, how its output
// is cut into units for the chunker, what content type its chunks carry and
// how a chunk body parses into pkg/event Events. Backends register by kind
// at init (as Tetragon's sensors register their probe types), so adding one
// is a new package plus one Register call rather than a new case in every
// chunk.Kind switch.
//
// Where it sits: discovery → Tracer → backend.Attach (per target) → Stream
// of chunker.Units → chunker.Cutter → sender; on the parse side, ingest
// looks the chunk's kind up here and calls Parse.
//
// The backends: strace (backend/strace, the design's sensor, run by
// default), tcpdump (backend/tcpdump, default, kind pcap, role flows) and
// eBPF (backend/ebpf). What differs between them and would otherwise be a
// kind switch is asked through optional interfaces: Chunker (tighter
// chunk bounds), Defaulter (run when no kind is chosen), Roler (what the
// graph builder does with the chunks, chunk.Role), Annotator (header
// fields learnt at attach; Reannotator: learnt later), Starter
// (node-wide work before the first attach: eBPF loads and follows new
// containers), Excluder (containers never to trace), Stream.Prefix (pcap's
// global header). Proc runs a sensor that is a child process.
package backend

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
// State of the migration: the eBPF backend (package backend/ebpf) is the
// first one on this interface. strace and tcpdump still run through
// pkg/tracer/sensor and are parsed by pkg/ingest's own switch; moving them
// here is the next step (issue 15).
package backend

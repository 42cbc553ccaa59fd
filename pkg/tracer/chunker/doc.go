// Package chunker cuts a sensor's output stream (strace text or pcap bytes)
// into chunks that can each be parsed alone: strace on line boundaries, pcap
// on record boundaries with the stream's global header repeated at the start
// of every chunk. It cuts just before an invocation begins (the X-Call-Id of
// the upstream request) so that one chunk rarely spans two invocations, and
// otherwise after a quiet period, at a time cap or at a size or line cap.
// Packets are scrubbed in place as they are read (ScrubPacket): only a
// request's line, Host and X-Call-Id and DNS keep their payload.
//
// It is part of the tracer stage of the flow tracer → parse → graph →
// classify → alert.
package chunker

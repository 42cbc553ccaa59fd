// Package sensor runs strace and tcpdump against one target, feeds their
// output through a chunker, and restarts them with backoff when they die
// while the target lives. Every (re)start is a new stream, numbered from 0.
// strace lines are scrubbed (strace.Scrubber, told the container's
// listening ports from /proc) before they reach the chunker: secrets do not
// leave the node, and X-Call-Id is kept only from requests the function
// received.
//
// It is part of the tracer stage of the flow tracer → parse → graph →
// classify → alert.
package sensor

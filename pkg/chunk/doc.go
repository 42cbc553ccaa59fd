// Package chunk defines the unit the tracer ships through the OpenFaaS async
// queue: a piece of one strace or pcap stream that can be parsed on its own,
// with headers that say where it came from and where it sits in its stream.
//
// It is the contract between the first two stages of the flow tracer → parse
// → graph → classify → alert: the tracer writes chunks, parse reads them.
package chunk

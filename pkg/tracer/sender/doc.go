// Package sender posts chunks to faasmon-parse through the gateway's async
// endpoint, from a bounded in-memory queue: when the gateway is slow or
// down it retries with capped exponential backoff, and when the queue is full
// it drops the oldest chunks, counting them and stamping the next chunk of
// the same stream with how many of its predecessors were lost.
//
// It is the tracer stage's end of the flow tracer → parse → graph → classify
// → alert: the hop to parse.
package sender

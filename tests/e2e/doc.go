// Package e2e runs the whole detector on the local stack: the tracer
// straces and captures the lab's victim functions, chunks go through the
// real OpenFaaS async queue to faasmon-parse, faasmon-graph builds the
// graphs, faasmon-classify judges them with the committed model, and
// faasmon-alert publishes alerts on NATS Streaming and to a webhook.
//
// It tests the whole flow tracer → parse → graph → classify → alert on the
// local stack; it skips under -short.
package e2e

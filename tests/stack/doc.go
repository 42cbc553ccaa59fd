// Package stack runs the local OpenFaaS stack end to end: the real
// gateway, NATS Streaming, queue-worker and Prometheus with faasmon's local
// provider, deploying stack.yml and test functions through the gateway and
// go-sdk. It needs root; it skips otherwise.
//
// It tests the stack the flow tracer → parse → graph → classify → alert runs
// on; it skips under -short.
package stack

// Package streaming is faasmon's connection to NATS Streaming, the OpenFaaS
// CE queue server: one lazily made connection per Client, remade after it
// is lost, publications that wait for the server's ack, and a signal when
// the connection goes so that subscribers can subscribe again.
//
// It carries the classify → alert hand-over (pkg/outbox) and the alert
// channel of the flow tracer → parse → graph → classify → alert.
package streaming

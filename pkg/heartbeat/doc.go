// Package heartbeat is the tracer's "still here": every node's tracer
// sends, every few seconds, an empty chunk of kind Kind through the same
// path as its traces (sender → faasmon-parse → faasmon-graph), so that an
// idle node is told from a silent one. faasmon-graph's Watch (this
// package's Tracker over its state directory) raises a blind-spot alert
// when a node it knows has been silent for longer than a bound, once per
// silence, and a note when it is heard again.
package heartbeat

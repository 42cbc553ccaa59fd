// Package shipped holds a test of what the shipped binaries link: the four
// functions of the flow (faasmon-parse, faasmon-graph, faasmon-classify,
// faasmon-alert), the tracer's DaemonSet command and the user's faasmon
// command must not link the local development stack, the lab, test helpers
// or Go's testing package. It sits beside the flow tracer → parse → graph →
// classify → alert, guarding the line between what ships and what develops
// it; it starts nothing.
package shipped

// Package outbox makes the hand-over of attack verdicts from faasmon-classify
// to faasmon-alert survive the alert stage dying.
//
// The normal path is the OpenFaaS callback: the queue-worker posts
// classify's answer to /async-function/faasmon-alert, and the CE
// queue-worker acknowledges its message whatever the function answered, so
// a verdict whose alert call hits a dead or restarting faasmon-alert is
// gone. The outbox is the second path: classify publishes every attack
// verdict on a NATS Streaming channel before it answers; faasmon-alert
// consumes that channel in a durable queue group with manual acks, gives
// the callback a head start (Grace), skips verdicts it already handled, and
// acknowledges only after the alert went out. A consumer killed mid-way
// leaves its messages unacknowledged, and the server redelivers them to
// the next member of the group after AckWait.
//
// It is the classify → alert hand-over of the flow tracer → parse → graph →
// classify → alert.
package outbox

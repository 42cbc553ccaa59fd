// Package verdict is the contract between faasmon-classify and whoever
// reads its answers: faasmon-alert (through the queue callback), users who
// invoke classify directly, and the lab's evaluation.
//
// It is the contract between the classify and alert stages of the flow
// tracer → parse → graph → classify → alert.
package verdict

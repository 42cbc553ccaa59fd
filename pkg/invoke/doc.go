// Package invoke sends a stage's output to the next detector function
// through the OpenFaaS async queue, with go-sdk.
//
// It is the hop between stages of the flow tracer → parse → graph → classify
// → alert: parse → graph and graph → classify.
package invoke

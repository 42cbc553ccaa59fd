// Package function is faasmon-graph: it folds event batches into
// provenance graphs, one per invocation and one per background window, and
// queues each finished graph for faasmon-classify, whose answer the queue
// posts on to faasmon-alert.
//
// It is the graph stage of the flow tracer → parse → graph → classify →
// alert; the graph building is pkg/provenance.
package function

// Package function is faasmon-graph: it folds event batches into
// provenance graphs, one per invocation and one per background window, and
// queues each finished graph for faasmon-classify, whose answer the queue
// posts on to faasmon-alert.
//
// A batch is answered once it is stored: appended, as it came, to its
// container's journal beside the state's snapshot (provenance.FileStore);
// a new process replays the journal without emitting its graphs again.
//
// A finished graph waits in an outbox (pending.go) written with the state
// that produced it, until classify's queue took it. In the background it
// sweeps that outbox, collects the states of containers gone quiet, and
// watches every node's tracer (silence.go): a node unheard for
// silence_after_seconds is a blind-spot alert to faasmon-alert.
//
// It is the graph stage of the flow tracer → parse → graph → classify →
// alert; the graph building is pkg/graph/provenance.
package function

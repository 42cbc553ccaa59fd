// Package function is faasmon-classify: one provenance graph (or a JSON
// array of them) in, the verdict with its findings and explanation out
// (pkg/classify/detect: runtime invariants ∪ the GNN's parts).
//
// It is the classify stage of the flow tracer → parse → graph → classify →
// alert; the decision is pkg/classify/detect's, over pkg/classify/invariant and the GNN of
// pkg/classify/gnn with the model file that package model embeds.
package function

// Package function is faasmon-classify: one provenance graph (or a JSON
// array of them) in, the verdict with its findings and explanation out
// (pkg/detect: runtime invariants ∪ the GNN's parts).
//
// It is the classify stage of the flow tracer → parse → graph → classify →
// alert; the decision is pkg/detect's, over pkg/invariant and the GNN of
// pkg/gnn with the model file that package model embeds.
package function

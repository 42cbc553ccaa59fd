// Package function is faasmon-classify: one provenance graph (or a JSON
// array of them) in, the GNN's verdict with its explanation out.
//
// It is the classify stage of the flow tracer → parse → graph → classify →
// alert; the model is pkg/gnn with the file that package model embeds.
package function

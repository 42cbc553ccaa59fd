// Package gnn is faasmon's graph classifier: an R-GCN over the node
// features and typed adjacency of pkg/classify/features, generic over float32
// (training, inference) and float64 (gradient checks), with its training
// (AdamW, early stopping, the 80:20 study and leave-one-attack-out), the
// one-class (Deep SVDD) part, the per-function egress baseline, the model
// file, evaluation metrics, the verdict with its gradient × input
// explanation, and synthetic graphs for smoke tests. model/README.md
// describes the network and the model file.
//
// It is the second half of the classify stage of the flow tracer → parse → graph → classify → alert:
// faasmon-classify loads the model (package model embeds it) and calls it on
// each graph.
package gnn

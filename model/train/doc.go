// Command train fits the faasmon GNN on a directory of labelled provenance
// graphs and writes the model file.
//
//	go run ./model/train -data DIR -out model/faasmon.model [-seed 1] [-epochs 100] [-exclude-scenario NAME,...]
//
// See model/README.md.
//
// Offline, beside the flow tracer → parse → graph → classify → alert: it
// trains a model for the classify stage (`make train`); the published one
// comes from model/report.
package main

// Command faasmon-dot renders a provenance graph (the JSON contract) as
// Graphviz DOT, or as SVG when -svg names an output file and Graphviz's dot
// is installed.
//
//	go run ./cmd/faasmon-dot -in graph.json -svg graph.svg
//
// A viewer for the output of the graph stage (faasmon-graph,
// pkg/graph/provenance), outside the flow tracer → parse → graph → classify →
// alert.
package main

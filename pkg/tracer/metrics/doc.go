// Package metrics holds the tracer's Prometheus collectors, on a registry of
// their own so that tests can build several tracers side by side.
//
// It is part of the tracer stage of the flow tracer → parse → graph →
// classify → alert.
package metrics

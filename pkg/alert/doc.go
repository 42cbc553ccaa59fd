// Package alert is the last stage of faasmon: it turns classify verdicts into
// alerts. It drops benign verdicts (counted), deduplicates repeats of the
// same intrusion in the same container within a window, enriches the alert
// with where it happened and the process chain, renders the explanation as a
// text chain and a Graphviz DOT subgraph, optionally recycles the compromised
// container (Responder), and fans the alert out to sinks concurrently with
// per-sink retries and timeouts. The Falcosidekick sink speaks Falco's JSON
// output (falco.go): rule, priority and MITRE tags from the verdict's
// findings, Falco's field names, printable ASCII where Falcosidekick-UI
// demands it.
//
// The faasmon-alert function is a thin adapter: build a Processor once
// (NewProcessorFromConfig(LoadConfig())), then call Processor.Process for
// every verdict it receives.
//
// It is the alert stage of the flow tracer → parse → graph → classify →
// alert.
package alert

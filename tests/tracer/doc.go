// Package tracer checks the tracer's Kubernetes manifests offline: each
// YAML document decodes strictly (unknown or duplicate fields are errors)
// into the k8s.io/api types through client-go's scheme, and the DaemonSet's
// security settings are exactly the intended ones.
//
// It also runs the tracer, the first stage of the flow tracer → parse →
// graph → classify → alert, against the local stack: TestFault (sensor and
// gateway faults), TestColdStartFirstInvocationEBPF (a cold start's first
// invocation has its graph under the eBPF sensor; both skipped under
// -short) and TestLocalStackSensors (only when FAASMON_TEST_GATEWAY and
// FAASMON_TEST_FUNCTIONS name a running stack). Its commands: overhead
// (latency traced/untraced, per sensor), ebpfoverhead, pinbench and cost
// (the CPU account of a lab run per process group).
package tracer

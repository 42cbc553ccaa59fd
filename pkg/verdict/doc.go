// Package verdict is the contract between faasmon-classify and whoever
// reads its answers: faasmon-alert (through the queue callback), users who
// invoke classify directly, and the lab's evaluation.
//
// It is the contract between the classify and alert stages of the flow
// tracer → parse → graph → classify → alert.
//
// # Blind spots
//
// A Finding with Part PartBlindSpot says the detector could not see part
// of a container: a sequence gap, chunks the tracer dropped, a tracer
// restart, a state reset, a full builder table, a silent tracer. The
// contract:
//
//   - A blind spot never changes Verdict: a graph with only blind-spot
//     findings stays Benign, so the lab's metrics and the profile's
//     learning count it as what its other parts said. It is not evidence
//     of an intrusion; an attacker may cause one, which is why it is
//     reported.
//   - Alerting is true for an attack or for any verdict with a blind-spot
//     finding: faasmon-alert raises an alert for both, on the same sinks,
//     and classify's outbox carries both. A blind-spot-only alert has
//     Falco priority Warning and rule "faasmon blind spot" (pkg/alert),
//     is deduplicated per container and kind, and never triggers a
//     response (recycling a container because the tracer lagged would be
//     a denial of service anyone could cause).
//   - Findings of an attack verdict also carry its blind spots, so that an
//     alert says when the evidence may be incomplete.
//   - Silence of a whole node's tracer has no graph: faasmon-graph raises
//     it as a Benign verdict of the pseudo-function "faasmon-tracer" with
//     one blind-spot finding (rule BlindSilent), and its return as a
//     Notice (rule BlindBack).
package verdict

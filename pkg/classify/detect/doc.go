// Package detect is the classify stage's decision: it runs every part of
// the detector on one provenance graph and answers one verdict, an attack
// when any part finds one — runtime invariants (pkg/classify/invariant) ∪
// deviations from the function's behaviour profile ∪ the egress baseline ∪
// the GNN (pkg/classify/gnn). Each part that decided adds a verdict.Finding that
// says what it saw in words, so that an alert names its evidence.
//
// faasmon-classify's handler is a thin adapter over Detector.Verdict; the
// lab's offline evaluation uses the same Detector, so that what is
// measured is what runs.
package detect

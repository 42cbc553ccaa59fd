// Package lab is faasmon's attack lab: scenario files (attacks and benign
// traffic written as data), lab hosts (an attacker and a benign supplier,
// each an HTTP server in its own network namespace), a runner that plays
// scenarios against the victim app through the OpenFaaS gateway, and the
// labelling of the provenance graphs that faasmon-graph archives into a
// dataset, joined with the verdicts faasmon-alert publishes.
//
// Development tooling, never linked by a shipped binary (tests/shipped
// checks): it drives the whole flow tracer → parse → graph → classify →
// alert on the local stack and makes the dataset the classify stage's model
// is trained on. foreign.go plays public functions nobody here wrote (an
// evaluation set, never training data) the same way and reports their false
// positive rate.
package lab

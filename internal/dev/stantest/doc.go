// Package stantest runs a real nats-streaming-server for tests: it finds
// the binary where the local stack keeps it (<repo>/.cache/bin, see
// localstack.BinDir), building it there from the repository's tools module
// when it is missing, and starts it on a free loopback port. It skips only
// under -short (make unit starts nothing); otherwise a test that needs the
// server fails when it cannot be had.
//
// Test tooling, never linked by a shipped binary (tests/shipped checks): it
// serves the tests of the queue hand-overs of the flow tracer → parse →
// graph → classify → alert.
package stantest

// Package proctest finds this test process's children in /proc: the
// sensor tests kill the strace or tcpdump their code started and need its
// pid.
//
// Test tooling, never linked by a shipped binary (tests/shipped checks): it
// serves the tests of the tracer stage of the flow tracer → parse → graph →
// classify → alert.
package proctest

// Package function is the stack test's Go function: it reports what the
// sandbox gives it, and can leave a file in /tmp (as a payload would) so
// the test sees recycling clear it.
//
// A test function of tests/stack, outside the flow tracer → parse → graph →
// classify → alert.
package function

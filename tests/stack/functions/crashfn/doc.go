// Package function crashes at start: the stack test checks that deploying
// it fails with a 5xx carrying the tail of its log.
//
// A test function of tests/stack, outside the flow tracer → parse → graph →
// classify → alert.
package function

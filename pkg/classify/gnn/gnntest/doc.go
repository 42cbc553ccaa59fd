// Package gnntest trains small real models for the tests of the packages
// that use one (the classify stage's detector and handler): a test then
// runs the real forward pass, not a stand-in. It is a test helper: no
// shipped binary imports it.
//
// It develops the classify stage of the flow tracer → parse → graph →
// classify → alert.
package gnntest

// Command generalise is faasmon's generalisation benchmark (issue 13, item
// 6): detection on attacks and code the detector never saw.
//
// Attacks: Atomic Red Team's Linux atomics, read at run time from a
// checkout (default ../shared/atomic-red-team beside the repository; never
// copied into it), selected (sh/bash executor, no elevation, prerequisites
// that only check for installed tools, nothing that would harm the host:
// see internal/dev/lab/atomic.go), each played as one invocation through the lab's
// flaw (a) with the lab's benign traffic mixed in, through the whole live
// pipeline on the local stack. The scores go into the "atomic" section of
// model/generalisation-report.json; the other sections are left as they are.
//
// The graphs of this run are written under -out only (default
// /tmp/faasmon-generalise/atomic), never into the lab's training data
// (/tmp/faasmon-lab): they are an evaluation set.
//
//	go run ./tests/generalise atomic [-atomics DIR] [-out DIR] [-report FILE] [-only IDS] [-list]
//		[-rescore] [-baseline OLD/atomic-report.json]
//
// It develops (measures) the whole flow tracer → parse → graph → classify →
// alert, on the local stack.
package main

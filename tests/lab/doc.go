// Command lab plays attack-lab scenarios against the victim app on an
// OpenFaaS stack and writes a labelled dataset. See tests/lab/README.md.
//
//	go run ./tests/lab run -scenario FILE... -out DIR [-n N] [-seed S] [-gateway URL] [-graphs DIR]
//
// Development tooling, beside the flow tracer → parse → graph → classify →
// alert: it feeds the flow traffic and labels what comes out (internal/dev/lab).
package main

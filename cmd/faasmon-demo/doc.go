// Command faasmon-demo is `make demo`: a container-reuse attack on the
// local OpenFaaS stack, caught, explained and stopped (see pkg/lab.Demo).
//
// Development tooling, not shipped: it runs the whole flow tracer → parse →
// graph → classify → alert on the local stack (pkg/localstack) through
// pkg/lab.
package main

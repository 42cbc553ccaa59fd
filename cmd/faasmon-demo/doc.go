// Command faasmon-demo is `make demo`: a container-reuse attack on the
// local OpenFaaS stack, caught, explained and stopped (see internal/dev/lab.Demo).
//
// Development tooling, not shipped: it runs the whole flow tracer → parse →
// graph → classify → alert on the local stack (internal/dev/localstack) through
// internal/dev/lab.
package main

// Package localstack is the local OpenFaaS stack for development and
// tests: the real gateway, NATS Streaming, queue-worker (built from
// tools/go.mod) and Prometheus, with faasmon's own provider, which runs each
// function as a sandboxed process in its own network namespace instead of a
// container. It builds and deploys stack.yml's functions without Docker or
// faas-cli (build.go, deploy.go), keeps credentials and secrets, and gives
// tests one shared stack (StartForTest, skipped under -short).
//
// Development tooling, never linked by a shipped binary (tests/shipped
// checks): it hosts the flow tracer → parse → graph → classify → alert on one machine. The
// instance list its provider serves is defined in pkg/provider, which the
// shipped tracer and alert use as clients.
package localstack

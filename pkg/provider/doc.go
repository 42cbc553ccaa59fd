// Package provider holds the client side of the faasmon endpoints that the
// local stack's OpenFaaS provider serves beside the faas-provider API: the
// Instance record (one function process, the local stand-in for a pod's
// container), the paths of the instance list and of recycle, and
// FetchInstances, the one client of the list (status check, bounded body).
//
// It ships: the tracer's local discovery (pkg/tracer/discovery) finds the
// processes to trace through it, at the start of the flow
// tracer → parse → graph → classify → alert, and the alert's responder
// (pkg/alert) reads instance labels and recycles through it at the end. The
// server side, and everything else of the development stack, is
// internal/dev/localstack, which imports this package rather than the other way round
// so that shipped binaries never link the stack.
package provider

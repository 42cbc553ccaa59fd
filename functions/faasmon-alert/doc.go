// Package function is faasmon-alert: the callback of faasmon-classify's
// async invocations. The OpenFaaS queue-worker posts classify's raw answer
// (a verdict.Verdict, or an array of them for a batch) with the call's
// X-Function-Status and X-Call-Id; pkg/alert does the rest.
//
// It is the alert stage, the last of the flow tracer → parse → graph →
// classify → alert.
package function

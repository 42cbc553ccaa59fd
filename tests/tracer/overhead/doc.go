// Command overhead measures what tracing costs a function: the latency of
// sync invocations through the gateway with the tracer detached and
// attached, median over -n calls each, for each function named.
//
//	go run ./tests/tracer/overhead -n 200 product-catalog-api purchase-get-price
//
// The functions must be deployed on the local stack (make up; the lab's
// stack.yml) and no other tracer may run.
//
// A measurement of the tracer stage of the flow tracer → parse → graph →
// classify → alert.
package main

// Command load measures the whole pipeline under a steady load: at each
// target rate it paces benign invocations of one lab function for a while
// through the lab (tracer, queue, parse, graph, classify, alert on the
// local stack) and reports the achieved rate and the lag from each
// invocation's start to its graph's verdict (p50, p99). A burst says
// nothing about a sustained rate (the queue absorbs it and the lag grows
// with the backlog), so calls are paced, and the pipeline drains between
// levels. The highest rate whose p99 stays within the bound is the
// pipeline's sustained capacity on this machine. See BENCHMARKS.md.
//
//	go run ./tests/load -rates 2,4,8,16 -seconds 40 -out /tmp/faasmon-load
package main

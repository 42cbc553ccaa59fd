// Command report trains the published model on an 80:20 split of a lab
// dataset, evaluates it on the 20%, runs leave-one-attack-out, and writes
// the model and model/eval-report.json.
//
//	go run ./model/report -data /tmp/faasmon-lab/graphs [-latency /tmp/faasmon-lab/summary.json]
//
// Offline, beside the flow tracer → parse → graph → classify → alert: it
// makes the model that the classify stage embeds (`make report`).
package main

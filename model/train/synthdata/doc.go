// Command synthdata writes a synthetic labelled data set (gnn.SyntheticGraph)
// in the layout model/train reads, for smoke tests before lab data exists:
//
//	go run ./model/train/synthdata -out /tmp/syn -n 400 [-seed 1]
//
// Offline test data for the classify stage's training, beside the flow
// tracer → parse → graph → classify → alert.
package main

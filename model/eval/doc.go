// Command eval scores a model on a directory of labelled graphs and prints
// precision, recall, F1, accuracy, FPR, ROC AUC and the confusion matrix for
// the supervised part, the one-class part and the combined verdict.
//
//	go run ./model/eval -model model/faasmon.model -data DIR [-json out.json]
//
// Offline, beside the flow tracer → parse → graph → classify → alert: it
// measures the classify stage's model.
package main

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/faasmon/faasmon/pkg/classify/gnn"
)

func main() {
	modelPath := flag.String("model", "model/faasmon.model", "model file")
	data := flag.String("data", "", "directories (comma-separated) of labelled graph JSON files, searched recursively")
	jsonOut := flag.String("json", "", "also write the report as JSON to this file (- for stdout)")
	only := flag.String("scenario", "", "comma-separated scenarios to keep (default all)")
	flag.Parse()
	if *data == "" {
		flag.Usage()
		os.Exit(2)
	}
	m, err := gnn.LoadFile(*modelPath)
	if err != nil {
		fail(err)
	}
	ex, err := gnn.LoadDir(*data, nil)
	if err != nil {
		fail(err)
	}
	if *only != "" {
		keep := strings.Split(*only, ",")
		ex = slices.DeleteFunc(ex, func(e gnn.Example) bool { return !slices.Contains(keep, e.Graph.Scenario) })
	}
	r := m.Evaluate(ex)
	print(os.Stdout, r)
	if *jsonOut != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			fail(err)
		}
		b = append(b, '\n')
		if *jsonOut == "-" {
			os.Stdout.Write(b)
		} else if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			fail(err)
		}
	}
}

func print(w io.Writer, r gnn.Report) {
	fmt.Fprintf(w, "model %s, %d graphs\n\n", r.ModelVersion, r.Graphs)
	fmt.Fprintf(w, "%-11s %9s %9s %9s %9s %9s %9s %9s  %s\n", "part", "threshold", "precision", "recall", "F1", "accuracy", "FPR", "ROC AUC", "confusion [[TN FP] [FN TP]]")
	row := func(name string, m gnn.Metrics) {
		fmt.Fprintf(w, "%-11s %9.4g %9.4f %9.4f %9.4f %9.4f %9.4f %9.4f  %v\n", name, m.Threshold, m.Precision, m.Recall, m.F1, m.Accuracy, m.FPR, float64(m.AUC), m.Confusion)
	}
	row("supervised", r.Supervised)
	if r.OneClass != nil {
		row("one-class", *r.OneClass)
	}
	if r.Egress != nil {
		row("egress", *r.Egress)
	}
	row("combined", r.Combined)
	fmt.Fprintf(w, "\n%-32s %-7s %6s %11s %11s %11s %11s\n", "scenario", "label", "graphs", "supervised", "one-class", "egress", "combined")
	var names []string
	for k := range r.PerScenario {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		s := r.PerScenario[k]
		fmt.Fprintf(w, "%-32s %-7s %6d %10.1f%% %10.1f%% %10.1f%% %10.1f%%\n", k, s.Label, s.N, 100*s.Supervised, 100*s.OneClass, 100*s.Egress, 100*s.Combined)
	}
	fmt.Fprintln(w, "\n(per scenario: share of graphs flagged as attack)")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "eval:", err)
	os.Exit(1)
}

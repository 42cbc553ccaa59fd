package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/faasmon/faasmon/pkg/classify/features"
	"github.com/faasmon/faasmon/pkg/classify/gnn"
)

func main() {
	d := gnn.DefaultTrainConfig()
	data := flag.String("data", "", "directories (comma-separated) of labelled graph JSON files, searched recursively")
	out := flag.String("out", "model/faasmon.model", "model file to write")
	seed := flag.Uint64("seed", d.Seed, "seed of the split, initialisation, shuffling and dropout")
	epochs := flag.Int("epochs", d.Epochs, "maximum epochs (early stopping may end sooner)")
	patience := flag.Int("patience", d.Patience, "epochs without a better validation F1 before stopping")
	exclude := flag.String("exclude-scenario", "", "comma-separated scenarios left out of training (to test unseen attacks)")
	valFrac := flag.Float64("val", 0.2, "validation fraction (stratified)")
	ocEpochs := flag.Int("one-class-epochs", d.OneClassEpochs, "epochs of the one-class part (-1: none)")
	ocVotes := flag.Bool("one-class-votes", d.OneClassVotes, "let the embedding-distance part decide verdicts on its own (default: reported only)")
	egress := flag.Float64("egress-max-missing", d.EgressMaxMissing, "arm a function's egress baseline when at most this share of its benign graphs is estimated to reach a new external endpoint (<0: no egress part)")
	flag.Parse()
	if *data == "" {
		flag.Usage()
		os.Exit(2)
	}
	var ex []string
	if *exclude != "" {
		ex = strings.Split(*exclude, ",")
	}
	all, err := gnn.LoadDir(*data, ex)
	if err != nil {
		fail(err)
	}
	train, val := gnn.Split(all, *valFrac, *seed)
	fmt.Fprintf(os.Stderr, "%d graphs (%d train, %d val), feature schema %d (%d columns)\n",
		len(all), len(train), len(val), features.SchemaVersion, features.Dim)
	cfg := d
	cfg.Seed, cfg.Epochs, cfg.Patience, cfg.OneClassEpochs, cfg.EgressMaxMissing, cfg.OneClassVotes, cfg.Log = *seed, *epochs, *patience, *ocEpochs, *egress, *ocVotes, os.Stderr
	start := time.Now()
	m, err := gnn.Train(cfg, train, val)
	if err != nil {
		fail(err)
	}
	m.Meta.Summary.Excluded = ex
	if err := m.Save(*out); err != nil {
		fail(err)
	}
	r := m.Evaluate(val)
	fmt.Fprintf(os.Stderr, "trained in %v; validation: supervised F1 %.4f, combined F1 %.4f FPR %.4f\n",
		time.Since(start).Round(time.Millisecond), r.Supervised.F1, r.Combined.F1, r.Combined.FPR)
	fmt.Fprintf(os.Stderr, "wrote %s (model_version %s)\n", *out, m.Version())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "train:", err)
	os.Exit(1)
}

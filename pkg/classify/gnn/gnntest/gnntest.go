package gnntest

import (
	"math/rand/v2"
	"testing"

	"github.com/faasmon/faasmon/pkg/classify/gnn"
)

// SmallModel trains a model of a few hidden units on 60 synthetic graphs
// (seconds) and returns it with the generator it drew them from, so that a
// test draws more graphs of the same kind.
func SmallModel(tb testing.TB) (*gnn.Model, *rand.Rand) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var ex []gnn.Example
	for i := 0; i < 60; i++ {
		e, err := gnn.NewExample(gnn.SyntheticGraph(rng, 20+rng.IntN(20), i%2 == 1))
		if err != nil {
			tb.Fatal(err)
		}
		ex = append(ex, e)
	}
	cfg := gnn.DefaultTrainConfig()
	cfg.Epochs, cfg.Hidden, cfg.HeadHidden, cfg.OneClassEpochs, cfg.MinPerFunction = 3, 8, 8, 2, 5
	tr, val := gnn.Split(ex, 0.2, 1)
	m, err := gnn.Train(cfg, tr, val)
	if err != nil {
		tb.Fatal(err)
	}
	return m, rng
}

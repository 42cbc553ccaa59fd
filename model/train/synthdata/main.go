package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/faasmon/faasmon/pkg/classify/gnn"
)

func main() {
	out := flag.String("out", "", "output directory")
	n := flag.Int("n", 400, "graphs (half attack)")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()
	if *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(*seed, 3))
	for i := 0; i < *n; i++ {
		g := gnn.SyntheticGraph(rng, 20+rng.IntN(200), i%2 == 1)
		dir := filepath.Join(*out, g.Scenario)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		b, _ := json.Marshal(g)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d.json", i)), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

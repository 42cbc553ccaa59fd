package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"

	"github.com/faasmon/faasmon/pkg/gnn"
)

func main() {
	d := gnn.DefaultTrainConfig()
	data := flag.String("data", "", "directories (comma-separated) of labelled graph JSON files, searched recursively")
	out := flag.String("out", "model/artifact/faasmon.model", "model file (trained on the 80% split)")
	report := flag.String("json", "model/eval-report.json", "report file")
	latency := flag.String("latency", "", "the lab's summary.json of a live run, for detection_latency_p50_s")
	seed := flag.Uint64("seed", d.Seed, "seed")
	ocq := flag.Float64("oc-quantile", d.OneClassQuantile, "benign validation quantile that sets the one-class threshold")
	ocVotes := flag.Bool("one-class-votes", d.OneClassVotes, "let the embedding-distance part decide verdicts on its own (default: reported only)")
	egress := flag.Float64("egress-max-missing", d.EgressMaxMissing, "arm a function's egress baseline when at most this share of its benign graphs is estimated to reach a new external endpoint (<0: no egress part)")
	flag.Parse()
	if *data == "" {
		flag.Usage()
		os.Exit(2)
	}
	all, err := gnn.LoadDir(*data, nil)
	if err != nil {
		fail(err)
	}
	cfg := d
	cfg.Seed, cfg.Log, cfg.OneClassQuantile, cfg.EgressMaxMissing, cfg.OneClassVotes = *seed, os.Stderr, *ocq, *egress, *ocVotes
	m, s, err := gnn.RunStudy(cfg, all, os.Stderr)
	if err != nil {
		fail(err)
	}
	s.DetectionLatencyP50 = gnn.JSONFloat(math.NaN())
	if *latency != "" {
		var sum struct {
			LatencyP50 float64 `json:"LatencyP50"`
		}
		b, err := os.ReadFile(*latency)
		if err == nil {
			err = json.Unmarshal(b, &sum)
		}
		if err != nil {
			fail(fmt.Errorf("latency from %s: %w", *latency, err))
		}
		s.DetectionLatencyP50 = gnn.JSONFloat(sum.LatencyP50)
	}
	if err := m.Save(*out); err != nil {
		fail(err)
	}
	s.ModelVersion = m.Version() // known once the file's checksum is

	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(*report, append(b, '\n'), 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("test split: precision %.4f recall %.4f f1 %.4f accuracy %.4f fpr %.4f auc %v (n_train %d, n_test %d)\n",
		s.Precision, s.Recall, s.F1, s.Accuracy, s.FPR, float64(s.ROCAUC), s.NTrain, s.NTest)
	fmt.Printf("leave one attack out (recall): %v\nwrote %s and %s\n", s.LeaveOneAttackOut, *out, *report)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}

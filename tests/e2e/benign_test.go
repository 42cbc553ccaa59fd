package e2e

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/lab"
	"github.com/faasmon/faasmon/internal/dev/localstack"
)

// Over 200 benign invocations of the victim app, warm and cold, concurrent
// and not, with its legitimate subprocesses and downloads, through the
// whole detector with the committed model: no attack verdict, no alert.
// The scenarios' inputs are random from a seed the dataset did not use:
// traffic the model never saw.
func TestBenignRaisesNoAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 208 invocations through the whole pipeline (about a minute)")
	}
	st := localstack.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	nats := subscribeAlerts(t, "faasmon-e2e-benign")

	// A fixed seed keeps the inputs, and so this gate, the same from run to
	// run (the model was trained on seeds 1 and 2); FAASMON_E2E_SEED tries
	// other inputs.
	seed := uint64(43)
	if v := os.Getenv("FAASMON_E2E_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FAASMON_E2E_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (same inputs: go run ./tests/lab run -n 2 -seed %d ... benign.yaml benign-cold.yaml)", seed, seed)
	res := playLab(t, ctx, st, lab.Options{Rounds: 2, Seed: seed,
		Scenarios: []string{scenario(st, "benign.yaml"), scenario(st, "benign-cold.yaml")}})
	if n := len(res.Invocations); n < 200 {
		t.Fatalf("played %d invocations, want at least 200", n)
	}
	s := res.Summary
	if s.NAttack != 0 {
		t.Fatalf("%d graphs labelled attack in benign scenarios", s.NAttack)
	}
	if s.Missing != 0 || s.NBenign < len(res.Invocations) {
		t.Errorf("%d benign graphs with a verdict, %d without, for %d invocations", s.NBenign, s.Missing, len(res.Invocations))
	}
	if s.FP != 0 {
		t.Errorf("%d attack verdicts on %d benign graphs (%s)", s.FP, s.NBenign, s.Line())
	}
	time.Sleep(5 * time.Second) // an alert follows its verdict within 5 s
	blind := 0
	for _, ar := range nats.all() {
		// A blind-spot alert says the detector could not see something
		// (pkg/verdict): pipeline health, not a verdict on the traffic.
		if strings.HasPrefix(ar.a.Rule, "faasmon blind spot") {
			blind++
			t.Logf("blind-spot alert: %s %s: %s", ar.a.Function, ar.a.GraphID, ar.a.Chain)
			continue
		}
		t.Errorf("alert on benign traffic: %s %s (score %.3f, %s)", ar.a.Function, ar.a.GraphID, ar.a.Score, ar.a.Chain)
	}
	t.Logf("%d blind-spot alerts", blind)
	t.Logf("%d invocations, %d graphs: %s", len(res.Invocations), s.Graphs, s.Line())
}

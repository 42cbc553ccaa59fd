package gnn

import (
	"strings"
	"testing"
)

// TestRunStudyWithPool: pool graphs join the training part only (the test
// split and its size are those of the study without a pool), every
// left-out model is handed to the hook with exactly that attack's graphs,
// and an attack graph in the pool is refused.
func TestRunStudyWithPool(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four small models")
	}
	all := synthExamples(t, 3, 120)
	for i := range all {
		if all[i].Label == 1 {
			all[i].Graph.Scenario = "dropper"
		}
	}
	pool := synthExamples(t, 4, 40)
	var benignPool []Example
	for _, e := range pool {
		if e.Label == 0 {
			e.Graph.Function = "pool-fn"
			benignPool = append(benignPool, e)
		}
	}
	cfg := smallConfig()
	cfg.Epochs = 5

	_, base, err := RunStudyWith(cfg, all, StudyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var hooked []string
	var heldN int
	_, s, err := RunStudyWith(cfg, all, StudyOptions{Pool: benignPool, LeftOut: func(k string, m *Model, held []Example) {
		hooked = append(hooked, k)
		heldN = len(held)
		for _, e := range held {
			if e.Label != 1 || e.Graph.Scenario != k {
				t.Errorf("left-out %s handed graph %s (label %d, scenario %s)", k, e.Graph.ID, e.Label, e.Graph.Scenario)
			}
		}
		if m == nil {
			t.Errorf("left-out %s: no model", k)
		}
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.NTest != base.NTest || s.Test.Graphs != base.Test.Graphs {
		t.Errorf("test split %d graphs with the pool, %d without: the pool must not reach the test split", s.NTest, base.NTest)
	}
	if s.NTrain != base.NTrain+len(benignPool) || s.NPool != len(benignPool) {
		t.Errorf("n_train %d (pool %d), want %d + %d", s.NTrain, s.NPool, base.NTrain, len(benignPool))
	}
	if len(hooked) != 1 || hooked[0] != "dropper" || heldN != 60 {
		t.Errorf("hook called for %v with %d graphs, want [dropper] with 60", hooked, heldN)
	}

	bad := append([]Example(nil), benignPool...)
	bad = append(bad, all[1]) // an attack graph
	if _, _, err := RunStudyWith(cfg, all, StudyOptions{Pool: bad}, nil); err == nil || !strings.Contains(err.Error(), "benign graphs only") {
		t.Errorf("attack graph in the pool: err %v, want a refusal", err)
	}
}

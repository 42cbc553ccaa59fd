package gnn

import (
	"fmt"
	"io"
	"slices"
)

// Study is the evaluation the lab publishes (model/eval-report.json): a
// model trained on 80% of the graphs and tested on the 20% it never saw,
// and, for each attack scenario, a model trained without that attack and
// tested on it (leave one attack out), which is what matters against
// attacks nobody has a label for yet.
type Study struct {
	Precision float64   `json:"precision"`
	Recall    float64   `json:"recall"`
	F1        float64   `json:"f1"`
	Accuracy  float64   `json:"accuracy"`
	FPR       float64   `json:"fpr"`
	ROCAUC    JSONFloat `json:"roc_auc"`
	// Confusion is [[TN, FP], [FN, TP]] on the test split.
	Confusion [2][2]int `json:"confusion"`
	NTrain    int       `json:"n_train"`
	NTest     int       `json:"n_test"`
	// LeaveOneAttackOut is the combined detector's recall on each attack
	// scenario when that scenario's attack graphs were left out of
	// training; the parts' recalls are in LeaveOneAttackOutParts.
	LeaveOneAttackOut      map[string]float64     `json:"leave_one_attack_out"`
	LeaveOneAttackOutParts map[string]ScenarioRow `json:"leave_one_attack_out_parts"`
	// DetectionLatencyP50 is measured on the live pipeline by the lab
	// (seconds from the malicious invocation to its verdict); the caller
	// fills it in.
	DetectionLatencyP50 JSONFloat `json:"detection_latency_p50_s"`
	ModelVersion        string    `json:"model_version"`
	Seed                uint64    `json:"seed"`
	// Test is the full report on the test split (supervised, one-class,
	// combined, per scenario).
	Test Report `json:"test"`
}

// RunStudy trains the published model on an 80:20 split of all (with a
// further 20% of the training part held out for early stopping), evaluates
// it on the test split, and runs leave-one-attack-out. It returns the model
// trained on the 80%.
func RunStudy(cfg TrainConfig, all []Example, log io.Writer) (*Model, Study, error) {
	seed := cfg.Seed
	trainAll, test := Split(all, 0.2, seed)
	tr, val := Split(trainAll, 0.2, seed+1)
	m, err := Train(cfg, tr, val)
	if err != nil {
		return nil, Study{}, fmt.Errorf("train: %w", err)
	}
	rep := m.Evaluate(test)
	c := rep.Combined
	s := Study{
		Precision: c.Precision, Recall: c.Recall, F1: c.F1, Accuracy: c.Accuracy, FPR: c.FPR,
		ROCAUC: c.AUC, Confusion: c.Confusion, NTrain: len(trainAll), NTest: len(test),
		LeaveOneAttackOut: map[string]float64{}, LeaveOneAttackOutParts: map[string]ScenarioRow{},
		ModelVersion: m.Version(), Seed: seed, Test: rep,
	}
	var attacks []string
	for _, e := range all {
		if e.Label == 1 && !slices.Contains(attacks, e.Graph.Scenario) {
			attacks = append(attacks, e.Graph.Scenario)
		}
	}
	slices.Sort(attacks)
	for _, k := range attacks {
		var keep, held []Example
		for _, e := range trainAll {
			if e.Label == 1 && e.Graph.Scenario == k {
				continue
			}
			keep = append(keep, e)
		}
		for _, e := range all {
			if e.Label == 1 && e.Graph.Scenario == k {
				held = append(held, e)
			}
		}
		ktr, kval := Split(keep, 0.2, seed+1)
		kcfg := cfg
		kcfg.Log = nil
		mk, err := Train(kcfg, ktr, kval)
		if err != nil {
			return nil, Study{}, fmt.Errorf("train without %s: %w", k, err)
		}
		row := mk.Evaluate(held).PerScenario[k]
		s.LeaveOneAttackOut[k] = row.Combined
		s.LeaveOneAttackOutParts[k] = row
		if log != nil {
			fmt.Fprintf(log, "leave out %s: recall combined %.3f (supervised %.3f, one-class %.3f, egress %.3f) on %d graphs\n",
				k, row.Combined, row.Supervised, row.OneClass, row.Egress, row.N)
		}
	}
	return m, s, nil
}

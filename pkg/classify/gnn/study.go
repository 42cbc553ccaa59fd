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
	// NPool is how many of NTrain are pool graphs (StudyOptions.Pool).
	NPool int `json:"n_pool"`
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
	return RunStudyWith(cfg, all, StudyOptions{}, log)
}

// StudyOptions extend RunStudy.
type StudyOptions struct {
	// Pool are extra benign training graphs (public functions' graphs):
	// added to the training part of every model the study trains (the
	// published one and each leave-one-attack-out one), never to the test
	// split, so that the lab's numbers stay measured on the lab's graphs
	// and comparable with a study without a pool. They are appended after
	// the lab's training graphs, before the validation split.
	Pool []Example
	// LeftOut, when set, receives each leave-one-attack-out model with the
	// attack graphs it never saw, so that a caller can measure more than
	// the GNN's recall on them (the union with the other parts).
	LeftOut func(scenario string, m *Model, held []Example)
}

// RunStudyWith is RunStudy with a training pool and a hook on the
// leave-one-attack-out models.
func RunStudyWith(cfg TrainConfig, all []Example, o StudyOptions, log io.Writer) (*Model, Study, error) {
	for _, e := range o.Pool {
		if e.Label != 0 {
			return nil, Study{}, fmt.Errorf("pool graph %s of %s is labelled attack: the pool is benign graphs only", e.Graph.ID, e.Graph.Function)
		}
	}
	seed := cfg.Seed
	trainAll, test := Split(all, 0.2, seed)
	trainAll = append(trainAll[:len(trainAll):len(trainAll)], o.Pool...)
	tr, val := Split(trainAll, 0.2, seed+1)
	m, err := Train(cfg, tr, val)
	if err != nil {
		return nil, Study{}, fmt.Errorf("train: %w", err)
	}
	rep := m.Evaluate(test)
	c := rep.Combined
	s := Study{
		Precision: c.Precision, Recall: c.Recall, F1: c.F1, Accuracy: c.Accuracy, FPR: c.FPR,
		ROCAUC: c.AUC, Confusion: c.Confusion, NTrain: len(trainAll), NTest: len(test), NPool: len(o.Pool),
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
		if o.LeftOut != nil {
			o.LeftOut(k, mk, held)
		}
		if log != nil {
			fmt.Fprintf(log, "leave out %s: recall combined %.3f (supervised %.3f, one-class %.3f, egress %.3f) on %d graphs\n",
				k, row.Combined, row.Supervised, row.OneClass, row.Egress, row.N)
		}
	}
	return m, s, nil
}

package gnn

import (
	"math"
	"sort"
	"strconv"
)

// Metrics are the usual binary-classification measures at one threshold
// (attack is the positive class), plus the threshold-free ROC AUC.
type Metrics struct {
	N         int       `json:"n"`
	Threshold float64   `json:"threshold"`
	TP        int       `json:"tp"`
	FP        int       `json:"fp"`
	TN        int       `json:"tn"`
	FN        int       `json:"fn"`
	Precision float64   `json:"precision"`
	Recall    float64   `json:"recall"`
	F1        float64   `json:"f1"`
	Accuracy  float64   `json:"accuracy"`
	FPR       float64   `json:"fpr"`
	AUC       JSONFloat `json:"roc_auc"` // null when a class is missing
	// Confusion is [[TN, FP], [FN, TP]] (rows: true benign, attack).
	Confusion [2][2]int `json:"confusion"`
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Confusion computes the metrics of scores ≥ thr as attack. NaN scores
// count as benign.
func Confusion(scores []float64, labels []int, thr float64) Metrics {
	m := Metrics{N: len(scores), Threshold: thr}
	for i, s := range scores {
		pred := s >= thr
		switch {
		case pred && labels[i] == 1:
			m.TP++
		case pred:
			m.FP++
		case labels[i] == 1:
			m.FN++
		default:
			m.TN++
		}
	}
	m.Precision = ratio(m.TP, m.TP+m.FP)
	m.Recall = ratio(m.TP, m.TP+m.FN)
	if m.Precision+m.Recall > 0 {
		m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
	}
	m.Accuracy = ratio(m.TP+m.TN, m.N)
	m.FPR = ratio(m.FP, m.FP+m.TN)
	m.AUC = JSONFloat(ROCAUC(scores, labels))
	m.Confusion = [2][2]int{{m.TN, m.FP}, {m.FN, m.TP}}
	return m
}

// ROCAUC is the area under the ROC curve: the probability that a random
// attack scores above a random benign graph, ties counting one half
// (Mann–Whitney). NaN when a class is missing.
func ROCAUC(scores []float64, labels []int) float64 {
	type sl struct {
		s float64
		y int
	}
	xs := make([]sl, len(scores))
	var pos, neg int
	for i, s := range scores {
		if math.IsNaN(s) {
			s = math.Inf(-1)
		}
		xs[i] = sl{s, labels[i]}
		if labels[i] == 1 {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	sort.Slice(xs, func(a, b int) bool { return xs[a].s < xs[b].s })
	var rankSum float64
	for i := 0; i < len(xs); {
		j := i
		for j < len(xs) && xs[j].s == xs[i].s {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if xs[k].y == 1 {
				rankSum += avg
			}
		}
		i = j
	}
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg))
}

// Report is the evaluation of a model on a labelled data set: the
// supervised part alone (P(attack) ≥ its threshold), the one-class part
// alone (anomaly ≥ τ; absent without one-class) and the combined verdict.
type Report struct {
	ModelVersion string                 `json:"model_version"`
	Graphs       int                    `json:"graphs"`
	Supervised   Metrics                `json:"supervised"`
	OneClass     *Metrics               `json:"one_class,omitempty"`
	Egress       *Metrics               `json:"egress,omitempty"`
	Combined     Metrics                `json:"combined"`
	PerScenario  map[string]ScenarioRow `json:"per_scenario"`
}

// ScenarioRow is the detection rate of every scenario (recall for attack
// scenarios, 1 − FPR for benign ones) under each part.
type ScenarioRow struct {
	Label      string  `json:"label"`
	N          int     `json:"n"`
	Supervised float64 `json:"supervised_flagged"`
	OneClass   float64 `json:"one_class_flagged"`
	Egress     float64 `json:"egress_flagged"`
	Combined   float64 `json:"combined_flagged"`
}

// Evaluate scores every example and reports the metrics.
func (m *Model) Evaluate(ex []Example) Report {
	r := Report{ModelVersion: m.Version(), Graphs: len(ex), PerScenario: map[string]ScenarioRow{}}
	labels := make([]int, len(ex))
	for i, e := range ex {
		labels[i] = e.Label
	}
	sup := m.supScores(ex)
	r.Supervised = Confusion(sup, labels, m.Meta.Threshold)
	comb := make([]float64, len(ex))
	var an []float64
	if m.oc != nil {
		an = m.anomalies(ex)
		// Confusion flags s ≥ threshold; the next float above τ makes that
		// m.anomalous's a > τ.
		oc := Confusion(an, labels, math.Nextafter(m.OneClass.Threshold, math.Inf(1)))
		r.OneClass = &oc
	}
	eg := make([]float64, len(ex))
	for i, e := range ex {
		a := math.NaN()
		if an != nil {
			a = an[i]
		}
		eg[i], _ = m.egressPart(e.Graph)
		comb[i], _, _ = m.combine(sup[i], a, eg[i])
	}
	if m.OneClass != nil && len(m.OneClass.Egress) > 0 {
		egm := Confusion(eg, labels, 0.5)
		r.Egress = &egm
	}
	r.Combined = Confusion(comb, labels, 0.5)
	for i, e := range ex {
		name := e.Graph.Scenario
		if name == "" {
			name = "(none)"
		}
		row := r.PerScenario[name]
		row.Label = e.Graph.Label
		row.N++
		if sup[i] >= m.Meta.Threshold {
			row.Supervised++
		}
		if an != nil && m.anomalous(an[i]) {
			row.OneClass++
		}
		if eg[i] >= 0.5 {
			row.Egress++
		}
		if comb[i] >= 0.5 {
			row.Combined++
		}
		r.PerScenario[name] = row
	}
	for k, row := range r.PerScenario {
		row.Supervised /= float64(row.N)
		row.OneClass /= float64(row.N)
		row.Egress /= float64(row.N)
		row.Combined /= float64(row.N)
		r.PerScenario[k] = row
	}
	return r
}

// JSONFloat is a float64 that encodes NaN and ±Inf as null.
type JSONFloat float64

// MarshalJSON implements json.Marshaler.
func (f JSONFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

package gnn

import (
	"math"
	"testing"
)

// A graph exactly at the one-class threshold τ is benign: τ is a benign
// validation graph's own score, and its identical copies must not be
// flagged. Farther than τ is anomalous.
func TestCombineOneClassTie(t *testing.T) {
	m := &Model{Meta: Meta{Threshold: 0.5}, OneClass: &OneClassStats{Threshold: 2}, oc: &Net[float32]{}}
	for _, tc := range []struct {
		a      float64
		attack bool
	}{{1, false}, {2, false}, {math.Nextafter(2, 3), true}, {4, true}} {
		r := m.result(0.1, tc.a)
		if (r.Verdict == VerdictAttack) != tc.attack {
			t.Errorf("anomaly %v (τ 2): %s, score %v", tc.a, r.Verdict, r.Score)
		}
	}
}

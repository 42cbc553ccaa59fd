package tracer

import "testing"

func TestExcludeList(t *testing.T) {
	ex := ExcludeList(" faasmon-parse,faasmon-graph, team-a/faasmon-alert ,,", "openfaas-fn")
	for _, tc := range []struct {
		ns, fn string
		want   bool
	}{
		{"openfaas-fn", "faasmon-parse", true},
		{"", "faasmon-graph", true}, // a target without a namespace is in OpenFaaS's
		{"team-b", "faasmon-graph", false},
		{"team-a", "faasmon-alert", true},
		{"openfaas-fn", "faasmon-alert", false},
		{"openfaas-fn", "photo-receive", false},
	} {
		if got := ex[excludeKey(tc.ns, tc.fn)]; got != tc.want {
			t.Errorf("%s/%s excluded = %v, want %v", tc.ns, tc.fn, got, tc.want)
		}
	}
	if len(ex) != 3 {
		t.Errorf("%d entries, want 3: %v", len(ex), ex)
	}
}

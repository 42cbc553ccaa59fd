package alert

import (
	"sort"
	"strings"

	"github.com/faasmon/faasmon/pkg/verdict"
)

// blindOnly says whether v is alert material only for its blind spots
// (pkg/verdict's contract): a Warning alert, never a response.
func blindOnly(v *verdict.Verdict) bool {
	return v.Verdict != verdict.Attack && v.Alerting()
}

// blindDedupeKey is the dedupe key of a blind-spot-only alert: the
// container and the kinds of its blind spots. The explanation's signature
// is about the graph's behaviour, which is not what the alert reports: a
// container whose tracer keeps dropping chunks raises one alert per window,
// its repeats counted in Suppressed, whatever the graphs look like.
func blindDedupeKey(v *verdict.Verdict) string {
	seen := map[string]bool{}
	var rules []string
	for _, f := range v.BlindSpots() {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			rules = append(rules, f.Rule)
		}
	}
	sort.Strings(rules)
	return dedupeKey(v, "blind-spot:"+strings.Join(rules, ","))
}

// blindView makes a blind-spot-only alert about what could not be seen:
// the process, object, chain and subgraph Enrich drew are the benign
// graph's explanation, which is not what the alert reports.
func blindView(a *Alert, v *verdict.Verdict) {
	a.DedupeKey = blindDedupeKey(v)
	a.Process, a.ProcessChain, a.Object, a.EvtType, a.DOT, a.Explanation = nil, nil, "", "", "", nil
	var texts []string
	for _, f := range v.BlindSpots() {
		texts = append(texts, f.Text)
	}
	a.Chain = clip(strings.Join(texts, "; "), MaxChainLen)
}

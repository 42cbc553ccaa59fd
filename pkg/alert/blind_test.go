package alert

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/verdict"
)

func blindFinding(rule, text string) verdict.Finding {
	return verdict.Finding{Part: verdict.PartBlindSpot, Rule: rule, Severity: "warning", Text: text}
}

// TestBlindSpotAlerts: a benign verdict with a blind-spot finding raises a
// Warning "faasmon blind spot" alert on the sinks (Falco output included),
// deduplicated per container and kind, and never a response; a benign
// verdict without one is dropped as before.
func TestBlindSpotAlerts(t *testing.T) {
	benign := func(id string, fs ...verdict.Finding) verdict.Verdict {
		v := attackVerdict()
		v.GraphID, v.Verdict, v.Score, v.Findings = id, verdict.Benign, 0.02, fs
		return v
	}
	gap := blindFinding(verdict.BlindGap, "strace lost chunks 17–19 of stream c0ffee-strace-1 (sequence gap)")
	drop := blindFinding("tracer-dropped", "tracer dropped 3 chunks of stream c0ffee-strace-1")
	withBlind := attackVerdict()
	withBlind.Findings = append(withBlind.Findings, verdict.Finding{Part: verdict.PartInvariant, Rule: "drift", Severity: "critical", Text: "drift"}, gap)
	tests := []struct {
		name     string
		vs       []verdict.Verdict
		want     []Outcome
		rule     string // of the first alert
		priority string
		recycles int
	}{
		{"benign without blind spot dropped", []verdict.Verdict{benign("g1")}, []Outcome{OutcomeBenign}, "", "", 0},
		{"gap alone: warning alert, no response", []verdict.Verdict{benign("g1", gap)}, []Outcome{OutcomeAlerted}, "faasmon blind spot: gap", "Warning", 0},
		{"same kind again in the window: suppressed", []verdict.Verdict{benign("g1", gap), benign("g2", gap)}, []Outcome{OutcomeAlerted, OutcomeDuplicate}, "faasmon blind spot: gap", "Warning", 0},
		{"another kind: its own alert", []verdict.Verdict{benign("g1", gap), benign("g2", drop)}, []Outcome{OutcomeAlerted, OutcomeAlerted}, "faasmon blind spot: gap", "Warning", 0},
		{"attack with a blind spot: the attack decides, responded", []verdict.Verdict{withBlind}, []Outcome{OutcomeAlerted}, "faasmon runtime invariant: drift", "Critical", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recordSink{name: "rec"}
			resp := &fakeResponder{}
			p := &Processor{Dedupe: NewMemoryDedupe(0), Window: 5 * time.Minute, Fanout: &Fanout{Sinks: []Sink{sink}}, Stats: &Stats{},
				Response: "label", Responder: resp, Labels: StaticLabels{"resize": {ResponseLabel: ResponseRecycle}}}
			for i, v := range tc.vs {
				res, err := p.Process(context.Background(), v)
				if err != nil || res.Outcome != tc.want[i] {
					t.Fatalf("verdict %d: %v %v, want %v", i, res.Outcome, err, tc.want[i])
				}
			}
			if len(resp.calls) != tc.recycles {
				t.Errorf("%d recycles, want %d", len(resp.calls), tc.recycles)
			}
			got := sink.sent()
			if tc.rule == "" {
				if len(got) != 0 {
					t.Errorf("%d alerts, want none", len(got))
				}
				return
			}
			if len(got) == 0 {
				t.Fatal("no alert")
			}
			a := got[0]
			if a.Rule != tc.rule || a.Priority != tc.priority {
				t.Errorf("alert rule %q priority %q, want %q %q", a.Rule, a.Priority, tc.rule, tc.priority)
			}
			if tc.priority == "Warning" && (a.Process != nil || a.DOT != "" || !strings.Contains(a.Chain, "sequence gap")) {
				t.Errorf("blind-spot alert drawn as an intrusion: process %v, chain %q", a.Process, a.Chain)
			}
			f := Falco(a, "")
			if f.Rule != tc.rule || f.Priority != tc.priority {
				t.Errorf("falco rule %q priority %q", f.Rule, f.Priority)
			}
		})
	}
}

package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/verdict"
)

type recordSink struct {
	name string
	mu   sync.Mutex
	got  []Alert
}

func (r *recordSink) Name() string { return r.name }
func (r *recordSink) Send(_ context.Context, a Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, a)
	return nil
}

func (r *recordSink) sent() []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Alert(nil), r.got...)
}

type fakeResponder struct {
	calls []Target
	err   error
}

func (f *fakeResponder) Recycle(_ context.Context, t Target) (Action, error) {
	f.calls = append(f.calls, t)
	if f.err != nil {
		return Action{}, f.err
	}
	return Action{Kind: ResponseRecycle, Responder: "fake", Target: t, Status: ActionDone}, nil
}

func TestProcessorOutcomes(t *testing.T) {
	benign := attackVerdict()
	benign.Verdict, benign.Score = verdict.Benign, 0.02
	repeat := attackVerdict()
	repeat.GraphID, repeat.CallID = "g-2", "call-2"
	otherContainer := attackVerdict()
	otherContainer.GraphID, otherContainer.Container = "g-3", "deadbeef"
	invalid := attackVerdict()
	invalid.Verdict = "maybe"

	type step struct {
		v       verdict.Verdict
		at      time.Duration
		want    Outcome
		wantErr bool
	}
	tests := []struct {
		name      string
		steps     []step
		benign    uint64
		dups      uint64
		alerts    uint64
		delivered int
	}{
		{"benign dropped and counted", []step{{v: benign, want: OutcomeBenign}, {v: benign, want: OutcomeBenign}, {v: benign, want: OutcomeBenign}}, 3, 0, 0, 0},
		{"repeat in the window dropped", []step{{v: attackVerdict(), want: OutcomeAlerted}, {v: repeat, at: time.Minute, want: OutcomeDuplicate}}, 0, 1, 1, 1},
		{"repeat after the window alerted", []step{{v: attackVerdict(), want: OutcomeAlerted}, {v: repeat, at: 6 * time.Minute, want: OutcomeAlerted}}, 0, 0, 2, 2},
		{"other container alerted", []step{{v: attackVerdict(), want: OutcomeAlerted}, {v: otherContainer, at: time.Second, want: OutcomeAlerted}}, 0, 0, 2, 2},
		{"redelivery alerted again", []step{{v: attackVerdict(), want: OutcomeAlerted}, {v: attackVerdict(), at: time.Second, want: OutcomeAlerted}}, 0, 0, 2, 2},
		{"invalid rejected", []step{{v: invalid, wantErr: true}}, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recordSink{name: "rec"}
			now := t0
			p := &Processor{Dedupe: NewMemoryDedupe(0), Window: 5 * time.Minute, Fanout: &Fanout{Sinks: []Sink{sink}}, Stats: &Stats{}, Now: func() time.Time { return now }}
			for i, s := range tc.steps {
				now = t0.Add(s.at)
				res, err := p.Process(context.Background(), s.v)
				if s.wantErr {
					if !errors.Is(err, verdict.ErrInvalid) {
						t.Errorf("step %d: err %v, want verdict.ErrInvalid", i, err)
					}
					continue
				}
				if err != nil || res.Outcome != s.want {
					t.Errorf("step %d: %v %v, want %v", i, res.Outcome, err, s.want)
				}
			}
			snap := p.Stats.Snapshot()
			if snap.Benign != tc.benign || snap.Duplicates != tc.dups || snap.Alerts != tc.alerts || snap.Received != uint64(len(tc.steps)) {
				t.Errorf("stats %+v, want benign %d dups %d alerts %d", snap, tc.benign, tc.dups, tc.alerts)
			}
			if len(sink.got) != tc.delivered {
				t.Errorf("%d alerts delivered, want %d", len(sink.got), tc.delivered)
			}
		})
	}
}

func TestProcessorResponse(t *testing.T) {
	labelled := attackVerdict()
	labelled.Labels = map[string]string{ResponseLabel: ResponseRecycle}
	tests := []struct {
		name       string
		v          verdict.Verdict
		response   string
		lookup     LabelLookup
		responder  *fakeResponder
		wantCalls  int
		wantStatus string // "" means no action
	}{
		{"off by default", attackVerdict(), "label", nil, &fakeResponder{}, 0, ""},
		// A forged verdict that carries the response label must not make
		// faasmon-alert recycle a function whose deployment lacks it.
		{"label on the verdict only: forged, ignored", labelled, "label", StaticLabels{"resize": {"other": "x"}}, &fakeResponder{}, 0, ""},
		{"label on the verdict, no provider lookup", labelled, "label", nil, &fakeResponder{}, 0, ""},
		{"label on the verdict, deployment says alert-only", labelled, "label", StaticLabels{"resize": {ResponseLabel: "alert-only"}}, &fakeResponder{}, 0, ""},
		{"label by lookup", attackVerdict(), "label", StaticLabels{"resize.openfaas-fn": {ResponseLabel: ResponseRecycle}}, &fakeResponder{}, 1, ActionDone},
		{"other label value", attackVerdict(), "label", StaticLabels{"resize": {ResponseLabel: "alert-only"}}, &fakeResponder{}, 0, ""},
		{"globally off", labelled, "off", StaticLabels{"resize": {ResponseLabel: ResponseRecycle}}, &fakeResponder{}, 0, ""},
		{"responder fails", attackVerdict(), "label", StaticLabels{"resize": {ResponseLabel: ResponseRecycle}}, &fakeResponder{err: errors.New("boom")}, 1, ActionFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := &Processor{Fanout: &Fanout{Sinks: []Sink{&WriterSink{W: &out}}}, Response: tc.response, Responder: tc.responder, Labels: tc.lookup, Stats: &Stats{}}
			res, err := p.Process(context.Background(), tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.responder.calls) != tc.wantCalls {
				t.Fatalf("%d recycle calls, want %d", len(tc.responder.calls), tc.wantCalls)
			}
			if tc.wantCalls > 0 {
				if c := tc.responder.calls[0]; c.Function != "resize" || c.Pod != "resize-7d9f-abcde" || c.Container != "c0ffee" || c.Namespace != "openfaas-fn" {
					t.Errorf("target %+v", c)
				}
			}
			var sent Alert
			if err := json.Unmarshal(out.Bytes(), &sent); err != nil {
				t.Fatalf("stdout sink: %v: %s", err, out.String())
			}
			status := ""
			if sent.Action != nil {
				status = sent.Action.Status
			}
			if status != tc.wantStatus || (res.Alert.Action == nil) != (tc.wantStatus == "") {
				t.Errorf("action %+v, want status %q", sent.Action, tc.wantStatus)
			}
		})
	}
}

func TestProcessorForgetsUndelivered(t *testing.T) {
	failing := &flakySink{name: "down", failures: 1 << 30}
	p := &Processor{Dedupe: NewMemoryDedupe(0), Fanout: &Fanout{Sinks: []Sink{failing}, Policy: fastPolicy}}
	res, _ := p.Process(context.Background(), attackVerdict())
	if res.Delivered() {
		t.Fatal("delivered through a dead sink")
	}
	repeat := attackVerdict()
	repeat.GraphID = "g-2"
	if res, _ := p.Process(context.Background(), repeat); res.Outcome != OutcomeAlerted {
		t.Errorf("repeat after an undelivered alert: %v, want alerted", res.Outcome)
	}
}

func TestNewProcessorFromConfig(t *testing.T) {
	cfg, err := LoadConfigFrom(func(k string) string {
		return map[string]string{EnvSecretsDir: t.TempDir(), EnvNATS: "false", EnvDedupeDir: t.TempDir(), EnvResponder: "none"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p, err := NewProcessor(cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, ok := p.Dedupe.(*FileDedupe); !ok {
		t.Errorf("dedupe %T, want *FileDedupe", p.Dedupe)
	}
	res, err := p.Process(context.Background(), attackVerdict())
	if err != nil || res.Outcome != OutcomeAlerted || !strings.Contains(out.String(), `"chain":"node index.js → curl`) {
		t.Errorf("%+v %v %s", res, err, out.String())
	}
}

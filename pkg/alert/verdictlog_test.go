package alert

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/stantest"
	"github.com/faasmon/faasmon/pkg/streaming"
	"github.com/faasmon/faasmon/pkg/verdict"
	stan "github.com/nats-io/stan.go"
)

// Every valid verdict, benign or attack, duplicate or not, reaches
// faasmon-verdicts on a real nats-streaming-server, over the connection of
// the alerts sink; invalid ones do not.
func TestVerdictLog(t *testing.T) {
	url := stantest.Start(t, streaming.DefaultCluster)
	sub, err := stan.Connect(streaming.DefaultCluster, "faasmon-test-verdicts", stan.NatsURL(url))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan []byte, 16)
	alerts := make(chan []byte, 16)
	for ch, c := range map[string]chan []byte{streaming.VerdictChannel: got, streaming.AlertChannel: alerts} {
		s, err := sub.Subscribe(ch, func(m *stan.Msg) { c <- m.Data }, stan.DeliverAllAvailable())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Unsubscribe()
	}

	cfg, err := LoadConfigFrom(func(k string) string {
		return map[string]string{EnvSecretsDir: t.TempDir(), EnvNATSURL: url, EnvStdout: "false", EnvDedupeDir: "memory", EnvResponder: "none"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProcessor(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, ok := p.Verdicts.(*StanVerdictLog); !ok {
		t.Fatalf("verdict log %T, want *StanVerdictLog", p.Verdicts)
	}

	benign := attackVerdict()
	benign.GraphID, benign.Verdict, benign.Score = "g-0", verdict.Benign, 0.02
	repeat := attackVerdict()
	repeat.GraphID = "g-2"
	invalid := attackVerdict()
	invalid.Verdict = "intrusion"
	steps := []struct {
		v    verdict.Verdict
		want Outcome
	}{{benign, OutcomeBenign}, {attackVerdict(), OutcomeAlerted}, {repeat, OutcomeDuplicate}, {invalid, ""}}
	start := time.Now()
	for i, s := range steps {
		res, err := p.Process(context.Background(), s.v)
		if s.want == "" {
			if !errors.Is(err, verdict.ErrInvalid) {
				t.Errorf("step %d: %v, want verdict.ErrInvalid", i, err)
			}
			continue
		}
		if err != nil || res.Outcome != s.want {
			t.Errorf("step %d: %v %v, want %v", i, res.Outcome, err, s.want)
		}
	}
	p.Flush()
	want := []struct{ graph, verdict string }{{"g-0", verdict.Benign}, {"g-1", verdict.Attack}, {"g-2", verdict.Attack}}
	seen := map[string]string{}
	for range want {
		select {
		case b := <-got:
			var v verdict.Verdict
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("message %s: %v", b, err)
			}
			if err := v.Validate(); err != nil || v.Graph != nil || v.Explanation == nil || v.Function != "resize" {
				t.Errorf("logged verdict %s: %v (want valid, without graph, with explanation)", b, err)
			}
			seen[v.GraphID] = v.Verdict
		case <-time.After(5 * time.Second):
			t.Fatalf("verdicts after 5 s: %v", seen)
		}
	}
	for _, w := range want {
		if seen[w.graph] != w.verdict {
			t.Errorf("graph %s: logged %q, want %q (all: %v)", w.graph, seen[w.graph], w.verdict, seen)
		}
	}
	select {
	case b := <-got:
		t.Errorf("extra verdict logged: %s", b)
	case <-time.After(200 * time.Millisecond):
	}
	select {
	case <-alerts:
	case <-time.After(5 * time.Second):
		t.Error("no alert on faasmon-alerts")
	}
	if st := p.Stats.Snapshot(); st.VerdictsLogged != 3 || st.VerdictLogErrors != 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("4 verdicts processed, 3 logged and received in %v", time.Since(start))
}

// A dead NATS server costs the verdict log a counted failure, and the
// alert neither waits for it nor fails.
func TestVerdictLogFailureDoesNotBlock(t *testing.T) {
	rec := &recordSink{name: "rec"}
	dead := NewStanSink("nats://127.0.0.1:1", "", "")
	dead.ConnectWait = 2 * time.Second
	p := &Processor{Fanout: &Fanout{Sinks: []Sink{rec}, Policy: fastPolicy}, Stats: &Stats{},
		Verdicts: &StanVerdictLog{Sink: dead}, VerdictTimeout: 3 * time.Second}
	start := time.Now()
	res, err := p.Process(context.Background(), attackVerdict())
	took := time.Since(start)
	if err != nil || res.Outcome != OutcomeAlerted || !res.Delivered() || len(rec.got) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if took > time.Second {
		t.Errorf("alert took %v with the verdict log down", took)
	}
	p.Flush()
	if st := p.Stats.Snapshot(); st.VerdictLogErrors != 1 || st.VerdictsLogged != 0 {
		t.Errorf("stats %+v", st)
	}
}

// verdict_channel set and empty turns the verdict log off; unset
// is faasmon-verdicts.
func TestVerdictChannelConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, streaming.VerdictChannel},
		{map[string]string{EnvVerdictChannel: "audit"}, "audit"},
		{map[string]string{EnvVerdictChannel: ""}, ""},
	} {
		tc.env[EnvSecretsDir], tc.env[EnvResponder], tc.env[EnvDedupeDir] = dir, "none", "memory"
		cfg, err := LoadConfigLookup(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if err != nil || cfg.VerdictChannel != tc.want {
			t.Errorf("%v: channel %q %v, want %q", tc.env, cfg.VerdictChannel, err, tc.want)
			continue
		}
		cfg.NATSURL = "nats://127.0.0.1:1"
		p, err := NewProcessor(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if (p.Verdicts != nil) != (tc.want != "") {
			t.Errorf("%v: verdict log %v", tc.env, p.Verdicts)
		}
		p.Close()
	}
}

package alert

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/stantest"
	"github.com/faasmon/faasmon/pkg/streaming"
	stan "github.com/nats-io/stan.go"
)

// The NATS Streaming sink against a real nats-streaming-server: a
// subscriber on faasmon-alerts receives the alert.
func TestStanSink(t *testing.T) {
	url := stantest.Start(t, streaming.DefaultCluster)

	sub, err := stan.Connect(streaming.DefaultCluster, "faasmon-test-subscriber", stan.NatsURL(url))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan Alert, 4)
	s, err := sub.Subscribe(streaming.AlertChannel, func(m *stan.Msg) {
		var a Alert
		if err := json.Unmarshal(m.Data, &a); err != nil {
			t.Errorf("message: %v", err)
		}
		got <- a
	}, stan.DeliverAllAvailable())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unsubscribe()

	// Two sinks, as two replicas of faasmon-alert: distinct client ids.
	sink1, sink2 := NewStanSink(url, "", ""), NewStanSink(url, streaming.DefaultCluster, streaming.AlertChannel)
	defer sink1.Close()
	defer sink2.Close()
	f := &Fanout{Sinks: []Sink{sink1, sink2}, Policy: fastPolicy}
	start := time.Now()
	a := testAlert()
	for _, r := range f.Send(context.Background(), a) {
		if !r.OK {
			t.Fatalf("%+v", r)
		}
	}
	if sink1.ClientID == sink2.ClientID {
		t.Errorf("client ids collide: %s", sink1.ClientID)
	}
	for range 2 {
		select {
		case b := <-got:
			if b.ID != a.ID || b.Chain != wantChain || b.Pod != a.Pod {
				t.Errorf("received %+v", b)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no alert on the channel within 5 s")
		}
	}
	t.Logf("published and received in %v", time.Since(start))

	// The connection is reused, and a dead server is a failed attempt,
	// not a hang.
	if err := sink1.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	dead := NewStanSink("nats://127.0.0.1:1", "", "")
	r := (&Fanout{Sinks: []Sink{dead}, Policy: RetryPolicy{Attempts: 2, Backoff: time.Millisecond, AttemptTimeout: 500 * time.Millisecond, Timeout: 2 * time.Second}}).Send(context.Background(), a)[0]
	if r.OK || r.Attempts != 2 {
		t.Errorf("dead server: %+v", r)
	}
}

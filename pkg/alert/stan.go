package alert

import (
	"context"
	"encoding/json"

	"github.com/faasmon/faasmon/pkg/streaming"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// StanSink publishes each alert as JSON on a NATS Streaming channel over
// its own connection (client id "faasmon-alert-<nuid>").
type StanSink struct {
	Channel string // streaming.AlertChannel when empty
	streaming.Client
}

// NewStanSink returns a sink with a fresh client id.
func NewStanSink(url, clusterID, channel string) *StanSink {
	return &StanSink{Channel: channel, Client: streaming.Client{URL: url, ClusterID: clusterID, Prefix: "faasmon-alert"}}
}

func (s *StanSink) Name() string { return "nats-streaming" }

func (s *StanSink) channel() string {
	if s.Channel == "" {
		return streaming.AlertChannel
	}
	return s.Channel
}

// Send publishes and waits for the server's ack (or ctx).
func (s *StanSink) Send(ctx context.Context, a Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return Permanent(err)
	}
	return s.Publish(ctx, s.channel(), b)
}

// StanVerdictLog publishes verdicts as JSON on a NATS Streaming channel
// over a StanSink's connection: the audit trail of everything classify
// said, for evaluation.
type StanVerdictLog struct {
	Sink    *StanSink
	Channel string // streaming.VerdictChannel when empty
}

// LogVerdict publishes v without its graph (graph_id names it; graphs can
// exceed the server's message size) and waits for the ack.
func (l *StanVerdictLog) LogVerdict(ctx context.Context, v *verdict.Verdict) error {
	c := *v
	c.Graph = nil
	b, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	ch := l.Channel
	if ch == "" {
		ch = streaming.VerdictChannel
	}
	return l.Sink.Publish(ctx, ch, b)
}

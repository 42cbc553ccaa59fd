package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	stan "github.com/nats-io/stan.go"
)

// NATS Streaming defaults: the OpenFaaS CE queue server's cluster, and our
// channel on it.
const (
	DefaultNATSCluster = "faas-cluster"
	DefaultNATSChannel = "faasmon-alerts"
	// DefaultVerdictChannel carries every valid verdict (StanVerdictLog).
	DefaultVerdictChannel = "faasmon-verdicts"
)

// StanSink publishes each alert as JSON on a NATS Streaming channel. It
// connects on first use and reconnects after a failure. Each StanSink has
// its own client id ("faasmon-alert-<nuid>"), so replicas and restarted
// processes never collide on the server.
type StanSink struct {
	URL         string // nats://host:4222
	ClusterID   string // DefaultNATSCluster when empty
	Channel     string // DefaultNATSChannel when empty
	ClientID    string // generated when empty
	ConnectWait time.Duration

	mu   sync.Mutex
	conn stan.Conn
}

// NewStanSink returns a sink with a fresh client id.
func NewStanSink(url, clusterID, channel string) *StanSink {
	return &StanSink{URL: url, ClusterID: clusterID, Channel: channel}
}

func (s *StanSink) Name() string { return "nats-streaming" }

func (s *StanSink) channel() string {
	if s.Channel == "" {
		return DefaultNATSChannel
	}
	return s.Channel
}

func (s *StanSink) connect(ctx context.Context) (stan.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return s.conn, nil
	}
	if s.ClientID == "" {
		s.ClientID = "faasmon-alert-" + strings.ToLower(nuid.Next())
	}
	cluster := s.ClusterID
	if cluster == "" {
		cluster = DefaultNATSCluster
	}
	wait := s.ConnectWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		wait = max(min(wait, time.Until(dl)), 50*time.Millisecond)
	}
	conn, err := stan.Connect(cluster, s.ClientID,
		stan.NatsURL(s.URL),
		stan.ConnectWait(wait),
		stan.PubAckWait(5*time.Second),
		stan.Pings(2, 5),
		stan.NatsOptions(nats.Timeout(wait), nats.Name(s.ClientID)),
		stan.SetConnectionLostHandler(func(c stan.Conn, _ error) {
			s.mu.Lock()
			if s.conn == c {
				s.conn = nil
			}
			s.mu.Unlock()
		}))
	if err != nil {
		return nil, fmt.Errorf("nats-streaming connect %s (cluster %s): %w", s.URL, cluster, err)
	}
	s.conn = conn
	return conn, nil
}

// drop closes c if it is still the current connection.
func (s *StanSink) drop(c stan.Conn) {
	s.mu.Lock()
	if s.conn == c {
		s.conn = nil
	}
	s.mu.Unlock()
	c.Close()
}

// Send publishes and waits for the server's ack (or ctx).
func (s *StanSink) Send(ctx context.Context, a Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return Permanent(err)
	}
	return s.Publish(ctx, s.channel(), b)
}

// Publish publishes data on channel over the sink's connection (connecting
// if needed) and waits for the server's ack (or ctx).
func (s *StanSink) Publish(ctx context.Context, channel string, data []byte) error {
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	acked := make(chan error, 1)
	if _, err := c.PublishAsync(channel, data, func(_ string, err error) { acked <- err }); err != nil {
		if errors.Is(err, stan.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionClosed) {
			s.drop(c)
		}
		return fmt.Errorf("nats-streaming publish: %w", err)
	}
	select {
	case err := <-acked:
		if err != nil {
			if errors.Is(err, stan.ErrTimeout) {
				s.drop(c)
			}
			return fmt.Errorf("nats-streaming publish ack: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nats-streaming publish ack: %w", ctx.Err())
	}
}

// Close closes the connection, if any.
func (s *StanSink) Close() error {
	s.mu.Lock()
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Close()
}

// StanVerdictLog publishes verdicts as JSON on a NATS Streaming channel
// over a StanSink's connection: the audit trail of everything classify
// said, for evaluation.
type StanVerdictLog struct {
	Sink    *StanSink
	Channel string // DefaultVerdictChannel when empty
}

// LogVerdict publishes v without its graph (graph_id names it; graphs can
// exceed the server's message size) and waits for the ack.
func (l *StanVerdictLog) LogVerdict(ctx context.Context, v *Verdict) error {
	c := *v
	c.Graph = nil
	b, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	ch := l.Channel
	if ch == "" {
		ch = DefaultVerdictChannel
	}
	return l.Sink.Publish(ctx, ch, b)
}

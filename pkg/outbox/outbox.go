package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	stan "github.com/nats-io/stan.go"

	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/streaming"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Defaults.
const (
	DefaultGroup = "faasmon-alert"
	// DefaultGrace is the callback path's head start. The callback
	// normally lands well under a second after the verdict.
	DefaultGrace = 5 * time.Second
	// DefaultAckWait must exceed one Handle (sinks retry for up to 10 s).
	DefaultAckWait = 30 * time.Second
	// DefaultMaxAge: an outbox entry older than this is acknowledged
	// without an alert (counted as Expired): an intrusion alert hours late,
	// e.g. after the store replays an old channel, is noise.
	DefaultMaxAge = time.Hour
	// DefaultFirstStart is how far back a group that does not exist yet
	// starts reading, so verdicts published just before faasmon-alert's
	// first start are not missed, and an old channel is not replayed.
	DefaultFirstStart = 10 * time.Minute
	// MaxEntryBytes keeps an entry under NATS's default 1 MB payload
	// limit: a bigger verdict is published without its graph.
	MaxEntryBytes = 900 << 10
	// PublishTimeout bounds one publication by classify.
	PublishTimeout = 3 * time.Second
)

// Stats counts what an outbox did.
type Stats struct {
	Published     atomic.Uint64 // entries published (classify)
	PublishErrors atomic.Uint64 // entries that could not be published
	GraphsDropped atomic.Uint64 // entries published without their graph (too big)

	Received    atomic.Uint64 // entries delivered to the consumer
	Redelivered atomic.Uint64 // of which redeliveries
	Invalid     atomic.Uint64 // undecodable entries (acknowledged, dropped)
	Refused     atomic.Uint64 // unsigned, forged or stale entries (acknowledged, dropped)
	Expired     atomic.Uint64 // entries older than MaxAge (acknowledged, dropped)
	Handled     atomic.Uint64 // entries Handle accepted
	HandleErrs  atomic.Uint64 // entries Handle failed (left for redelivery)
}

// Publisher puts attack verdicts in the outbox.
type Publisher struct {
	Client  *streaming.Client
	Channel string // streaming.OutboxChannel when empty
	Stats   *Stats // nil: not counted
	// Keys seal each entry in a signed hopauth.Envelope: NATS has no auth,
	// so anyone on its network could publish a verdict. nil: bare entries.
	Keys *hopauth.Source
}

// Put publishes v (alert material only, verdict.Alerting: attacks and
// blind spots) and waits for the server's ack. Its graph is left out when the entry
// would pass MaxEntryBytes.
func (p *Publisher) Put(ctx context.Context, v *verdict.Verdict) error {
	if !v.Alerting() {
		return nil
	}
	st := p.Stats
	if st == nil {
		st = &Stats{} // counted nowhere
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("outbox: encode verdict %s: %w", v.GraphID, err)
	}
	if len(b) > MaxEntryBytes && v.Graph != nil {
		c := *v
		c.Graph = nil
		if b, err = json.Marshal(&c); err != nil {
			return fmt.Errorf("outbox: encode verdict %s: %w", v.GraphID, err)
		}
		st.GraphsDropped.Add(1)
	}
	if p.Keys != nil {
		kr, err := p.Keys.Keyring()
		if err != nil {
			st.PublishErrors.Add(1)
			return fmt.Errorf("outbox: verdict %s: %w", v.GraphID, err)
		}
		if b, err = kr.Seal(hopauth.KindVerdict, b, time.Now()); err != nil {
			st.PublishErrors.Add(1)
			return fmt.Errorf("outbox: verdict %s: %w", v.GraphID, err)
		}
	}
	ch := p.Channel
	if ch == "" {
		ch = streaming.OutboxChannel
	}
	ctx, cancel := context.WithTimeout(ctx, PublishTimeout)
	defer cancel()
	if err := p.Client.Publish(ctx, ch, b); err != nil {
		st.PublishErrors.Add(1)
		return fmt.Errorf("outbox: verdict %s: %w", v.GraphID, err)
	}
	st.Published.Add(1)
	return nil
}

// Entry is one outbox message as the consumer sees it.
type Entry struct {
	Verdict     verdict.Verdict
	Published   time.Time
	Sequence    uint64
	Redelivered bool
}

// Consumer reads the outbox in a durable queue group.
type Consumer struct {
	Client      *streaming.Client
	Channel     string        // streaming.OutboxChannel when empty
	Group       string        // durable queue group; DefaultGroup when empty
	Grace       time.Duration // DefaultGrace when 0
	AckWait     time.Duration // DefaultAckWait when 0
	MaxAge      time.Duration // DefaultMaxAge when 0
	MaxInflight int           // 16 when 0
	// Handle acts on an entry; nil means done (the entry is acknowledged),
	// an error leaves it to be redelivered after AckWait.
	Handle func(context.Context, Entry) error
	Stats  *Stats                           // set by Run when nil
	Logf   func(format string, args ...any) // log.Printf when nil
	// Keys verify each entry's envelope (the publisher's Keys); an
	// unsigned, forged or stale entry is dropped and counted as Refused.
	// Its window is MaxAge: older entries are dropped anyway, and a
	// replayed one is an alert the ledger of handled graphs suppresses.
	// nil: bare entries are accepted.
	Keys *hopauth.Source
}

func (c *Consumer) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// Run subscribes and handles entries until ctx ends, subscribing again
// whenever the connection is lost. It returns nil when ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	if c.Handle == nil || c.Client == nil {
		return errors.New("outbox consumer: Client and Handle are required")
	}
	if c.Stats == nil {
		c.Stats = &Stats{}
	}
	group := orDefault(c.Group, DefaultGroup)
	channel := orDefault(c.Channel, streaming.OutboxChannel)
	backoff := 500 * time.Millisecond
	for {
		sc, lost, err := c.Client.Conn(ctx)
		if err == nil {
			var sub stan.Subscription
			sub, err = sc.QueueSubscribe(channel, group, func(m *stan.Msg) { c.onMsg(ctx, m) },
				stan.DurableName(group),
				stan.SetManualAckMode(),
				stan.AckWait(orDefault(c.AckWait, DefaultAckWait)),
				stan.MaxInflight(orDefault(c.MaxInflight, 16)),
				stan.StartAtTimeDelta(DefaultFirstStart))
			if err == nil {
				backoff = 500 * time.Millisecond
				select {
				case <-ctx.Done():
					// Close, not Unsubscribe: the durable group and its
					// unacknowledged entries stay on the server.
					sub.Close()
					return nil
				case <-lost:
					c.logf("outbox: connection lost; subscribing again")
					continue
				}
			}
			err = fmt.Errorf("subscribe %s (group %s): %w", channel, group, err)
		}
		c.logf("outbox: %v; retrying in %v", err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// onMsg runs on the subscription's delivery goroutine, one entry at a time
// in publication order, so waiting out one entry's grace never delays a
// later entry beyond its own.
func (c *Consumer) onMsg(ctx context.Context, m *stan.Msg) {
	st := c.Stats
	st.Received.Add(1)
	if m.Redelivered {
		st.Redelivered.Add(1)
	}
	e := Entry{Published: time.Unix(0, m.Timestamp), Sequence: m.Sequence, Redelivered: m.Redelivered}
	data := m.Data
	if c.Keys != nil {
		kr, err := c.Keys.Keyring()
		if err != nil {
			// This consumer's own key is missing: leave the entry for a
			// member (or a restart) that has it.
			c.logf("outbox: entry %d: %v (left for redelivery)", m.Sequence, err)
			return
		}
		if data, err = kr.Open(hopauth.KindVerdict, m.Data, time.Now(), orDefault(c.MaxAge, DefaultMaxAge)); err != nil {
			st.Refused.Add(1)
			c.logf("outbox: entry %d refused (dropped): %v", m.Sequence, err)
			ack(m, c.logf)
			return
		}
	}
	if err := json.Unmarshal(data, &e.Verdict); err != nil || e.Verdict.GraphID == "" {
		// A poison entry must not block the group: drop it, counted.
		st.Invalid.Add(1)
		c.logf("outbox: entry %d is not a verdict (dropped): %v", m.Sequence, err)
		ack(m, c.logf)
		return
	}
	if age := time.Since(e.Published); age > orDefault(c.MaxAge, DefaultMaxAge) {
		st.Expired.Add(1)
		c.logf("outbox: entry %d (graph %s) is %v old (dropped)", m.Sequence, e.Verdict.GraphID, age.Round(time.Second))
		ack(m, c.logf)
		return
	}
	if wait := time.Until(e.Published.Add(orDefault(c.Grace, DefaultGrace))); wait > 0 {
		select {
		case <-ctx.Done():
			return // unacknowledged: redelivered to the group
		case <-time.After(wait):
		}
	}
	if err := c.Handle(ctx, e); err != nil {
		st.HandleErrs.Add(1)
		c.logf("outbox: entry %d (graph %s): %v (left for redelivery)", m.Sequence, e.Verdict.GraphID, err)
		return
	}
	st.Handled.Add(1)
	ack(m, c.logf)
}

func ack(m *stan.Msg, logf func(string, ...any)) {
	if err := m.Ack(); err != nil {
		logf("outbox: ack entry %d: %v", m.Sequence, err)
	}
}

// Snapshot is a plain copy of Stats, for JSON.
type Snapshot struct {
	Published     uint64 `json:"published,omitempty"`
	PublishErrors uint64 `json:"publish_errors,omitempty"`
	GraphsDropped uint64 `json:"graphs_dropped,omitempty"`
	Received      uint64 `json:"received"`
	Redelivered   uint64 `json:"redelivered"`
	Invalid       uint64 `json:"invalid"`
	Refused       uint64 `json:"refused"`
	Expired       uint64 `json:"expired"`
	Handled       uint64 `json:"handled"`
	HandleErrs    uint64 `json:"handle_errors"`
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() Snapshot {
	if s == nil {
		return Snapshot{}
	}
	return Snapshot{s.Published.Load(), s.PublishErrors.Load(), s.GraphsDropped.Load(), s.Received.Load(),
		s.Redelivered.Load(), s.Invalid.Load(), s.Refused.Load(), s.Expired.Load(), s.Handled.Load(), s.HandleErrs.Load()}
}

// EnvChannel names the outbox channel for classify's publisher and the
// alert stage's consumer; set and empty turns the outbox off.
// LegacyEnvChannel is its name before this release, still read when
// EnvChannel is unset. TODO(next release): drop it.
const (
	EnvChannel       = "faasmon_outbox"
	LegacyEnvChannel = "FAASMON_OUTBOX"
)

// PublisherFromEnv is classify's publisher: on the channel EnvChannel (or
// LegacyEnvChannel) names, off when unset or empty; see PublisherOn.
func PublisherFromEnv(getenv func(string) string) *Publisher {
	ch := getenv(EnvChannel)
	if ch == "" {
		ch = getenv(LegacyEnvChannel)
	}
	return PublisherOn(ch, getenv)
}

// PublisherOn is classify's publisher on channel ("": off, nil), on the
// server streaming.URLFromEnv names, signing with the hop key
// (hopauth.SourceFromEnv).
func PublisherOn(ch string, getenv func(string) string) *Publisher {
	if ch == "" {
		return nil
	}
	return &Publisher{
		Client:  &streaming.Client{URL: streaming.URLFromEnv(getenv), ClusterID: getenv(streaming.EnvCluster), Prefix: "faasmon-classify"},
		Channel: ch,
		Stats:   &Stats{},
		Keys:    hopauth.SourceFromEnv(getenv),
	}
}

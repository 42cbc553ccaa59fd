package alert

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faasmon/faasmon/pkg/outbox"
)

// Sink delivers alerts somewhere. Send must honour ctx; the fan-out also
// stops waiting for a Send that does not.
type Sink interface {
	Name() string
	Send(ctx context.Context, a Alert) error
}

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks an error that retrying cannot fix (e.g. HTTP 400, 401,
// 404): the fan-out stops retrying that sink.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// RetryPolicy bounds how long one sink may take for one alert.
type RetryPolicy struct {
	Attempts       int           // total attempts, ≥ 1
	Backoff        time.Duration // wait before the 2nd attempt; doubles, with jitter
	MaxBackoff     time.Duration // cap of one wait
	AttemptTimeout time.Duration // one attempt
	Timeout        time.Duration // all attempts and waits of one sink
}

// DefaultRetryPolicy: 4 attempts, 200 ms doubling to at most 2 s, 3 s per
// attempt, 10 s per sink.
var DefaultRetryPolicy = RetryPolicy{Attempts: 4, Backoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second, AttemptTimeout: 3 * time.Second, Timeout: 10 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.Attempts <= 0 {
		p.Attempts = d.Attempts
	}
	if p.Backoff <= 0 {
		p.Backoff = d.Backoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = max(d.MaxBackoff, p.Backoff)
	}
	if p.Timeout <= 0 {
		p.Timeout = d.Timeout
	}
	if p.AttemptTimeout <= 0 || p.AttemptTimeout > p.Timeout {
		p.AttemptTimeout = min(d.AttemptTimeout, p.Timeout)
	}
	return p
}

// backoff is the wait after failed attempt n (1-based): Backoff·2^(n-1),
// capped, with jitter in [d/2, d].
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.Backoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// SinkResult is the outcome of one alert at one sink.
type SinkResult struct {
	Sink       string  `json:"sink"`
	OK         bool    `json:"ok"`
	Attempts   int     `json:"attempts"`
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// Fanout sends an alert to every sink concurrently, each with its own
// retries, backoff and timeouts, so that a failing or hanging sink never
// delays or blocks another.
type Fanout struct {
	Sinks  []Sink
	Policy RetryPolicy
	Stats  *Stats // may be nil
}

// Send delivers a to every sink and returns one result per sink, in the
// order of Sinks. It returns when every sink succeeded or gave up: at most
// Policy.Timeout (plus scheduling) after it is called.
func (f *Fanout) Send(ctx context.Context, a Alert) []SinkResult {
	p := f.Policy.withDefaults()
	res := make([]SinkResult, len(f.Sinks))
	var wg sync.WaitGroup
	for i, s := range f.Sinks {
		wg.Go(func() { res[i] = f.sendOne(ctx, p, s, a) })
	}
	wg.Wait()
	return res
}

func (f *Fanout) sendOne(ctx context.Context, p RetryPolicy, s Sink, a Alert) SinkResult {
	start := time.Now()
	name := s.Name()
	r := SinkResult{Sink: name}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var err error
	for {
		r.Attempts++
		f.Stats.sink(name).Attempts.Add(1)
		err = attempt(ctx, p.AttemptTimeout, s, a)
		if err == nil {
			r.OK = true
			f.Stats.sink(name).Sent.Add(1)
			break
		}
		f.Stats.sink(name).AttemptFailures.Add(1)
		if IsPermanent(err) || r.Attempts >= p.Attempts || ctx.Err() != nil {
			break
		}
		wait := p.backoff(r.Attempts)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			err = fmt.Errorf("%w (no time left to retry)", err)
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		f.Stats.sink(name).Retries.Add(1)
	}
	if !r.OK {
		r.Error = err.Error()
		f.Stats.sink(name).Failed.Add(1)
	}
	r.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return r
}

// attempt runs one Send with its own timeout and stops waiting when the
// timeout passes even if Send ignores its context (its goroutine then ends
// whenever Send returns).
func attempt(ctx context.Context, d time.Duration, s Sink, a Alert) error {
	actx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("sink %s panicked: %v", s.Name(), v)
			}
		}()
		done <- s.Send(actx, a)
	}()
	select {
	case err := <-done:
		return err
	case <-actx.Done():
		return fmt.Errorf("sink %s: attempt gave up after %v: %w", s.Name(), d, actx.Err())
	}
}

// SinkStats counts one sink's deliveries.
type SinkStats struct {
	Attempts        atomic.Uint64 // every Send call
	AttemptFailures atomic.Uint64 // Send calls that failed or timed out
	Retries         atomic.Uint64 // attempts after the first
	Sent            atomic.Uint64 // alerts delivered
	Failed          atomic.Uint64 // alerts given up on
}

// Stats counts what the alert stage did. Its zero value is ready; a nil
// *Stats counts nothing. It is a prometheus.Collector.
type Stats struct {
	Received       atomic.Uint64 // verdicts processed
	Invalid        atomic.Uint64 // verdicts rejected by Validate
	Benign         atomic.Uint64 // benign verdicts dropped
	Duplicates     atomic.Uint64 // intrusions dropped as duplicates
	Alerts         atomic.Uint64 // alerts raised (sent to sinks)
	DedupeErrors   atomic.Uint64 // dedupe store failures (the alert is raised anyway)
	Responses      atomic.Uint64 // recycle actions done
	ResponseErrors atomic.Uint64 // recycle actions that failed
	// The verdict audit trail (Processor.Verdicts).
	VerdictsLogged   atomic.Uint64 // verdicts published
	VerdictLogErrors atomic.Uint64 // verdicts whose publication failed or was dropped
	// ClassifyFailed counts callbacks for classify calls that failed
	// (X-Function-Status not 2xx): no verdict to process.
	ClassifyFailed atomic.Uint64
	// The outbox consumer: its own counters, and the entries it skipped
	// because the callback path had delivered their alert.
	Outbox        outbox.Stats
	OutboxSkipped atomic.Uint64

	mu    sync.Mutex
	sinks map[string]*SinkStats
}

var discardSink SinkStats

func (s *Stats) sink(name string) *SinkStats {
	if s == nil {
		return &discardSink
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sinks == nil {
		s.sinks = map[string]*SinkStats{}
	}
	ss, ok := s.sinks[name]
	if !ok {
		ss = &SinkStats{}
		s.sinks[name] = ss
	}
	return ss
}

// Sink returns the counters of one sink (created on first use).
func (s *Stats) Sink(name string) *SinkStats { return s.sink(name) }

// StatsSnapshot is a plain copy of Stats, for JSON.
type StatsSnapshot struct {
	Received         uint64                       `json:"received"`
	Invalid          uint64                       `json:"invalid"`
	Benign           uint64                       `json:"benign_dropped"`
	Duplicates       uint64                       `json:"duplicates_dropped"`
	Alerts           uint64                       `json:"alerts"`
	DedupeErrors     uint64                       `json:"dedupe_errors"`
	Responses        uint64                       `json:"responses"`
	ResponseErrors   uint64                       `json:"response_errors"`
	VerdictsLogged   uint64                       `json:"verdicts_logged"`
	VerdictLogErrors uint64                       `json:"verdict_log_errors"`
	ClassifyFailed   uint64                       `json:"classify_failed"`
	Outbox           outbox.Snapshot              `json:"outbox"`
	OutboxSkipped    uint64                       `json:"outbox_skipped"`
	Sinks            map[string]SinkStatsSnapshot `json:"sinks"`
}

// SinkStatsSnapshot is a plain copy of SinkStats.
type SinkStatsSnapshot struct {
	Attempts        uint64 `json:"attempts"`
	AttemptFailures uint64 `json:"attempt_failures"`
	Retries         uint64 `json:"retries"`
	Sent            uint64 `json:"sent"`
	Failed          uint64 `json:"failed"`
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	out := StatsSnapshot{Sinks: map[string]SinkStatsSnapshot{}}
	if s == nil {
		return out
	}
	out.Received, out.Invalid, out.Benign = s.Received.Load(), s.Invalid.Load(), s.Benign.Load()
	out.Duplicates, out.Alerts, out.DedupeErrors = s.Duplicates.Load(), s.Alerts.Load(), s.DedupeErrors.Load()
	out.Responses, out.ResponseErrors = s.Responses.Load(), s.ResponseErrors.Load()
	out.VerdictsLogged, out.VerdictLogErrors = s.VerdictsLogged.Load(), s.VerdictLogErrors.Load()
	out.ClassifyFailed = s.ClassifyFailed.Load()
	out.Outbox, out.OutboxSkipped = s.Outbox.Snapshot(), s.OutboxSkipped.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, ss := range s.sinks {
		out.Sinks[n] = SinkStatsSnapshot{ss.Attempts.Load(), ss.AttemptFailures.Load(), ss.Retries.Load(), ss.Sent.Load(), ss.Failed.Load()}
	}
	return out
}

var (
	descStage = prometheus.NewDesc("faasmon_alert_verdicts_total", "Verdicts seen by the alert stage, by outcome.", []string{"outcome"}, nil)
	descSink  = prometheus.NewDesc("faasmon_alert_sink_total", "Alert deliveries by sink and event.", []string{"sink", "event"}, nil)
)

// Describe implements prometheus.Collector.
func (s *Stats) Describe(ch chan<- *prometheus.Desc) {
	ch <- descStage
	ch <- descSink
}

// Collect implements prometheus.Collector.
func (s *Stats) Collect(ch chan<- prometheus.Metric) {
	snap := s.Snapshot()
	for _, kv := range []struct {
		k string
		v uint64
	}{{"received", snap.Received}, {"invalid", snap.Invalid}, {"benign_dropped", snap.Benign},
		{"duplicate_dropped", snap.Duplicates}, {"alerted", snap.Alerts}, {"dedupe_error", snap.DedupeErrors},
		{"response", snap.Responses}, {"response_error", snap.ResponseErrors},
		{"verdict_logged", snap.VerdictsLogged}, {"verdict_log_error", snap.VerdictLogErrors},
		{"classify_failed", snap.ClassifyFailed}, {"outbox_received", snap.Outbox.Received},
		{"outbox_redelivered", snap.Outbox.Redelivered}, {"outbox_invalid", snap.Outbox.Invalid},
		{"outbox_expired", snap.Outbox.Expired}, {"outbox_handled", snap.Outbox.Handled},
		{"outbox_handle_error", snap.Outbox.HandleErrs}, {"outbox_skipped", snap.OutboxSkipped}} {
		ch <- prometheus.MustNewConstMetric(descStage, prometheus.CounterValue, float64(kv.v), kv.k)
	}
	names := make([]string, 0, len(snap.Sinks))
	for n := range snap.Sinks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ss := snap.Sinks[n]
		for _, kv := range []struct {
			k string
			v uint64
		}{{"attempt", ss.Attempts}, {"attempt_failure", ss.AttemptFailures}, {"retry", ss.Retries}, {"sent", ss.Sent}, {"failed", ss.Failed}} {
			ch <- prometheus.MustNewConstMetric(descSink, prometheus.CounterValue, float64(kv.v), n, kv.k)
		}
	}
}

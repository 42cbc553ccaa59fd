package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/outbox"
	"github.com/faasmon/faasmon/pkg/streaming"
	"github.com/faasmon/faasmon/pkg/verdict"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Outcome of one verdict.
type Outcome string

const (
	OutcomeBenign    Outcome = "benign_dropped"
	OutcomeDuplicate Outcome = "duplicate_dropped"
	OutcomeAlerted   Outcome = "alerted"
)

// Result is what Process did with one verdict.
type Result struct {
	Outcome Outcome `json:"outcome"`
	// Alert is set for OutcomeAlerted (and carries the response Action).
	Alert *Alert `json:"alert,omitempty"`
	// DedupeKey and Suppressed are set for OutcomeDuplicate too.
	DedupeKey  string       `json:"dedupe_key,omitempty"`
	Suppressed int          `json:"suppressed,omitempty"`
	Sinks      []SinkResult `json:"sinks,omitempty"`
	// Warnings are failures that did not stop the alert (dedupe store,
	// label lookup).
	Warnings []string `json:"warnings,omitempty"`
}

// Delivered reports whether the alert reached at least one sink (true when
// nothing had to be delivered).
func (r Result) Delivered() bool {
	if r.Outcome != OutcomeAlerted || len(r.Sinks) == 0 {
		return true
	}
	for _, s := range r.Sinks {
		if s.OK {
			return true
		}
	}
	return false
}

// Processor turns verdicts into alerts. Build it once per process; it is
// safe for concurrent use.
type Processor struct {
	Dedupe DedupeStore   // nil: no deduplication
	Window time.Duration // dedupe window; 0: DefaultDedupeWindow
	Fanout *Fanout
	// Response is "label" (recycle functions labelled
	// com.faasmon.response=recycle) or "off".
	Response  string
	Responder Responder // nil: a labelled function gets a skipped action
	// Labels is where the response label is read: the function's
	// deployment, from the provider. Never from the verdict, whose Labels
	// travel with data an attacker may have written; nil: no response.
	Labels          LabelLookup
	ResponseTimeout time.Duration
	// Priority is the Falco priority of alerts that no finding gives one
	// (today's GNN and egress verdicts); DefaultPriority when empty.
	Priority string
	Stats    *Stats
	Now      func() time.Time
	// Verdicts, when set, receives every valid verdict (benign or not,
	// before deduplication) in the background: the audit trail for
	// evaluation. Its failures are counted in Stats, never block or fail
	// an alert.
	Verdicts VerdictLog
	// VerdictTimeout bounds one publication (DefaultVerdictTimeout when 0).
	VerdictTimeout time.Duration
	// Handled records the graphs whose alert went out, for the outbox
	// consumer (HandleOutbox); nil: the consumer alerts every entry.
	Handled Ledger
	// Outbox, when set, is the consumer Run in the background (Start).
	Outbox *outbox.Consumer

	closers  []io.Closer
	stop     context.CancelFunc // ends the outbox consumer
	mu       sync.Mutex
	inflight sync.WaitGroup
	slots    chan struct{} // bounds the publications in flight
}

// VerdictLog records verdicts.
type VerdictLog interface {
	LogVerdict(ctx context.Context, v *verdict.Verdict) error
}

// DefaultVerdictTimeout bounds one verdict publication; MaxVerdictsInFlight
// bounds the background publications (more are dropped and counted).
const (
	DefaultVerdictTimeout = 5 * time.Second
	MaxVerdictsInFlight   = 256
)

// NewProcessor builds a Processor and its sinks, dedupe store and responder
// from cfg. stdout is where the stdout sink writes (os.Stdout when nil).
func NewProcessor(cfg Config, stdout io.Writer) (*Processor, error) {
	p := &Processor{
		Window:          cfg.DedupeWindow,
		Response:        cfg.Response,
		ResponseTimeout: 5 * time.Second,
		Priority:        cfg.Priority,
		Stats:           &Stats{},
	}
	if cfg.DedupeDir == "" || cfg.DedupeDir == "memory" {
		p.Dedupe = NewMemoryDedupe(cfg.DedupeMax)
		p.Handled = NewMemoryLedger(cfg.DedupeMax)
	} else {
		d, err := NewFileDedupe(cfg.DedupeDir, cfg.DedupeMax)
		if err != nil {
			return nil, err
		}
		p.Dedupe = d
		if p.Handled, err = NewFileLedger(filepath.Join(cfg.DedupeDir, "handled")); err != nil {
			return nil, err
		}
	}
	var sinks []Sink
	if cfg.Stdout {
		if stdout == nil {
			stdout = os.Stdout
		}
		sinks = append(sinks, &WriterSink{W: stdout})
	}
	hc := httpClient()
	if cfg.WebhookURL != "" {
		sinks = append(sinks, &WebhookSink{URL: cfg.WebhookURL, Token: cfg.WebhookToken, Client: hc})
	}
	if cfg.SlackURL != "" {
		sinks = append(sinks, &SlackSink{URL: cfg.SlackURL, Client: hc})
	}
	if cfg.FalcosidekickURL != "" {
		sinks = append(sinks, &FalcosidekickSink{URL: cfg.FalcosidekickURL, Hostname: cfg.Hostname, Client: hc})
	}
	if cfg.NATS {
		s := NewStanSink(cfg.NATSURL, cfg.NATSCluster, cfg.NATSChannel)
		sinks = append(sinks, s)
		p.closers = append(p.closers, s)
		if cfg.VerdictChannel != "" {
			p.Verdicts = &StanVerdictLog{Sink: s, Channel: cfg.VerdictChannel}
		}
		if cfg.Outbox != "" {
			// Its own connection: a subscription must not share the fate
			// of a sink's connection dropped after a publish timeout.
			c := &streaming.Client{URL: cfg.NATSURL, ClusterID: cfg.NATSCluster, Prefix: "faasmon-alert-outbox"}
			p.Outbox = &outbox.Consumer{Client: c, Channel: cfg.Outbox, Grace: cfg.OutboxGrace, Handle: p.HandleOutbox, Stats: &p.Stats.Outbox,
				Keys: hopauth.SourceFromEnv(os.Getenv)}
			p.closers = append(p.closers, c)
		}
	}
	p.Fanout = &Fanout{Sinks: sinks, Policy: cfg.Retry, Stats: p.Stats}

	kind := cfg.Responder
	if kind == "auto" {
		kind = "localstack"
		if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
			kind = "kubernetes"
		}
	}
	if cfg.Response == "off" {
		kind = "none"
	}
	switch kind {
	case "kubernetes":
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes responder: %w", err)
		}
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes responder: %w", err)
		}
		p.Responder = &KubernetesResponder{Client: cs, GracePeriod: cfg.GracePeriod, DefaultNamespace: cfg.FunctionNamespace}
		p.Labels = &KubernetesLabels{Client: cs, DefaultNamespace: cfg.FunctionNamespace}
	case "localstack":
		p.Responder = &LocalStackResponder{BaseURL: cfg.LocalStackURL, Client: hc}
		p.Labels = &LocalStackLabels{BaseURL: cfg.LocalStackURL, Client: hc}
	}
	return p, nil
}

// Close waits for the verdict publications in flight, then releases the
// sinks' connections.
func (p *Processor) Close() error {
	p.mu.Lock()
	if p.stop != nil {
		p.stop()
	}
	p.mu.Unlock()
	p.inflight.Wait()
	var errs []error
	for _, c := range p.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func (p *Processor) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Process handles one verdict: validate, drop benign, enrich, deduplicate,
// respond (when the function's label asks for it), and fan out. The error
// is verdict.ErrInvalid for a bad verdict; a valid one is also handed to
// p.Verdicts; everything else is reported in
// the Result (a sink failing is not an error of Process).
func (p *Processor) Process(ctx context.Context, v verdict.Verdict) (Result, error) {
	return p.process(ctx, v, DeliveryCallback)
}

// HandleOutbox is the outbox consumer's Handle: it skips a verdict whose
// alert already went out (the callback brought it), processes the others,
// and fails, so that the entry is redelivered, when the alert reached no
// sink. An invalid verdict is done with (counted by Process).
func (p *Processor) HandleOutbox(ctx context.Context, e outbox.Entry) error {
	st := p.statsOrNil()
	if p.Handled != nil {
		seen, err := p.Handled.Seen(ctx, e.Verdict.GraphID)
		if err == nil && seen {
			st.OutboxSkipped.Add(1)
			return nil
		}
	}
	res, err := p.process(ctx, e.Verdict, DeliveryOutbox)
	if errors.Is(err, verdict.ErrInvalid) {
		log.Printf("faasmon-alert: outbox entry %d: %v (dropped)", e.Sequence, err)
		return nil
	}
	if err != nil {
		return err
	}
	if !res.Delivered() {
		return fmt.Errorf("alert for graph %s reached no sink", e.Verdict.GraphID)
	}
	return nil
}

// Start runs the outbox consumer, if any, until ctx ends or Close.
func (p *Processor) Start(ctx context.Context) {
	if p.Outbox == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	p.mu.Lock()
	p.stop = cancel
	p.mu.Unlock()
	p.inflight.Add(1)
	go func() {
		defer p.inflight.Done()
		p.Outbox.Run(ctx)
	}()
}

func (p *Processor) process(ctx context.Context, v verdict.Verdict, delivery string) (Result, error) {
	st := p.statsOrNil()
	st.Received.Add(1)
	if err := Validate(&v); err != nil {
		st.Invalid.Add(1)
		return Result{}, err
	}
	p.logVerdict(ctx, &v)
	if !v.Alerting() {
		st.Benign.Add(1)
		return Result{Outcome: OutcomeBenign}, nil
	}
	now := p.now()
	a := Enrich(&v, now)
	a.Delivery = delivery
	// alert_priority is the priority of alerts no finding gave one
	// (see severityPriority).
	if _, ok := alertPriority(v.Findings); !ok && p.Priority != "" {
		a.Priority = p.Priority
	}
	res := Result{DedupeKey: a.DedupeKey}
	if p.Dedupe != nil {
		window := p.Window
		if window <= 0 {
			window = DefaultDedupeWindow
		}
		d, err := p.Dedupe.Check(ctx, a.DedupeKey, v.GraphID, now, window)
		if err != nil {
			// Fail open: a lost alert is worse than a repeated one.
			st.DedupeErrors.Add(1)
			res.Warnings = append(res.Warnings, err.Error())
		} else if d.Duplicate {
			st.Duplicates.Add(1)
			res.Outcome = OutcomeDuplicate
			res.Suppressed = d.Suppressed
			p.markHandled(ctx, v.GraphID, &res)
			return res, nil
		} else {
			a.Suppressed = d.Suppressed
		}
	}
	if act, warn := p.respond(ctx, &v); act != nil || warn != "" {
		a.Action = act
		if warn != "" {
			res.Warnings = append(res.Warnings, warn)
		}
	}
	st.Alerts.Add(1)
	res.Outcome = OutcomeAlerted
	res.Alert = a
	res.Suppressed = a.Suppressed
	if p.Fanout != nil {
		res.Sinks = p.Fanout.Send(ctx, *a)
	}
	p.markHandled(ctx, v.GraphID, &res)
	if !res.Delivered() {
		// Nothing got out: forget the key, so that the next repeat is not
		// suppressed as a duplicate of an alert nobody received.
		if f, ok := p.Dedupe.(Forgetter); ok {
			if err := f.Forget(ctx, a.DedupeKey, v.GraphID); err != nil {
				res.Warnings = append(res.Warnings, err.Error())
			}
		}
	}
	return res, nil
}

// markHandled records graphID in the ledger once its alert went out (or
// was rightly suppressed), so the outbox does not raise it again.
func (p *Processor) markHandled(ctx context.Context, graphID string, res *Result) {
	if p.Handled == nil || !res.Delivered() {
		return
	}
	if err := p.Handled.Mark(ctx, graphID); err != nil {
		res.Warnings = append(res.Warnings, err.Error())
	}
}

// logVerdict hands v to p.Verdicts in the background, detached from ctx's
// cancellation (the request may end first), bounded in time and number.
func (p *Processor) logVerdict(ctx context.Context, v *verdict.Verdict) {
	if p.Verdicts == nil {
		return
	}
	st := p.statsOrNil()
	p.mu.Lock()
	if p.slots == nil {
		p.slots = make(chan struct{}, MaxVerdictsInFlight)
	}
	slots := p.slots
	p.mu.Unlock()
	select {
	case slots <- struct{}{}:
	default:
		st.VerdictLogErrors.Add(1)
		return
	}
	c := *v // the goroutine must not see the caller's later changes
	timeout := p.VerdictTimeout
	if timeout <= 0 {
		timeout = DefaultVerdictTimeout
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	p.inflight.Add(1)
	go func() {
		defer p.inflight.Done()
		defer func() { <-slots }()
		defer cancel()
		if err := p.Verdicts.LogVerdict(lctx, &c); err != nil {
			st.VerdictLogErrors.Add(1)
			log.Printf("faasmon-alert: verdict log (graph %s): %v", c.GraphID, err)
			return
		}
		st.VerdictsLogged.Add(1)
	}()
}

// Flush waits for the verdict publications in flight.
func (p *Processor) Flush() { p.inflight.Wait() }

func (p *Processor) statsOrNil() *Stats {
	if p.Stats == nil {
		return &discardStats
	}
	return p.Stats
}

var discardStats Stats

// respond recycles the container when the function's deployment labels
// ask for it. The labels are looked up from the provider (p.Labels) every
// time; v.Labels is ignored: a verdict is data, and what decides a response
// must not come from it (a forged or replayed verdict naming a function
// must not be able to opt that function into recycling).
func (p *Processor) respond(ctx context.Context, v *verdict.Verdict) (*Action, string) {
	st := p.statsOrNil()
	if p.Response == "off" || p.Labels == nil || blindOnly(v) {
		return nil, ""
	}
	var warn string
	lctx, cancel := context.WithTimeout(ctx, p.responseTimeout())
	labels, err := p.Labels.Labels(lctx, v.Function, v.Namespace)
	cancel()
	if err != nil {
		warn = "label lookup: " + err.Error()
	}
	mode := labels[ResponseLabel]
	if mode != ResponseRecycle {
		return nil, warn
	}
	t := Target{Function: v.Function, Namespace: v.Namespace, Pod: v.Pod, Container: v.Container, Node: v.Node}
	if p.Responder == nil {
		return &Action{Kind: ResponseRecycle, Target: t, Status: ActionSkipped, Error: "no responder configured", Time: p.now().UTC()}, warn
	}
	rctx, cancel := context.WithTimeout(ctx, p.responseTimeout())
	defer cancel()
	act, err := p.Responder.Recycle(rctx, t)
	if err != nil {
		st.ResponseErrors.Add(1)
		if act.Status == "" {
			act = Action{Kind: ResponseRecycle, Target: t, Status: ActionFailed, Error: err.Error(), Time: p.now().UTC()}
		}
	} else if act.Status == ActionDone {
		st.Responses.Add(1)
	}
	return &act, warn
}

func (p *Processor) responseTimeout() time.Duration {
	if p.ResponseTimeout > 0 {
		return p.ResponseTimeout
	}
	return 5 * time.Second
}

package lab

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	stan "github.com/nats-io/stan.go"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/streaming"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Verdict is what the lab reads from a message on the verdict or alert
// channel: the classify contract, pkg/verdict, plus what only the lab
// needs. An alert carries the verdict's fields under the same JSON names.
type Verdict struct {
	verdict.Verdict
	// Rule is set when the message is an alert rather than a verdict: an
	// alert is always an intrusion.
	Rule string `json:"rule,omitempty"`
	// Received is when the server stored the message (set by the lab).
	Received time.Time `json:"-"`
}

// DecodeVerdict decodes one message. The explanation and graph are
// dropped: the lab keeps every verdict of a run in memory and reads
// neither.
func DecodeVerdict(data []byte, received time.Time) (Verdict, error) {
	var v Verdict
	if err := json.Unmarshal(data, &v); err != nil {
		return Verdict{}, err
	}
	v.Explanation, v.Graph = nil, nil
	if v.Verdict.Verdict == "" && v.Rule != "" {
		v.Verdict.Verdict = verdict.Attack
	}
	if v.GraphID == "" && v.CallID == "" {
		return Verdict{}, fmt.Errorf("verdict without graph_id or call_id")
	}
	v.Received = received
	return v, nil
}

// VerdictSet collects verdicts by graph id (first one wins) and by call id
// and function, for graphs whose id the classifier did not echo.
type VerdictSet struct {
	mu      sync.Mutex
	byGraph map[string]Verdict
	byCall  map[string]Verdict
	bad     int
	changed chan struct{}
}

// NewVerdictSet returns an empty set.
func NewVerdictSet() *VerdictSet {
	return &VerdictSet{byGraph: map[string]Verdict{}, byCall: map[string]Verdict{}, changed: make(chan struct{}, 1)}
}

// Add records v.
func (s *VerdictSet) Add(v Verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.GraphID != "" {
		if _, ok := s.byGraph[v.GraphID]; !ok {
			s.byGraph[v.GraphID] = v
		}
	}
	if v.CallID != "" && (v.Window == "" || v.Window == provenance.WindowInvocation) {
		k := v.CallID + "\x00" + v.Function
		if _, ok := s.byCall[k]; !ok {
			s.byCall[k] = v
		}
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Find returns the verdict for g.
func (s *VerdictSet) Find(g provenance.Graph) (Verdict, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.byGraph[g.ID]; ok {
		return v, true
	}
	if g.Window == provenance.WindowInvocation && g.CallID != "" {
		v, ok := s.byCall[g.CallID+"\x00"+g.Function]
		return v, ok
	}
	return Verdict{}, false
}

// Bad counts messages that did not decode.
func (s *VerdictSet) Bad() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bad
}

// Wait blocks until every graph has a verdict or timeout passes since the
// last new verdict arrived (so a slow but moving pipeline is waited for),
// or hard passes. It returns how many are still missing.
func (s *VerdictSet) Wait(graphs []provenance.Graph, idle, hard time.Duration) int {
	deadline := time.Now().Add(hard)
	for {
		missing := 0
		for _, g := range graphs {
			if _, ok := s.Find(g); !ok {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return missing
		}
		select {
		case <-s.changed:
		case <-time.After(idle):
			return missing
		}
	}
}

// Subscriber is a NATS Streaming subscription to the verdict channel.
type Subscriber struct {
	conn stan.Conn
	sub  stan.Subscription
	Set  *VerdictSet
}

// Subscribe connects to NATS Streaming (cluster, url) and replays the
// verdict channel from since on, so that verdicts published before the
// subscription started are not lost.
func Subscribe(url, cluster, channel string, since time.Time) (*Subscriber, error) {
	if channel == "" {
		channel = streaming.VerdictChannel
	}
	id := fmt.Sprintf("faasmon-lab-%d", time.Now().UnixNano())
	sc, err := stan.Connect(cluster, id, stan.NatsURL(url), stan.ConnectWait(3*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS Streaming %s (cluster %s): %w", url, cluster, err)
	}
	set := NewVerdictSet()
	sub, err := sc.Subscribe(channel, func(m *stan.Msg) {
		v, err := DecodeVerdict(m.Data, time.Unix(0, m.Timestamp).UTC())
		if err != nil {
			set.mu.Lock()
			set.bad++
			set.mu.Unlock()
			return
		}
		set.Add(v)
	}, stan.StartAtTime(since))
	if err != nil {
		sc.Close()
		return nil, fmt.Errorf("subscribe %s: %w", channel, err)
	}
	return &Subscriber{conn: sc, sub: sub, Set: set}, nil
}

// Close ends the subscription (without unsubscribing the durable state:
// the subscription is not durable) and the connection.
func (s *Subscriber) Close() error {
	if s == nil {
		return nil
	}
	_ = s.sub.Close()
	return s.conn.Close()
}

// VerdictRecord is one line of verdicts.jsonl.
type VerdictRecord struct {
	GraphID  string            `json:"graph_id"`
	Function string            `json:"function"`
	Window   provenance.Window `json:"window"`
	CallID   string            `json:"call_id,omitempty"`
	Scenario string            `json:"scenario,omitempty"`
	Label    string            `json:"label"`
	Verdict  string            `json:"verdict"` // "missing" when none arrived
	Score    float64           `json:"score"`
	// LatencyS is from the invocation's start (invocation graphs) or the
	// window's start (background graphs) to the verdict's arrival.
	LatencyS float64 `json:"latency_s,omitempty"`
	// Source and Findings: the part that decided and its evidence.
	Source   string            `json:"source,omitempty"`
	Findings []verdict.Finding `json:"findings,omitempty"`
}

// VerdictMissing marks a graph for which no verdict arrived in time.
const VerdictMissing = "missing"

// Summary is the evaluation of labelled graphs against verdicts.
type Summary struct {
	TP, FP, TN, FN int
	Precision      float64
	Recall         float64
	F1             float64
	Accuracy       float64
	FPR            float64
	NBenign        int // graphs with a verdict
	NAttack        int
	Missing        int // graphs without a verdict
	LatencyP50     float64
	Graphs         int
}

// Line is the one summary line the runner prints.
func (s Summary) Line() string {
	return fmt.Sprintf("precision %.4f recall %.4f f1 %.4f accuracy %.4f fpr %.4f n_benign %d n_attack %d",
		s.Precision, s.Recall, s.F1, s.Accuracy, s.FPR, s.NBenign, s.NAttack)
}

// Join matches labelled graphs with verdicts; invStart gives an
// invocation's start by call id and function for the latency.
func Join(graphs []provenance.Graph, set *VerdictSet, invStart func(callID, fn string) (time.Time, bool)) ([]VerdictRecord, Summary) {
	var recs []VerdictRecord
	var lat []float64
	var s Summary
	s.Graphs = len(graphs)
	for _, g := range graphs {
		r := VerdictRecord{GraphID: g.ID, Function: g.Function, Window: g.Window, CallID: g.CallID, Scenario: g.Scenario, Label: g.Label, Verdict: VerdictMissing}
		v, ok := set.Find(g)
		if !ok {
			s.Missing++
			recs = append(recs, r)
			continue
		}
		r.Verdict, r.Score, r.Source, r.Findings = v.Verdict.Verdict, v.Score, v.Source, v.Findings
		ref := g.Start
		if g.Window == provenance.WindowInvocation && invStart != nil {
			if t, ok := invStart(g.CallID, g.Function); ok {
				ref = t
			}
		}
		at := v.Received
		if at.IsZero() {
			at = v.Time
		}
		if !at.IsZero() && !ref.IsZero() {
			r.LatencyS = math.Max(0, at.Sub(ref).Seconds())
			if g.Label == LabelAttack {
				lat = append(lat, r.LatencyS)
			}
		}
		recs = append(recs, r)
		predAttack := v.Verdict.Verdict == verdict.Attack
		switch {
		case g.Label == LabelAttack && predAttack:
			s.TP++
		case g.Label == LabelAttack:
			s.FN++
		case predAttack:
			s.FP++
		default:
			s.TN++
		}
	}
	s.NAttack, s.NBenign = s.TP+s.FN, s.TN+s.FP
	s.Precision = ratio(s.TP, s.TP+s.FP)
	s.Recall = ratio(s.TP, s.TP+s.FN)
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	s.Accuracy = ratio(s.TP+s.TN, s.TP+s.TN+s.FP+s.FN)
	s.FPR = ratio(s.FP, s.FP+s.TN)
	if len(lat) > 0 {
		sort.Float64s(lat)
		s.LatencyP50 = lat[len(lat)/2]
		if len(lat)%2 == 0 {
			s.LatencyP50 = (lat[len(lat)/2-1] + lat[len(lat)/2]) / 2
		}
	}
	return recs, s
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

package gnn

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/faasmon/faasmon/pkg/classify/features"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Centroid is a benign embedding centre with its scale: the mean squared
// distance of the benign training embeddings to it.
type Centroid struct {
	Mean  []float32 `json:"mean"`
	Scale float64   `json:"scale"`
	N     int       `json:"n"`
}

// OneClassStats is the benign-only part of a model (see oneclass.go).
type OneClassStats struct {
	Arch Arch `json:"arch"`
	// Centre is the Deep SVDD centre the body was trained towards.
	Centre []float32 `json:"centre"`
	// Global is the centroid of all benign training embeddings;
	// PerFunction the centroid of each function with at least
	// MinPerFunction benign training graphs.
	Global      Centroid            `json:"global"`
	PerFunction map[string]Centroid `json:"per_function,omitempty"`
	// Threshold is the Quantile of the benign validation anomaly scores.
	Threshold float64 `json:"threshold"`
	Quantile  float64 `json:"quantile"`
	// Egress is each function's benign external endpoints, armed for
	// functions with at least EgressMinGraphs graphs and a missing mass of
	// at most EgressMaxMissing (see egress.go).
	Egress           map[string]*Egress `json:"egress,omitempty"`
	EgressMinGraphs  int                `json:"egress_min_graphs,omitempty"`
	EgressMaxMissing float64            `json:"egress_max_missing,omitempty"`
}

// Model is a trained classifier: the supervised GNN, optionally the
// one-class GNN with its statistics, and the thresholds. It is read-only
// after Load or Train and safe for concurrent use.
type Model struct {
	Meta     Meta
	sup      *Net[float32]
	oc       *Net[float32] // nil without one-class mode
	OneClass *OneClassStats
	version  string
	pool     sync.Pool
}

// Meta is what a model file says about itself besides the weights.
type Meta struct {
	FeatureSchema int         `json:"feature_schema"`
	FeatureDim    int         `json:"feature_dim"`
	NumRel        int         `json:"num_rel"`
	Arch          Arch        `json:"arch"`
	Threshold     float64     `json:"threshold"` // on the supervised P(attack)
	Train         TrainConfig `json:"train"`
	Summary       Summary     `json:"summary"`
}

// Summary records how training went.
type Summary struct {
	TrainGraphs  int      `json:"train_graphs"`
	ValGraphs    int      `json:"val_graphs"`
	Epochs       int      `json:"epochs"`
	BestEpoch    int      `json:"best_epoch"`
	BestValF1    float64  `json:"best_val_f1"`
	BestValLoss  float64  `json:"best_val_loss"`
	Excluded     []string `json:"excluded_scenarios,omitempty"`
	OneClassLoss float64  `json:"one_class_loss,omitempty"`
}

// Version names the model: the feature schema and the first 12 hex digits
// of the file's SHA-256 payload checksum ("f1-3a4b…"); "unsaved" before
// Save or Load.
func (m *Model) Version() string {
	if m.version == "" {
		return "unsaved"
	}
	return m.version
}

// Result is the answer for one graph.
type Result struct {
	Verdict      string  `json:"verdict"`
	Score        float64 `json:"score"`
	Threshold    float64 `json:"threshold"`
	ModelVersion string  `json:"model_version"`
	// The parts of Score: the supervised P(attack), the raw one-class
	// anomaly score (squared embedding distance over the benign scale) with
	// its threshold, and the calibrated anomaly score a/(a+τ).
	Supervised       float64 `json:"supervised"`
	Anomaly          float64 `json:"anomaly,omitempty"`
	AnomalyThreshold float64 `json:"anomaly_threshold,omitempty"`
	AnomalyScore     float64 `json:"anomaly_score,omitempty"`
	// NovelEndpoints are the external endpoints the function never reached
	// in benign training, when its egress baseline is armed.
	NovelEndpoints []string `json:"novel_endpoints,omitempty"`
	// Source is the part that decided Score: "supervised", "one-class" or
	// "egress".
	Source      string               `json:"source"`
	Explanation *verdict.Explanation `json:"explanation,omitempty"`
}

// Options tune Classify.
type Options struct {
	// TopK bounds the nodes and edges of the explanation (default 5; <0: no
	// explanation).
	TopK int
}

// ErrNoOneClass is returned by one-class queries on a model without it.
var ErrNoOneClass = errors.New("gnn: model has no one-class part")

func (m *Model) getCache() *cache[float32] {
	if c, ok := m.pool.Get().(*cache[float32]); ok {
		return c
	}
	return &cache[float32]{}
}

// scores are the raw outputs for each graph of a batch.
type scores struct {
	sup     []float64 // P(attack)
	anomaly []float64 // NaN without one-class
}

func (m *Model) scoreBatch(b *Batch[float32], fn []string) scores {
	c := m.getCache()
	defer m.pool.Put(c)
	s := scores{sup: make([]float64, b.G), anomaly: make([]float64, b.G)}
	m.sup.forward(b, c, fwdOpts{})
	p := make([]float64, 2)
	for g := 0; g < b.G; g++ {
		softmaxRow(c.Logits[g*2:(g+1)*2], p)
		s.sup[g] = p[1]
	}
	if m.oc == nil {
		for g := range s.anomaly {
			s.anomaly[g] = math.NaN()
		}
		return s
	}
	m.oc.forward(b, c, fwdOpts{})
	e := m.oc.Arch.EmbedDim()
	for g := 0; g < b.G; g++ {
		f := ""
		if fn != nil {
			f = fn[g]
		}
		s.anomaly[g] = m.OneClass.anomaly(c.R[g*e:(g+1)*e], f)
	}
	return s
}

// centroidFor returns the function's centroid, or the global one.
func (o *OneClassStats) centroidFor(function string) *Centroid {
	if c, ok := o.PerFunction[function]; ok {
		return &c
	}
	return &o.Global
}

// anomaly is ||e − μ_f||² / s_f.
func (o *OneClassStats) anomaly(e []float32, function string) float64 {
	c := o.centroidFor(function)
	var d float64
	for k, v := range e {
		x := float64(v) - float64(c.Mean[k])
		d += x * x
	}
	return d / c.Scale
}

// calibrate maps an anomaly score onto [0,1) with the threshold at 0.5.
func calibrate(a, tau float64) float64 {
	if a <= 0 {
		return 0
	}
	return a / (a + tau)
}

// anomalous is the one-class decision: farther than τ, strictly.
func (m *Model) anomalous(a float64) bool { return a > m.OneClass.Threshold }

// combine is the final decision rule: score = max(P_sup(attack), egress
// [, a/(a+τ) when the one-class part votes]), attack iff score ≥ 0.5 —
// i.e. the supervised model says attack, or the graph reaches an external
// endpoint outside its function's armed egress baseline (egress is then
// 1 − the baseline's missing mass, else 0), or (OneClassVotes) it is
// farther from its benign centroid than the benign quantile τ (strictly).
// The supervised and one-class parts are mapped so that their own
// threshold lands at 0.5, which makes the max a union of the detectors at
// their calibrated operating points. cal, the calibrated anomaly, is
// returned whether or not it voted.
func (m *Model) combine(sup, a, egress float64) (score float64, source string, cal float64) {
	// supervised threshold t maps to 0.5 piecewise linearly
	t := m.Meta.Threshold
	s := sup
	if t != 0.5 && t > 0 && t < 1 {
		if sup < t {
			s = 0.5 * sup / t
		} else {
			s = 0.5 + 0.5*(sup-t)/(1-t)
		}
	}
	score, source = s, "supervised"
	if m.oc == nil || math.IsNaN(a) {
		return score, source, 0
	}
	cal = calibrate(a, m.OneClass.Threshold)
	if !m.anomalous(a) {
		// Only farther than τ is anomalous. τ is a benign validation
		// graph's own score, and identical graphs (a container's idle
		// accept, thousands of times) score exactly τ: without this they
		// all landed on 0.5 and were flagged.
		cal = math.Min(cal, math.Nextafter(0.5, 0))
	}
	if cal > score && m.Meta.Train.OneClassVotes {
		score, source = cal, "one-class"
	}
	if egress > score {
		score, source = egress, "egress"
	}
	return score, source, cal
}

// egressPart is the egress term of combine for g.
func (m *Model) egressPart(g *provenance.Graph) (float64, []string) {
	novel := m.novelEndpoints(g)
	if len(novel) == 0 {
		return 0, nil
	}
	return m.egressScore(g.Function), novel
}

// Classify scores one graph: it validates g, extracts features and runs
// both parts; with opts.TopK ≥ 0 it explains the verdict.
func (m *Model) Classify(g *provenance.Graph, opts Options) (*Result, error) {
	f, err := features.Extract(g)
	if err != nil {
		return nil, err
	}
	b := Pack[float32]([]*features.Graph{f})
	s := m.scoreBatch(b, []string{g.Function})
	r := m.result(s.sup[0], s.anomaly[0], g)
	k := opts.TopK
	if k == 0 {
		k = 5
	}
	if k > 0 {
		if r.Source == "egress" {
			// The new endpoint says where; the supervised attribution
			// towards attack says what was done around it (the file the
			// download went to).
			r.Explanation = explainEgress(g, r.NovelEndpoints, k)
			fillExplanation(r.Explanation, m.explain(g, b, "supervised", verdict.Attack, k), k)
		} else {
			r.Explanation = m.explain(g, b, r.Source, r.Verdict, k)
		}
	}
	return r, nil
}

func (m *Model) result(sup, a float64, g *provenance.Graph) *Result {
	eg, novel := m.egressPart(g)
	score, src, cal := m.combine(sup, a, eg)
	r := &Result{Score: score, Threshold: 0.5, ModelVersion: m.Version(),
		Supervised: sup, Source: src, Verdict: verdict.Benign, NovelEndpoints: novel}
	if m.oc != nil {
		r.Anomaly, r.AnomalyThreshold, r.AnomalyScore = a, m.OneClass.Threshold, cal
	}
	if score >= 0.5 {
		r.Verdict = verdict.Attack
	}
	return r
}

// ClassifyBatch scores many graphs in one packed forward pass (no
// explanations). Invalid graphs fail the whole call.
func (m *Model) ClassifyBatch(gs []*provenance.Graph) ([]*Result, error) {
	fs := make([]*features.Graph, len(gs))
	fn := make([]string, len(gs))
	for i, g := range gs {
		f, err := features.Extract(g)
		if err != nil {
			return nil, fmt.Errorf("graph %d: %w", i, err)
		}
		fs[i], fn[i] = f, g.Function
	}
	b := Pack[float32](fs)
	s := m.scoreBatch(b, fn)
	out := make([]*Result, len(fs))
	for i := range fs {
		out[i] = m.result(s.sup[i], s.anomaly[i], gs[i])
	}
	return out, nil
}

// explain attributes the deciding score to nodes and edges by
// gradient×input: for the supervised part the score is the logit margin
// (attack − benign), for the one-class part the anomaly distance. A node's
// weight is Σ_c x_c·∂score/∂x_c over its feature row; an edge's weight is
// Σ a·∂score/∂a over its mean-aggregation coefficients a in every layer and
// both directions (the gradient×input of an edge mask). Items are ranked by
// weight towards the verdict (positive = pushes to attack for an attack
// verdict, to benign for a benign one) and only positive ones are kept.
func (m *Model) explain(g *provenance.Graph, b *Batch[float32], source, want string, k int) *verdict.Explanation {
	c := &cache[float32]{}
	var net *Net[float32]
	var dTop []float32
	ex := &verdict.Explanation{}
	if source == "one-class" {
		net = m.oc
		net.forward(b, c, fwdOpts{})
		e := net.Arch.EmbedDim()
		ct := m.OneClass.centroidFor(g.Function)
		dTop = make([]float32, e)
		for j := 0; j < e; j++ {
			dTop[j] = float32(2 * (float64(c.R[j]) - float64(ct.Mean[j])) / ct.Scale)
		}
		ex.Method = "gradient×input of the one-class anomaly score"
	} else {
		net = m.sup
		net.forward(b, c, fwdOpts{})
		dTop = []float32{-1, 1}
		ex.Method = "gradient×input of the supervised logit margin (attack − benign)"
	}
	grad := make([]float32, len(net.P))
	gr := net.backward(c, dTop, grad, bwdOpts{input: true, edges: true})
	sign := 1.0
	if want != verdict.Attack {
		sign = -1
	}
	// nodes
	type item struct {
		i int
		w float64
	}
	var nodes []item
	for i := 0; i < b.N; i++ {
		w := float64(dot(gr.dX[i*features.Dim:(i+1)*features.Dim], b.X[i*features.Dim:(i+1)*features.Dim])) * sign
		if w > 0 {
			nodes = append(nodes, item{i, w})
		}
	}
	rank := func(it []item) {
		sort.Slice(it, func(a, b int) bool {
			if it[a].w != it[b].w {
				return it[a].w > it[b].w
			}
			return it[a].i < it[b].i
		})
	}
	rank(nodes)
	for _, it := range nodes[:min(k, len(nodes))] {
		n := g.Nodes[it.i]
		ex.Nodes = append(ex.Nodes, verdict.NodeAttr{ID: it.i, Kind: string(n.Kind), Label: n.Label, Weight: it.w})
	}
	var edges []item
	for id, w := range gr.edges {
		if w := float64(w) * sign; w > 0 {
			edges = append(edges, item{id, w})
		}
	}
	rank(edges)
	for _, it := range edges[:min(k, len(edges))] {
		ei := int(b.EdgeRef[it.i][1])
		e := g.Edges[ei]
		ex.Edges = append(ex.Edges, verdict.EdgeAttr{Index: ei, Src: e.Src, Dst: e.Dst, Kind: string(e.Kind),
			From: g.Nodes[e.Src].Label, To: g.Nodes[e.Dst].Label, Weight: it.w})
	}
	return ex
}

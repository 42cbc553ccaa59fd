package gnn

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/faasmon/faasmon/pkg/classify/features"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// TrainConfig holds the hyperparameters. Zero fields take the defaults of
// DefaultTrainConfig.
type TrainConfig struct {
	Seed        uint64  `json:"seed"`
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Dropout     float64 `json:"dropout"`
	Patience    int     `json:"patience"` // epochs without a better validation F1 (ties: loss) before stopping
	ClipNorm    float64 `json:"clip_norm"`
	Hidden      int     `json:"hidden"`
	Layers      int     `json:"layers"`
	HeadHidden  int     `json:"head_hidden"`
	// BalanceClasses weights the loss by inverse class frequency.
	BalanceClasses bool `json:"balance_classes"`

	// One-class part; OneClassEpochs < 0 disables it.
	OneClassEpochs   int     `json:"one_class_epochs"`
	OneClassLR       float64 `json:"one_class_lr"`
	OneClassQuantile float64 `json:"one_class_quantile"`
	MinPerFunction   int     `json:"min_per_function"`
	// OneClassVotes lets the embedding-distance part decide verdicts on
	// its own (attack when a > τ). Off by default: at the benign 0.999
	// quantile it flags about 0.3% of benign graphs, rare but harmless
	// shapes (a fresh container lazily loading a module), which is a false
	// alert every few hundred invocations, and on the lab's attacks it adds
	// no recall that the egress part lacks. Its score is reported either
	// way.
	OneClassVotes bool `json:"one_class_votes"`
	// EgressMaxMissing arms a function's egress baseline when the estimated
	// share of its benign graphs reaching a new external endpoint is at
	// most this (over at least MinPerFunction graphs); < 0 disables the
	// egress part.
	EgressMaxMissing float64 `json:"egress_max_missing"`

	// Log receives one progress line per epoch (nil: silent).
	Log io.Writer `json:"-"`
}

// DefaultTrainConfig is the configuration used by model/train.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Seed: 1, Epochs: 100, BatchSize: 32, LR: 3e-3, WeightDecay: 1e-4,
		Dropout: 0.1, Patience: 15, ClipNorm: 5, Hidden: 32, Layers: 2, HeadHidden: 32,
		BalanceClasses: true, OneClassEpochs: 30, OneClassLR: 1e-3, OneClassQuantile: 0.999,
		MinPerFunction: 20, EgressMaxMissing: 0.01}
}

func (c *TrainConfig) fill() {
	d := DefaultTrainConfig()
	if c.Epochs == 0 {
		c.Epochs = d.Epochs
	}
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.LR == 0 {
		c.LR = d.LR
	}
	if c.Patience == 0 {
		c.Patience = d.Patience
	}
	if c.Hidden == 0 {
		c.Hidden = d.Hidden
	}
	if c.Layers == 0 {
		c.Layers = d.Layers
	}
	if c.HeadHidden == 0 {
		c.HeadHidden = d.HeadHidden
	}
	if c.OneClassEpochs == 0 {
		c.OneClassEpochs = d.OneClassEpochs
	}
	if c.OneClassLR == 0 {
		c.OneClassLR = d.OneClassLR
	}
	if c.OneClassQuantile == 0 {
		c.OneClassQuantile = d.OneClassQuantile
	}
	if c.MinPerFunction == 0 {
		c.MinPerFunction = d.MinPerFunction
	}
	if c.EgressMaxMissing == 0 {
		c.EgressMaxMissing = d.EgressMaxMissing
	}
}

// Example is one labelled graph with its features.
type Example struct {
	Graph *provenance.Graph
	Feat  *features.Graph
	Label int // 1 attack, 0 benign
}

// NewExample validates g, reads its label ("benign" or "attack") and
// extracts its features.
func NewExample(g *provenance.Graph) (Example, error) {
	var y int
	switch g.Label {
	case "benign":
	case "attack":
		y = 1
	default:
		return Example{}, fmt.Errorf("graph %q: label %q, want \"benign\" or \"attack\"", g.ID, g.Label)
	}
	f, err := features.Extract(g)
	if err != nil {
		return Example{}, fmt.Errorf("graph %q: %w", g.ID, err)
	}
	return Example{Graph: g, Feat: f, Label: y}, nil
}

// Split divides examples into train and validation sets, stratified by
// label: each class is shuffled with a PCG seeded by seed and valFrac of it
// (rounded) goes to validation. The input order must be deterministic (e.g.
// sorted file names) for the split to be.
func Split(ex []Example, valFrac float64, seed uint64) (train, val []Example) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for y := 0; y <= 1; y++ {
		var cls []Example
		for _, e := range ex {
			if e.Label == y {
				cls = append(cls, e)
			}
		}
		rng.Shuffle(len(cls), func(i, j int) { cls[i], cls[j] = cls[j], cls[i] })
		nv := int(math.Round(valFrac * float64(len(cls))))
		val = append(val, cls[:nv]...)
		train = append(train, cls[nv:]...)
	}
	return train, val
}

// EpochStats is one line of progress.
type EpochStats struct {
	Epoch   int
	Loss    float64
	ValLoss float64
	ValF1   float64
}

// Train fits the supervised GNN on train with early stopping on val (F1 at
// the 0.5 threshold, ties broken by loss; the best epoch's weights are
// kept), then the one-class part on the benign graphs of train (threshold
// from the benign graphs of val). Everything runs on one goroutine in a
// fixed order from cfg.Seed, so the same data and seed give the same
// weights bit for bit.
func Train(cfg TrainConfig, train, val []Example) (*Model, error) {
	cfg.fill()
	if len(train) == 0 {
		return nil, errors.New("gnn: no training graphs")
	}
	arch := Arch{InDim: features.Dim, Hidden: cfg.Hidden, Layers: cfg.Layers, HeadHidden: cfg.HeadHidden, Classes: 2}
	net, err := NewNet[float32](arch, cfg.Seed)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a11))
	opt := newAdam(len(net.P), net.biasMask(), cfg.LR, cfg.WeightDecay, false)
	var counts [2]int
	for _, e := range train {
		counts[e.Label]++
	}
	cw := [2]float32{1, 1}
	if cfg.BalanceClasses && counts[0] > 0 && counts[1] > 0 {
		for y := range cw {
			cw[y] = float32(float64(len(train)) / (2 * float64(counts[y])))
		}
	}
	perm := make([]int, len(train))
	for i := range perm {
		perm[i] = i
	}
	grad := make([]float32, len(net.P))
	c := &cache[float32]{}
	best := append([]float32(nil), net.P...)
	bestF1, bestLoss, bestEpoch, since := -1.0, math.Inf(1), 0, 0
	m := &Model{Meta: Meta{FeatureSchema: features.SchemaVersion, FeatureDim: features.Dim, NumRel: NumRel,
		Arch: arch, Threshold: 0.5, Train: cfg}}
	m.sup = net
	epoch := 0
	for epoch = 1; epoch <= cfg.Epochs; epoch++ {
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		var lossSum float64
		var nb int
		for s := 0; s < len(perm); s += cfg.BatchSize {
			idx := perm[s:min(s+cfg.BatchSize, len(perm))]
			b := packExamples(train, idx)
			for i, j := range idx {
				b.W[i] = cw[train[j].Label]
			}
			net.forward(b, c, fwdOpts{dropout: cfg.Dropout, rng: rng})
			dl := make([]float32, b.G*2)
			lossSum += crossEntropy(c.Logits, 2, b.Label, b.W, dl)
			nb++
			clear(grad)
			net.backward(c, dl, grad, bwdOpts{})
			clipNorm(grad, cfg.ClipNorm)
			step(opt, net.P, grad)
		}
		st := EpochStats{Epoch: epoch, Loss: lossSum / float64(nb)}
		evalSet := val
		if len(evalSet) == 0 {
			evalSet = train
		}
		st.ValLoss, st.ValF1 = m.supLossF1(evalSet, cw)
		improved := st.ValF1 > bestF1 || (st.ValF1 == bestF1 && st.ValLoss < bestLoss)
		if improved {
			bestF1, bestLoss, bestEpoch, since = st.ValF1, st.ValLoss, epoch, 0
			copy(best, net.P)
		} else {
			since++
		}
		if cfg.Log != nil {
			mark := ""
			if improved {
				mark = " *"
			}
			fmt.Fprintf(cfg.Log, "epoch %3d/%d  loss %.4f  val loss %.4f  val F1 %.4f%s\n",
				epoch, cfg.Epochs, st.Loss, st.ValLoss, st.ValF1, mark)
		}
		if since >= cfg.Patience {
			if cfg.Log != nil {
				fmt.Fprintf(cfg.Log, "early stop: no better val F1 for %d epochs; best epoch %d (F1 %.4f)\n", cfg.Patience, bestEpoch, bestF1)
			}
			break
		}
	}
	copy(net.P, best)
	m.Meta.Summary = Summary{TrainGraphs: len(train), ValGraphs: len(val), Epochs: min(epoch, cfg.Epochs),
		BestEpoch: bestEpoch, BestValF1: bestF1, BestValLoss: bestLoss}
	if cfg.OneClassEpochs > 0 {
		if err := m.trainOneClass(cfg, train, val); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func packExamples(ex []Example, idx []int) *Batch[float32] {
	fs := make([]*features.Graph, len(idx))
	b := &Batch[float32]{}
	labels := make([]int, len(idx))
	for i, j := range idx {
		fs[i] = ex[j].Feat
		labels[i] = ex[j].Label
	}
	b = Pack[float32](fs)
	b.Label = labels
	b.W = make([]float32, len(idx))
	for i := range b.W {
		b.W[i] = 1
	}
	return b
}

// evalBatch is the batch size of inference over a data set.
const evalBatch = 64

// supScores returns P(attack) for each example.
func (m *Model) supScores(ex []Example) []float64 {
	out := make([]float64, 0, len(ex))
	c := &cache[float32]{}
	p := make([]float64, 2)
	for s := 0; s < len(ex); s += evalBatch {
		idx := make([]int, 0, evalBatch)
		for j := s; j < min(s+evalBatch, len(ex)); j++ {
			idx = append(idx, j)
		}
		b := packExamples(ex, idx)
		m.sup.forward(b, c, fwdOpts{})
		for g := 0; g < b.G; g++ {
			softmaxRow(c.Logits[g*2:(g+1)*2], p)
			out = append(out, p[1])
		}
	}
	return out
}

func (m *Model) supLossF1(ex []Example, cw [2]float32) (loss, f1 float64) {
	ps := m.supScores(ex)
	labels := make([]int, len(ex))
	var wsum float64
	for i, e := range ex {
		labels[i] = e.Label
		w := float64(cw[e.Label])
		wsum += w
		p := ps[i]
		if e.Label == 0 {
			p = 1 - p
		}
		loss -= w * math.Log(math.Max(p, 1e-12))
	}
	return loss / wsum, Confusion(ps, labels, m.Meta.Threshold).F1
}

// quantile is the q-quantile of xs (linear interpolation).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (pos-float64(lo))*(s[hi]-s[lo])
}

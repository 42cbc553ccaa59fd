package gnn

// One-class mode (issue 5, item 6): a second GNN body trained on benign
// graphs only, so that it can flag attacks no labelled example showed.
//
// Choice: Deep SVDD (Ruff et al., 2018) on the mean+max readout. The body
// has the architecture of the supervised one without head and without
// biases (a bias-free ReLU network cannot collapse every input onto the
// centre). Its centre c is the mean readout of the benign training graphs
// at initialisation (components below 0.1 raised to 0.1, as in the paper),
// and it is trained to minimise mean ||φ(g) − c||² with AdamW.
//
// Scoring is covariance-free and per function: after training, the benign
// training embeddings of every function with at least MinPerFunction graphs
// get their own centroid μ_f and scale s_f (mean squared distance to μ_f);
// the others share the global μ, s. The anomaly score of a graph is
// a = ||φ(g) − μ_f||² / s_f (≈1 for a typical benign graph), and its
// threshold τ is the OneClassQuantile (0.999) of a over the benign
// validation graphs (over the benign training graphs when validation has
// fewer than 10). The calibrated score a/(a+τ) is 0.5 at τ; see
// Model.combine for the union with the supervised part.

import (
	"fmt"
	"math"
	"math/rand/v2"
)

func (m *Model) trainOneClass(cfg TrainConfig, train, val []Example) error {
	var benign []Example
	for _, e := range train {
		if e.Label == 0 {
			benign = append(benign, e)
		}
	}
	if len(benign) < 2 {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "one-class: %d benign training graphs, skipped\n", len(benign))
		}
		return nil
	}
	arch := Arch{InDim: m.Meta.Arch.InDim, Hidden: cfg.Hidden, Layers: cfg.Layers, NoBias: true}
	net, err := NewNet[float32](arch, cfg.Seed^0x0c1a55)
	if err != nil {
		return err
	}
	m.oc = net
	e := arch.EmbedDim()
	emb := m.ocEmbed(benign)
	centre := make([]float32, e)
	for _, v := range emb {
		for k := range centre {
			centre[k] += v[k] / float32(len(emb))
		}
	}
	for k, v := range centre {
		if math.Abs(float64(v)) < 0.1 {
			centre[k] = 0.1
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x0c))
	opt := newAdam(len(net.P), net.biasMask(), cfg.OneClassLR, cfg.WeightDecay, true)
	perm := make([]int, len(benign))
	for i := range perm {
		perm[i] = i
	}
	grad := make([]float32, len(net.P))
	c := &cache[float32]{}
	var last float64
	for ep := 1; ep <= cfg.OneClassEpochs; ep++ {
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		var sum float64
		var nb int
		for s := 0; s < len(perm); s += cfg.BatchSize {
			b := packExamples(benign, perm[s:min(s+cfg.BatchSize, len(perm))])
			net.forward(b, c, fwdOpts{})
			dR := make([]float32, len(c.R))
			sum += svddLoss(c.R, e, centre, dR)
			nb++
			clear(grad)
			net.backward(c, dR, grad, bwdOpts{})
			clipNorm(grad, cfg.ClipNorm)
			step(opt, net.P, grad)
		}
		last = sum / float64(nb)
		if cfg.Log != nil && (ep == 1 || ep%10 == 0 || ep == cfg.OneClassEpochs) {
			fmt.Fprintf(cfg.Log, "one-class epoch %3d/%d  svdd loss %.5f\n", ep, cfg.OneClassEpochs, last)
		}
	}
	st := &OneClassStats{Arch: arch, Centre: centre, Quantile: cfg.OneClassQuantile, PerFunction: map[string]Centroid{}}
	emb = m.ocEmbed(benign)
	st.Global = centroid(emb)
	byFn := map[string][][]float32{}
	for i, ex := range benign {
		byFn[ex.Graph.Function] = append(byFn[ex.Graph.Function], emb[i])
	}
	for fn, es := range byFn {
		if len(es) >= cfg.MinPerFunction {
			st.PerFunction[fn] = centroid(es)
		}
	}
	if cfg.EgressMaxMissing >= 0 {
		st.Egress, st.EgressMinGraphs, st.EgressMaxMissing = egressBaselines(benign), cfg.MinPerFunction, cfg.EgressMaxMissing
	}
	m.OneClass = st
	var vb []Example
	for _, ex := range val {
		if ex.Label == 0 {
			vb = append(vb, ex)
		}
	}
	if len(vb) < 10 {
		vb = benign
	}
	a := m.anomalies(vb)
	st.Threshold = quantile(a, cfg.OneClassQuantile)
	if !(st.Threshold > 1e-9) || math.IsInf(st.Threshold, 0) {
		st.Threshold = 1
	}
	m.Meta.Summary.OneClassLoss = last
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "one-class: %d benign graphs, %d per-function centroids, threshold %.4g (q%.3g of %d benign)\n",
			len(benign), len(st.PerFunction), st.Threshold, cfg.OneClassQuantile, len(vb))
	}
	return nil
}

func centroid(es [][]float32) Centroid {
	e := len(es[0])
	mean := make([]float64, e)
	for _, v := range es {
		for k := range mean {
			mean[k] += float64(v[k])
		}
	}
	out := Centroid{Mean: make([]float32, e), N: len(es)}
	for k := range mean {
		out.Mean[k] = float32(mean[k] / float64(len(es)))
	}
	var s float64
	for _, v := range es {
		for k := range mean {
			d := float64(v[k]) - float64(out.Mean[k])
			s += d * d
		}
	}
	out.Scale = math.Max(s/float64(len(es)), 1e-6)
	return out
}

// ocEmbed returns the one-class readout of each example.
func (m *Model) ocEmbed(ex []Example) [][]float32 {
	out := make([][]float32, 0, len(ex))
	c := &cache[float32]{}
	e := m.oc.Arch.EmbedDim()
	for s := 0; s < len(ex); s += evalBatch {
		idx := make([]int, 0, evalBatch)
		for j := s; j < min(s+evalBatch, len(ex)); j++ {
			idx = append(idx, j)
		}
		b := packExamples(ex, idx)
		m.oc.forward(b, c, fwdOpts{})
		for g := 0; g < b.G; g++ {
			out = append(out, append([]float32(nil), c.R[g*e:(g+1)*e]...))
		}
	}
	return out
}

// anomalies returns the one-class anomaly score of each example.
func (m *Model) anomalies(ex []Example) []float64 {
	emb := m.ocEmbed(ex)
	out := make([]float64, len(ex))
	for i, v := range emb {
		out[i] = m.OneClass.anomaly(v, ex[i].Graph.Function)
	}
	return out
}

package gnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/faasmon/faasmon/pkg/classify/features"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// tinyGraph is a random valid graph with n nodes and m edges.
func tinyGraph(rng *rand.Rand, n, m int) *provenance.Graph {
	g := &provenance.Graph{Version: provenance.SchemaVersion, ID: "t"}
	for i := 0; i < n; i++ {
		k := provenance.NodeKinds[rng.IntN(len(provenance.NodeKinds))]
		g.Nodes = append(g.Nodes, provenance.Node{ID: i, Kind: k, Label: fmt.Sprintf("/tmp/x%d.sh", rng.IntN(5)),
			Class: provenance.ClassTmp, Exe: "/bin/sh"})
	}
	for i := 0; i < m; i++ {
		g.Edges = append(g.Edges, provenance.Edge{Src: rng.IntN(n), Dst: rng.IntN(n),
			Kind: provenance.EdgeKinds[rng.IntN(4)], Count: 1 + rng.IntN(3), Bytes: int64(rng.IntN(100))})
	}
	return g
}

// tinyBatch packs a few tiny graphs (one empty) with random dense inputs, so
// that every input column matters. Relations 0..7 are used, and both plan
// orders (AT and TA) occur.
func tinyBatch(t *testing.T, seed uint64) *Batch[float64] {
	rng := rand.New(rand.NewPCG(seed, 1))
	var fs []*features.Graph
	for _, sz := range [][2]int{{5, 9}, {0, 0}, {7, 14}, {3, 4}} {
		f, err := features.Extract(tinyGraph(rng, sz[0], sz[1]))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	// one star so that AT and TA both appear: node 0 writes to all others
	star := &provenance.Graph{Version: provenance.SchemaVersion}
	for i := 0; i < 6; i++ {
		star.Nodes = append(star.Nodes, provenance.Node{ID: i, Kind: provenance.NodeFile, Label: "f"})
		if i > 0 {
			star.Edges = append(star.Edges, provenance.Edge{Src: 0, Dst: i, Kind: provenance.EdgeChmod, Count: 1})
		}
	}
	f, _ := features.Extract(star)
	fs = append(fs, f)
	b := Pack[float64](fs)
	for i := range b.X {
		b.X[i] = rng.NormFloat64()
	}
	b.Label = []int{0, 1, 1, 0, 1}
	b.W = []float64{1, 1, 2, 1, 0.5}
	var at, ta bool
	for r := range b.Rel {
		if len(b.Rel[r].Col) > 0 {
			at = at || b.useAT(r, 5, 5)
			ta = ta || !b.useAT(r, 5, 5)
		}
	}
	if !at || !ta {
		t.Fatalf("tiny batch lacks a plan order: AT %v TA %v", at, ta)
	}
	return b
}

// gcStep is the central-difference step. The network is piecewise linear
// (ReLU, max), so the SVDD loss is piecewise quadratic and the difference
// exact up to rounding; the cross-entropy adds an O(h²) truncation error of
// about 1e-10 here.
var gcStep = 1e-5

// relErr is the norm-wise relative error ||a−n||/max(||a||,||n||) and the
// worst element-wise relative error |a−n|/max(|a|,|n|) over the elements of
// at least 1e-4 of the largest one (below that, the rounding error of the
// central difference, ~1e-11 absolute, dominates and says nothing about the
// backward pass).
func relErr(a, n []float64) (norm, elem float64) {
	var d2, a2, n2, big float64
	for i := range a {
		big = math.Max(big, math.Max(math.Abs(a[i]), math.Abs(n[i])))
	}
	for i := range a {
		d := a[i] - n[i]
		d2 += d * d
		a2 += a[i] * a[i]
		n2 += n[i] * n[i]
		den := math.Max(math.Abs(a[i]), math.Abs(n[i]))
		if den >= 1e-4*big {
			elem = math.Max(elem, math.Abs(d)/den)
		}
	}
	den := math.Sqrt(math.Max(a2, n2))
	if den == 0 {
		return 0, elem
	}
	return math.Sqrt(d2) / den, elem
}

func numGrad(x []float64, idx []int, f func() float64) []float64 {
	out := make([]float64, len(idx))
	for k, i := range idx {
		old := x[i]
		x[i] = old + gcStep
		fp := f()
		x[i] = old - gcStep
		fm := f()
		x[i] = old
		out[k] = (fp - fm) / (2 * gcStep)
	}
	return out
}

func allIdx(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func check(t *testing.T, name string, analytic, numeric []float64) {
	t.Helper()
	norm, elem := relErr(analytic, numeric)
	t.Logf("%-28s n=%5d  norm rel err %.2e  worst elem %.2e", name, len(analytic), norm, elem)
	if norm > 1e-6 || elem > 1e-6 || math.IsNaN(norm) {
		t.Errorf("%s: relative error %.3e (elementwise %.3e) > 1e-6", name, norm, elem)
	}
	var nz int
	for _, v := range analytic {
		if v != 0 {
			nz++
		}
	}
	if nz == 0 {
		t.Errorf("%s: gradient is all zero: the check proves nothing", name)
	}
}

func testArch() Arch {
	return Arch{InDim: features.Dim, Hidden: 5, Layers: 3, HeadHidden: 4, Classes: 2}
}

// TestGradWholeModel checks every parameter, the input and the edge
// gradients of the supervised model (3 layers, dropout on, head, weighted
// cross-entropy) against central differences.
func TestGradWholeModel(t *testing.T) {
	b := tinyBatch(t, 7)
	n, err := NewNet[float64](testArch(), 3)
	if err != nil {
		t.Fatal(err)
	}
	setBiases(n)
	const p = 0.2
	c := &cache[float64]{}
	loss := func() float64 {
		n.forward(b, c, fwdOpts{dropout: p, rng: rand.New(rand.NewPCG(11, 12))})
		dl := make([]float64, b.G*2)
		return crossEntropy(c.Logits, 2, b.Label, b.W, dl)
	}
	loss()
	dl := make([]float64, b.G*2)
	crossEntropy(c.Logits, 2, b.Label, b.W, dl)
	grad := make([]float64, len(n.P))
	g := n.backward(c, dl, grad, bwdOpts{input: true, edges: true})

	num := numGrad(n.P, allIdx(len(n.P)), loss)
	for _, ts := range n.tensors {
		an, nu := grad[ts.Off:ts.Off+ts.Rows*ts.Cols], num[ts.Off:ts.Off+ts.Rows*ts.Cols]
		if allZero(an) && allZero(nu) {
			continue // relation unused by the tiny batch
		}
		check(t, "param "+ts.Name, an, nu)
	}
	check(t, "whole model, all params", grad, num)
	check(t, "input X", g.dX, numGrad(b.X, allIdx(len(b.X)), loss))

	// edges: scale every aggregation coefficient of one edge by (1±h)
	num = make([]float64, len(b.EdgeRef))
	saved := [NumRel][]float64{}
	for r := range b.coef {
		saved[r] = append([]float64(nil), b.coef[r]...)
	}
	for e := range num {
		scale := func(s float64) {
			for r := range b.Rel {
				for q, id := range b.Rel[r].Edge {
					if int(id) == e {
						b.coef[r][q] = saved[r][q] * s
					}
				}
			}
		}
		scale(1 + gcStep)
		fp := loss()
		scale(1 - gcStep)
		fm := loss()
		scale(1)
		num[e] = (fp - fm) / (2 * gcStep)
	}
	check(t, "edge gradient×input", g.edges, num)
}

// setBiases gives the biases non-zero values: with zero biases the empty
// graph's readout (0) sits exactly on a ReLU kink of the head, where central
// differences and the (one-sided) derivative legitimately disagree.
func setBiases(n *Net[float64]) {
	for i, bias := range n.biasMask() {
		if bias {
			n.P[i] = 0.05 + 0.01*float64(i%5)
		}
	}
}

func allZero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

// TestGradLayer checks one message-passing layer alone (with dropout), for
// both plan orders, against a random linear functional of its output.
func TestGradLayer(t *testing.T) {
	for _, force := range []string{"planned", "all-AT", "all-TA"} {
		b := tinyBatch(t, 5)
		for r := range b.Rel {
			switch force {
			case "all-AT":
				b.Rel[r].force = 1
			case "all-TA":
				b.Rel[r].force = 2
			}
		}
		n, _ := NewNet[float64](Arch{InDim: features.Dim, Hidden: 4, Layers: 1}, 9)
		setBiases(n)
		rng := rand.New(rand.NewPCG(1, 2))
		proj := make([]float64, b.N*4)
		for i := range proj {
			proj[i] = rng.NormFloat64()
		}
		c := &cache[float64]{layers: make([]layerCache[float64], 1)}
		f := func() float64 {
			n.layerForward(0, b, b.X, &c.layers[0], c, fwdOpts{dropout: 0.3, rng: rand.New(rand.NewPCG(4, 4))})
			return dot(c.layers[0].Out, proj)
		}
		f()
		grad := make([]float64, len(n.P))
		dIn := make([]float64, len(b.X))
		dOut := append([]float64(nil), proj...)
		n.layerBackward(0, b, &c.layers[0], c, dOut, dIn, grad, nil)
		check(t, "layer "+force+" params", grad, numGrad(n.P, allIdx(len(n.P)), f))
		check(t, "layer "+force+" input", dIn, numGrad(b.X, allIdx(len(b.X)), f))
	}
}

// TestGradReadout checks the mean+max readout alone.
func TestGradReadout(t *testing.T) {
	b := tinyBatch(t, 8)
	d := 3
	n := &Net[float64]{Arch: Arch{Hidden: d}}
	rng := rand.New(rand.NewPCG(3, 3))
	H := make([]float64, b.N*d)
	for i := range H {
		H[i] = rng.NormFloat64()
	}
	proj := make([]float64, b.G*2*d)
	for i := range proj {
		proj[i] = rng.NormFloat64()
	}
	c := &cache[float64]{}
	f := func() float64 { n.readout(b, H, c); return dot(c.R, proj) }
	f()
	// analytic: the readout part of backward
	dH := make([]float64, len(H))
	for g := 0; g < b.G; g++ {
		s, e := b.Off[g], b.Off[g+1]
		for i := s; i < e; i++ {
			for k := 0; k < d; k++ {
				dH[i*d+k] += proj[g*2*d+k] / float64(e-s)
			}
		}
		for k := 0; k < d; k++ {
			if i := c.argmax[g*d+k]; i >= 0 {
				dH[int(i)*d+k] += proj[g*2*d+d+k]
			}
		}
	}
	check(t, "readout mean+max", dH, numGrad(H, allIdx(len(H)), f))
}

// TestGradHead checks the MLP head and the cross-entropy alone: the
// gradient with respect to the readout.
func TestGradHead(t *testing.T) {
	b := tinyBatch(t, 9)
	n, _ := NewNet[float64](testArch(), 5)
	setBiases(n)
	c := &cache[float64]{}
	n.forward(b, c, fwdOpts{})
	f := func() float64 {
		n.headForward(c, fwdOpts{dropout: 0.25, rng: rand.New(rand.NewPCG(8, 8))})
		dl := make([]float64, b.G*2)
		return crossEntropy(c.Logits, 2, b.Label, b.W, dl)
	}
	f()
	dl := make([]float64, b.G*2)
	crossEntropy(c.Logits, 2, b.Label, b.W, dl)
	grad := make([]float64, len(n.P))
	// gradient w.r.t. R via a head-only backward
	n.backward(c, dl, grad, bwdOpts{})
	dR := append([]float64(nil), c.dB...)
	check(t, "head+CE dL/dreadout", dR, numGrad(c.R, allIdx(len(c.R)), f))
	hidx := allIdx(len(n.P))[n.w1:]
	an := make([]float64, len(hidx))
	for i, j := range hidx {
		an[i] = grad[j]
	}
	check(t, "head+CE params", an, numGrad(n.P, hidx, f))
}

// TestGradSVDD checks the one-class body: bias-free, no head, Deep SVDD
// loss mean ||r − c||².
func TestGradSVDD(t *testing.T) {
	b := tinyBatch(t, 10)
	old := gcStep
	gcStep = 1e-4 // piecewise quadratic: a larger step only cuts rounding error
	defer func() { gcStep = old }()
	a := Arch{InDim: features.Dim, Hidden: 4, Layers: 2, NoBias: true}
	n, _ := NewNet[float64](a, 6)
	centre := make([]float64, a.EmbedDim())
	for i := range centre {
		centre[i] = 0.1 * float64(i)
	}
	c := &cache[float64]{}
	f := func() float64 {
		n.forward(b, c, fwdOpts{})
		return svddLoss(c.R, a.EmbedDim(), centre, make([]float64, len(c.R)))
	}
	f()
	dR := make([]float64, len(c.R))
	svddLoss(c.R, a.EmbedDim(), centre, dR)
	grad := make([]float64, len(n.P))
	g := n.backward(c, dR, grad, bwdOpts{input: true})
	check(t, "svdd body params", grad, numGrad(n.P, allIdx(len(n.P)), f))
	check(t, "svdd input X", g.dX, numGrad(b.X, allIdx(len(b.X)), f))
}

package gnn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Arch is the shape of a network.
//
// The body is Layers relation-aware message-passing layers (R-GCN):
//
//	h'_i = ReLU( W_self·h_i + Σ_r mean_{j∈N_r(i)} W_r·h_j + b )
//
// over NumRel relations (every edge kind, both directions), with inverted
// dropout on each layer's output in training. The readout of a graph is
// [mean_i h_i, max_i h_i] (2·Hidden). With HeadHidden > 0 an MLP head
// follows: logits = W2·Dropout(ReLU(W1·r + b1)) + b2 over Classes classes
// (softmax). With HeadHidden == 0 the network ends at the readout (the
// one-class embedding). NoBias keeps every bias at zero (Deep SVDD needs a
// bias-free network so that it cannot map everything onto its centre).
type Arch struct {
	InDim      int  `json:"in_dim"`
	Hidden     int  `json:"hidden"`
	Layers     int  `json:"layers"`
	HeadHidden int  `json:"head_hidden"`
	Classes    int  `json:"classes"`
	NoBias     bool `json:"no_bias"`
}

func (a Arch) validate() error {
	if a.InDim < 1 || a.InDim > 1<<16 || a.Hidden < 1 || a.Hidden > 4096 ||
		a.Layers < 1 || a.Layers > 8 || a.HeadHidden < 0 || a.HeadHidden > 4096 ||
		(a.HeadHidden > 0 && (a.Classes < 2 || a.Classes > 64)) {
		return fmt.Errorf("gnn: invalid architecture %+v", a)
	}
	return nil
}

// EmbedDim is the readout width.
func (a Arch) EmbedDim() int { return 2 * a.Hidden }

// tensor is one named parameter block inside Net.P.
type tensor struct {
	Name       string
	Rows, Cols int
	Off        int
	Bias       bool
}

type layerIdx struct {
	din, dout int
	self      int
	rel       [NumRel]int
	bias      int
}

// Net holds the parameters of a network in one flat slice (P) so that
// optimiser, serialisation and gradient checks treat them uniformly.
type Net[T Float] struct {
	Arch    Arch
	P       []T
	tensors []tensor
	lay     []layerIdx
	w1, b1  int
	w2, b2  int
}

func layout(a Arch) ([]tensor, []layerIdx, [4]int, int) {
	var ts []tensor
	off := 0
	add := func(name string, r, c int, bias bool) int {
		ts = append(ts, tensor{Name: name, Rows: r, Cols: c, Off: off, Bias: bias})
		off += r * c
		return ts[len(ts)-1].Off
	}
	lay := make([]layerIdx, a.Layers)
	din := a.InDim
	for l := 0; l < a.Layers; l++ {
		li := layerIdx{din: din, dout: a.Hidden}
		li.self = add(fmt.Sprintf("layer%d.self", l), din, a.Hidden, false)
		for r := 0; r < NumRel; r++ {
			li.rel[r] = add(fmt.Sprintf("layer%d.rel%d", l, r), din, a.Hidden, false)
		}
		li.bias = add(fmt.Sprintf("layer%d.bias", l), 1, a.Hidden, true)
		lay[l] = li
		din = a.Hidden
	}
	var head [4]int
	if a.HeadHidden > 0 {
		head[0] = add("head.w1", a.EmbedDim(), a.HeadHidden, false)
		head[1] = add("head.b1", 1, a.HeadHidden, true)
		head[2] = add("head.w2", a.HeadHidden, a.Classes, false)
		head[3] = add("head.b2", 1, a.Classes, true)
	}
	return ts, lay, head, off
}

// NewNet returns a network with Glorot-uniform weights drawn from a PCG
// generator seeded with seed, and zero biases. The draws are made in float64
// and converted, so a float32 and a float64 net from one seed agree.
func NewNet[T Float](a Arch, seed uint64) (*Net[T], error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	n := newNetShape[T](a)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for _, t := range n.tensors {
		if t.Bias {
			continue
		}
		lim := math.Sqrt(6 / float64(t.Rows+t.Cols))
		for i := t.Off; i < t.Off+t.Rows*t.Cols; i++ {
			n.P[i] = T((2*rng.Float64() - 1) * lim)
		}
	}
	return n, nil
}

func newNetShape[T Float](a Arch) *Net[T] {
	ts, lay, head, total := layout(a)
	return &Net[T]{Arch: a, P: make([]T, total), tensors: ts, lay: lay,
		w1: head[0], b1: head[1], w2: head[2], b2: head[3]}
}

// NumParams is the number of scalar parameters.
func (n *Net[T]) NumParams() int { return len(n.P) }

// isBias reports for every parameter whether it is a bias (no weight decay;
// frozen at zero with NoBias).
func (n *Net[T]) biasMask() []bool {
	m := make([]bool, len(n.P))
	for _, t := range n.tensors {
		if t.Bias {
			for i := t.Off; i < t.Off+t.Rows*t.Cols; i++ {
				m[i] = true
			}
		}
	}
	return m
}

// FLOPs is the nominal floating-point operation count of one forward pass
// over a graph of the given size, counting a multiply-add as 2: per layer
// the self transform 2·N·din·dout, one transformed row per edge and
// direction 2·(2E)·din·dout (the textbook R-GCN count, an upper bound of
// what the compact plans do), the mean aggregation 2·(2E)·din, and the
// readout and head. ExactFLOPs gives the count of a packed batch.
func (n *Net[T]) FLOPs(nodes, edges int) int64 {
	N, E := int64(nodes), int64(edges)
	var f int64
	for _, l := range n.lay {
		din, dout := int64(l.din), int64(l.dout)
		f += 2*N*din*dout + 2*(2*E)*din*dout + 2*(2*E)*din
	}
	f += 2 * N * int64(n.Arch.Hidden) // readout
	if n.Arch.HeadHidden > 0 {
		f += 2*int64(n.Arch.EmbedDim())*int64(n.Arch.HeadHidden) + 2*int64(n.Arch.HeadHidden)*int64(n.Arch.Classes)
	}
	return f
}

// ExactFLOPs counts the dense work of a forward pass over b as this
// package plans it (per relation and layer, the order useAT picks).
func (n *Net[T]) ExactFLOPs(b *Batch[T]) int64 {
	var f int64
	N := int64(b.N)
	for _, l := range n.lay {
		din, dout := int64(l.din), int64(l.dout)
		f += 2 * N * din * dout
		for r := range b.Rel {
			p := &b.Rel[r]
			if len(p.Col) == 0 {
				continue
			}
			nnz := int64(len(p.Col))
			if b.useAT(r, int(din), int(dout)) {
				f += 2*int64(len(p.Recv))*din*dout + 2*nnz*din
			} else {
				f += 2*int64(len(p.Send))*din*dout + 2*nnz*dout
			}
		}
	}
	f += 2 * N * int64(n.Arch.Hidden)
	if n.Arch.HeadHidden > 0 {
		f += int64(b.G) * (2*int64(n.Arch.EmbedDim())*int64(n.Arch.HeadHidden) + 2*int64(n.Arch.HeadHidden)*int64(n.Arch.Classes))
	}
	return f
}

package gnn

import (
	"math"
	"math/rand/v2"
)

type layerCache[T Float] struct {
	H    []T // input, N×din (not owned)
	Z    []T // pre-activation, N×dout
	Out  []T // output after ReLU and dropout, N×dout
	mask []T // dropout scale per element (0 or 1/(1-p)); nil without dropout
	G    [NumRel][]T
	M    [NumRel][]T
	at   [NumRel]bool // evaluation order used per relation
}

// cache holds the activations of one forward pass for the backward pass,
// and scratch buffers reused across passes.
type cache[T Float] struct {
	b      *Batch[T]
	layers []layerCache[T]
	R      []T     // G×2d readout
	argmax []int32 // G×d
	U      []T     // G×dh
	V      []T     // G×dh after ReLU and dropout
	vmask  []T
	Logits []T // G×C
	// scratch
	tmp, tmp2 []T
	dA, dB    []T
}

// fwdOpts controls a forward pass.
type fwdOpts struct {
	dropout float64    // 0 in inference
	rng     *rand.Rand // dropout masks, drawn in a fixed order
}

func (n *Net[T]) forward(b *Batch[T], c *cache[T], o fwdOpts) {
	c.b = b
	if len(c.layers) != len(n.lay) {
		c.layers = make([]layerCache[T], len(n.lay))
	}
	H := b.X
	for l := range n.lay {
		n.layerForward(l, b, H, &c.layers[l], c, o)
		H = c.layers[l].Out
	}
	n.readout(b, H, c)
	if n.Arch.HeadHidden > 0 {
		n.headForward(c, o)
	}
}

func dropMask[T Float](mask []T, p float64, rng *rand.Rand) {
	keep := T(1 / (1 - p))
	for i := range mask {
		if rng.Float64() < p {
			mask[i] = 0
		} else {
			mask[i] = keep
		}
	}
}

func (n *Net[T]) layerForward(l int, b *Batch[T], H []T, lc *layerCache[T], c *cache[T], o fwdOpts) {
	li := n.lay[l]
	din, dout, N := li.din, li.dout, b.N
	lc.H = H
	Z := grow(lc.Z, N*dout)
	if !n.Arch.NoBias {
		bias := n.P[li.bias : li.bias+dout]
		for i := 0; i < N; i++ {
			copy(Z[i*dout:(i+1)*dout], bias)
		}
	}
	gemm(false, false, N, dout, din, 1, H, din, n.P[li.self:], dout, 1, Z, dout)
	for r := range b.Rel {
		p := &b.Rel[r]
		if len(p.Col) == 0 {
			continue
		}
		W := n.P[li.rel[r]:]
		coef := b.coef[r]
		lc.at[r] = b.useAT(r, din, dout)
		if lc.at[r] {
			nR := len(p.Recv)
			G := grow(lc.G[r], nR*din)
			for i := 0; i < nR; i++ {
				row := G[i*din : (i+1)*din]
				for q := p.RowPtr[i]; q < p.RowPtr[i+1]; q++ {
					j := int(p.Send[p.Col[q]])
					axpy(coef[q], H[j*din:(j+1)*din], row)
				}
			}
			lc.G[r] = G
			c.tmp = grow(c.tmp, nR*dout)
			gemm(false, false, nR, dout, din, 1, G, din, W, dout, 0, c.tmp, dout)
			for i, v := range p.Recv {
				axpy(1, c.tmp[i*dout:(i+1)*dout], Z[int(v)*dout:(int(v)+1)*dout])
			}
		} else {
			nS := len(p.Send)
			G := grow(lc.G[r], nS*din)
			for j, v := range p.Send {
				copy(G[j*din:(j+1)*din], H[int(v)*din:(int(v)+1)*din])
			}
			lc.G[r] = G
			M := grow(lc.M[r], nS*dout)
			gemm(false, false, nS, dout, din, 1, G, din, W, dout, 0, M, dout)
			lc.M[r] = M
			for i, v := range p.Recv {
				zrow := Z[int(v)*dout : (int(v)+1)*dout]
				for q := p.RowPtr[i]; q < p.RowPtr[i+1]; q++ {
					k := int(p.Col[q])
					axpy(coef[q], M[k*dout:(k+1)*dout], zrow)
				}
			}
		}
	}
	lc.Z = Z
	out := grow(lc.Out, N*dout)
	for i, z := range Z {
		if z > 0 {
			out[i] = z
		}
	}
	if o.dropout > 0 {
		lc.mask = grow(lc.mask, N*dout)
		dropMask(lc.mask, o.dropout, o.rng)
		for i := range out {
			out[i] *= lc.mask[i]
		}
	} else {
		lc.mask = nil
	}
	lc.Out = out
}

func (n *Net[T]) readout(b *Batch[T], H []T, c *cache[T]) {
	d := n.Arch.Hidden
	c.R = grow(c.R, b.G*2*d)
	if cap(c.argmax) >= b.G*d {
		c.argmax = c.argmax[:b.G*d]
	} else {
		c.argmax = make([]int32, b.G*d)
	}
	for g := 0; g < b.G; g++ {
		s, e := b.Off[g], b.Off[g+1]
		mean := c.R[g*2*d : g*2*d+d]
		mx := c.R[g*2*d+d : (g+1)*2*d]
		am := c.argmax[g*d : (g+1)*d]
		if e == s {
			for k := range am {
				am[k] = -1
			}
			continue
		}
		copy(mx, H[s*d:(s+1)*d])
		for k := range am {
			am[k] = int32(s)
		}
		for i := s; i < e; i++ {
			row := H[i*d : (i+1)*d]
			axpy(1, row, mean)
			if i == s {
				continue
			}
			for k, v := range row {
				if v > mx[k] {
					mx[k] = v
					am[k] = int32(i)
				}
			}
		}
		inv := 1 / T(e-s)
		for k := range mean {
			mean[k] *= inv
		}
	}
}

func (n *Net[T]) headForward(c *cache[T], o fwdOpts) {
	G, e, h, C := c.b.G, n.Arch.EmbedDim(), n.Arch.HeadHidden, n.Arch.Classes
	c.U = grow(c.U, G*h)
	if !n.Arch.NoBias {
		for g := 0; g < G; g++ {
			copy(c.U[g*h:(g+1)*h], n.P[n.b1:n.b1+h])
		}
	}
	gemm(false, false, G, h, e, 1, c.R, e, n.P[n.w1:], h, 1, c.U, h)
	c.V = grow(c.V, G*h)
	for i, u := range c.U {
		if u > 0 {
			c.V[i] = u
		}
	}
	if o.dropout > 0 {
		c.vmask = grow(c.vmask, G*h)
		dropMask(c.vmask, o.dropout, o.rng)
		for i := range c.V {
			c.V[i] *= c.vmask[i]
		}
	} else {
		c.vmask = nil
	}
	c.Logits = grow(c.Logits, G*C)
	if !n.Arch.NoBias {
		for g := 0; g < G; g++ {
			copy(c.Logits[g*C:(g+1)*C], n.P[n.b2:n.b2+C])
		}
	}
	gemm(false, false, G, C, h, 1, c.V, h, n.P[n.w2:], C, 1, c.Logits, C)
}

// softmax returns the class probabilities of logits row g.
func softmaxRow[T Float](logits []T, dst []float64) {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	var s float64
	for i, v := range logits {
		dst[i] = math.Exp(float64(v) - m)
		s += dst[i]
	}
	for i := range dst {
		dst[i] /= s
	}
}

// crossEntropy returns the weighted mean cross-entropy of the logits
// (G×C) against labels and writes dL/dlogits into dlogits.
func crossEntropy[T Float](logits []T, C int, labels []int, w []T, dlogits []T) float64 {
	G := len(labels)
	var wsum float64
	for g := 0; g < G; g++ {
		wsum += float64(w[g])
	}
	if wsum == 0 {
		clear(dlogits)
		return 0
	}
	p := make([]float64, C)
	var loss float64
	for g := 0; g < G; g++ {
		softmaxRow(logits[g*C:(g+1)*C], p)
		wg := float64(w[g]) / wsum
		loss -= wg * math.Log(math.Max(p[labels[g]], 1e-300))
		for k := 0; k < C; k++ {
			t := 0.0
			if k == labels[g] {
				t = 1
			}
			dlogits[g*C+k] = T(wg * (p[k] - t))
		}
	}
	return loss
}

// svddLoss returns mean_g ||r_g − centre||² and writes dL/dR.
func svddLoss[T Float](R []T, d2 int, centre []T, dR []T) float64 {
	G := len(R) / d2
	if G == 0 {
		return 0
	}
	var loss float64
	for g := 0; g < G; g++ {
		for k := 0; k < d2; k++ {
			diff := R[g*d2+k] - centre[k]
			loss += float64(diff * diff)
			dR[g*d2+k] = 2 * diff / T(G)
		}
	}
	return loss / float64(G)
}

package gnn

// bwdOpts asks the backward pass for more than parameter gradients.
type bwdOpts struct {
	input bool // compute dL/dX into dX
	edges bool // accumulate Σ coef·dL/dcoef per batch edge (gradient×input of an edge mask)
}

// grads is what a backward pass returns beside the parameter gradient.
type grads[T Float] struct {
	dX    []T // N×InDim, when asked
	edges []T // per batch edge id, when asked
}

// backward propagates dTop (dL/dlogits, G×Classes, for a net with a head;
// dL/dreadout, G×2·Hidden, without) to the parameter gradient grad (added
// to, same layout as P) and, when asked, to the inputs and edges.
func (n *Net[T]) backward(c *cache[T], dTop []T, grad []T, o bwdOpts) grads[T] {
	b := c.b
	G, d := b.G, n.Arch.Hidden
	var out grads[T]
	dR := dTop
	if n.Arch.HeadHidden > 0 {
		h, C, e := n.Arch.HeadHidden, n.Arch.Classes, n.Arch.EmbedDim()
		dL := dTop
		// logits = V·W2 + b2
		gemm(true, false, h, C, G, 1, c.V, h, dL, C, 1, grad[n.w2:], C)
		if !n.Arch.NoBias {
			gb := grad[n.b2 : n.b2+C]
			for g := 0; g < G; g++ {
				axpy(1, dL[g*C:(g+1)*C], gb)
			}
		}
		dV := grow(c.dA, G*h)
		gemm(false, true, G, h, C, 1, dL, C, n.P[n.w2:], C, 0, dV, h)
		for i := range dV {
			if c.vmask != nil {
				dV[i] *= c.vmask[i]
			}
			if c.U[i] <= 0 {
				dV[i] = 0
			}
		}
		c.dA = dV
		gemm(true, false, e, h, G, 1, c.R, e, dV, h, 1, grad[n.w1:], h)
		if !n.Arch.NoBias {
			gb := grad[n.b1 : n.b1+h]
			for g := 0; g < G; g++ {
				axpy(1, dV[g*h:(g+1)*h], gb)
			}
		}
		dR = grow(c.dB, G*e)
		gemm(false, true, G, e, h, 1, dV, h, n.P[n.w1:], h, 0, dR, e)
		c.dB = dR
	}
	// readout
	dH := make([]T, b.N*d)
	for g := 0; g < G; g++ {
		s, e := b.Off[g], b.Off[g+1]
		if e == s {
			continue
		}
		dmean := dR[g*2*d : g*2*d+d]
		dmax := dR[g*2*d+d : (g+1)*2*d]
		inv := 1 / T(e-s)
		for i := s; i < e; i++ {
			axpy(inv, dmean, dH[i*d:(i+1)*d])
		}
		am := c.argmax[g*d : (g+1)*d]
		for k, i := range am {
			dH[int(i)*d+k] += dmax[k]
		}
	}
	if o.edges {
		out.edges = make([]T, len(b.EdgeRef))
	}
	for l := len(n.lay) - 1; l >= 0; l-- {
		var dIn []T
		if l > 0 || o.input {
			dIn = make([]T, b.N*n.lay[l].din)
		}
		n.layerBackward(l, b, &c.layers[l], c, dH, dIn, grad, out.edges)
		dH = dIn
	}
	if o.input {
		out.dX = dH
	}
	return out
}

func (n *Net[T]) layerBackward(l int, b *Batch[T], lc *layerCache[T], c *cache[T], dOut, dIn, grad, edges []T) {
	li := n.lay[l]
	din, dout, N := li.din, li.dout, b.N
	H := lc.H
	// dZ = dOut ⊙ mask ⊙ [Z > 0], in place in dOut (owned by the caller).
	dZ := dOut
	for i, z := range lc.Z {
		if z <= 0 {
			dZ[i] = 0
		} else if lc.mask != nil {
			dZ[i] *= lc.mask[i]
		}
	}
	if !n.Arch.NoBias {
		gb := grad[li.bias : li.bias+dout]
		for i := 0; i < N; i++ {
			axpy(1, dZ[i*dout:(i+1)*dout], gb)
		}
	}
	gemm(true, false, din, dout, N, 1, H, din, dZ, dout, 1, grad[li.self:], dout)
	if dIn != nil {
		gemm(false, true, N, din, dout, 1, dZ, dout, n.P[li.self:], dout, 0, dIn, din)
	}
	needIn := dIn != nil || edges != nil
	for r := range b.Rel {
		p := &b.Rel[r]
		if len(p.Col) == 0 {
			continue
		}
		W := n.P[li.rel[r]:]
		gW := grad[li.rel[r]:]
		coef := b.coef[r]
		if lc.at[r] {
			nR := len(p.Recv)
			dT := grow(c.tmp, nR*dout)
			for i, v := range p.Recv {
				copy(dT[i*dout:(i+1)*dout], dZ[int(v)*dout:(int(v)+1)*dout])
			}
			c.tmp = dT
			gemm(true, false, din, dout, nR, 1, lc.G[r], din, dT, dout, 1, gW, dout)
			if !needIn {
				continue
			}
			dG := grow(c.tmp2, nR*din)
			gemm(false, true, nR, din, dout, 1, dT, dout, W, dout, 0, dG, din)
			c.tmp2 = dG
			for i := 0; i < nR; i++ {
				dg := dG[i*din : (i+1)*din]
				for q := p.RowPtr[i]; q < p.RowPtr[i+1]; q++ {
					j := int(p.Send[p.Col[q]])
					if dIn != nil {
						axpy(coef[q], dg, dIn[j*din:(j+1)*din])
					}
					if edges != nil {
						edges[p.Edge[q]] += coef[q] * dot(dg, H[j*din:(j+1)*din])
					}
				}
			}
		} else {
			nS := len(p.Send)
			dM := grow(c.tmp, nS*dout)
			for i, v := range p.Recv {
				dz := dZ[int(v)*dout : (int(v)+1)*dout]
				for q := p.RowPtr[i]; q < p.RowPtr[i+1]; q++ {
					k := int(p.Col[q])
					axpy(coef[q], dz, dM[k*dout:(k+1)*dout])
					if edges != nil {
						edges[p.Edge[q]] += coef[q] * dot(dz, lc.M[r][k*dout:(k+1)*dout])
					}
				}
			}
			c.tmp = dM
			gemm(true, false, din, dout, nS, 1, lc.G[r], din, dM, dout, 1, gW, dout)
			if dIn == nil {
				continue
			}
			dHs := grow(c.tmp2, nS*din)
			gemm(false, true, nS, din, dout, 1, dM, dout, W, dout, 0, dHs, din)
			c.tmp2 = dHs
			for j, v := range p.Send {
				axpy(1, dHs[j*din:(j+1)*din], dIn[int(v)*din:(int(v)+1)*din])
			}
		}
	}
}

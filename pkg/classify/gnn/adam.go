package gnn

import "math"

// adam is Adam with decoupled weight decay (AdamW, Loshchilov & Hutter):
// p ← p − lr·( m̂/(√v̂+ε) + wd·p ), with no decay on biases; with frozen
// biases (NoBias) they are not updated at all. The moments are kept in
// float64 whatever the parameter type, and updates run in a fixed order, so
// training is reproducible bit for bit.
type adam struct {
	lr, b1, b2, eps, wd float64
	t                   int
	m, v                []float64
	bias                []bool
	freezeBias          bool
}

func newAdam(n int, bias []bool, lr, wd float64, freezeBias bool) *adam {
	return &adam{lr: lr, b1: 0.9, b2: 0.999, eps: 1e-8, wd: wd,
		m: make([]float64, n), v: make([]float64, n), bias: bias, freezeBias: freezeBias}
}

// step applies one update from grad (not modified).
func step[T Float](a *adam, p, grad []T) {
	a.t++
	c1 := 1 - math.Pow(a.b1, float64(a.t))
	c2 := 1 - math.Pow(a.b2, float64(a.t))
	for i, gv := range grad {
		if a.bias[i] && a.freezeBias {
			continue
		}
		g := float64(gv)
		a.m[i] = a.b1*a.m[i] + (1-a.b1)*g
		a.v[i] = a.b2*a.v[i] + (1-a.b2)*g*g
		upd := (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + a.eps)
		if !a.bias[i] {
			upd += a.wd * float64(p[i])
		}
		p[i] = T(float64(p[i]) - a.lr*upd)
	}
}

// clipNorm scales g to global L2 norm at most maxNorm (no-op when 0) and
// returns the norm before clipping.
func clipNorm[T Float](g []T, maxNorm float64) float64 {
	var s float64
	for _, v := range g {
		s += float64(v) * float64(v)
	}
	n := math.Sqrt(s)
	if maxNorm > 0 && n > maxNorm {
		f := T(maxNorm / n)
		for i := range g {
			g[i] *= f
		}
	}
	return n
}

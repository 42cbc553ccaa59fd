package gnn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// Float is the element type of a network: float32 for training and
// inference, float64 for the gradient checks. Both run the same code; only
// the GEMM call differs (blas32.Gemm / blas64.Gemm).
type Float interface{ ~float32 | ~float64 }

func tr(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices with
// op(A) m×k, op(B) k×n and C m×n (leading dimensions lda, ldb, ldc).
func gemm[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	switch av := any(a).(type) {
	case []float32:
		blas32.Gemm(tr(tA), tr(tB), float32(alpha),
			blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: av},
			blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: any(b).([]float32)},
			float32(beta),
			blas32.General{Rows: m, Cols: n, Stride: ldc, Data: any(c).([]float32)})
	case []float64:
		blas64.Gemm(tr(tA), tr(tB), float64(alpha),
			blas64.General{Rows: ar, Cols: ac, Stride: lda, Data: av},
			blas64.General{Rows: br, Cols: bc, Stride: ldb, Data: any(b).([]float64)},
			float64(beta),
			blas64.General{Rows: m, Cols: n, Stride: ldc, Data: any(c).([]float64)})
	default:
		panic("gnn: unsupported element type")
	}
}

var (
	impl32 = blas32.Implementation()
	impl64 = blas64.Implementation()
)

// axpy computes y += a·x (gonum's SIMD kernel for rows of 16 or more).
func axpy[T Float](a T, x, y []T) {
	if len(x) >= 16 {
		switch xv := any(x).(type) {
		case []float32:
			impl32.Saxpy(len(x), float32(a), xv, 1, any(y).([]float32), 1)
			return
		case []float64:
			impl64.Daxpy(len(x), float64(a), xv, 1, any(y).([]float64), 1)
			return
		}
	}
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

func dot[T Float](x, y []T) T {
	y = y[:len(x)]
	var s T
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

// grow returns a slice of length n reusing buf when it is large enough; the
// contents are zeroed.
func grow[T Float](buf []T, n int) []T {
	if cap(buf) >= n {
		buf = buf[:n]
		clear(buf)
		return buf
	}
	return make([]T, n)
}

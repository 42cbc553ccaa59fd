package gnn

import (
	"github.com/faasmon/faasmon/pkg/classify/features"
)

// NumRel is the number of relations of the message passing: every edge kind
// in both directions. Relation 2k carries messages along edges of kind k
// (source → destination: the destination aggregates its sources), relation
// 2k+1 against them (the source aggregates its destinations).
const NumRel = 2 * features.NumRelKindConst

// relPlan is one relation over a packed batch in compact form: the nodes
// that receive at least one message (Recv), the nodes that send at least one
// (Send), and the mean-aggregation matrix A (|Recv|×|Send|, CSR) with
// A[i][j] = 1/deg_r(Recv[i]).
//
// Two equivalent evaluation orders are used, whichever costs less (useAT):
// aggregate-then-transform (AT, |Recv| rows: G = A·H[Send], out[Recv] += G·W)
// or transform-then-aggregate (TA, |Send| rows: M = H[Send]·W,
// out[Recv] += A·M). Provenance graphs are star-like around a few processes,
// so min(|Recv|, |Send|) is usually far below the edge count.
type relPlan struct {
	Recv   []int32
	Send   []int32
	RowPtr []int32 // len |Recv|+1
	Col    []int32 // index into Send
	Edge   []int32 // batch-global edge id (see Batch.EdgeRef) per entry
	// force fixes the evaluation order (tests): 0 cost model, 1 AT, 2 TA.
	force int8
}

// useAT decides the evaluation order of relation r for a din→dout layer
// by operation count: AT costs |Recv|·din·dout GEMM plus nnz·din
// aggregation, TA |Send|·din·dout plus nnz·dout. On the wide, sparse input
// layer this usually picks TA (aggregating 112-wide rows is the expensive
// part); on hidden layers the smaller of |Recv| and |Send| wins.
func (b *Batch[T]) useAT(r, din, dout int) bool {
	p := &b.Rel[r]
	switch p.force {
	case 1:
		return true
	case 2:
		return false
	}
	nnz := len(p.Col)
	at := len(p.Recv)*din*dout + nnz*din
	ta := len(p.Send)*din*dout + nnz*dout + len(p.Send)*din // + gather
	return at < ta
}

// Batch is a mini-batch of graphs packed block-diagonally: node rows of all
// graphs are stacked, and every relation's adjacency is one sparse matrix
// over the stacked nodes.
type Batch[T Float] struct {
	N     int
	G     int
	X     []T   // N×features.Dim
	Off   []int // len G+1: graph g owns node rows [Off[g], Off[g+1])
	Label []int // per graph: 1 attack, 0 benign (training only)
	W     []T   // per graph loss weight (training only)
	Rel   [NumRel]relPlan
	// EdgeRef maps a batch-global edge id to (graph, index in Graph.Edges).
	EdgeRef [][2]int32
	// aggregation weights per entry, per relation (1/deg of the receiver)
	coef [NumRel][]T
}

// Pack builds a batch from feature graphs.
func Pack[T Float](gs []*features.Graph) *Batch[T] {
	b := &Batch[T]{G: len(gs), Off: make([]int, len(gs)+1)}
	for i, g := range gs {
		b.Off[i+1] = b.Off[i] + g.N
	}
	b.N = b.Off[len(gs)]
	b.X = make([]T, b.N*features.Dim)
	for i, g := range gs {
		dst := b.X[b.Off[i]*features.Dim : b.Off[i+1]*features.Dim]
		for j, v := range g.X {
			dst[j] = T(v)
		}
	}
	for k := 0; k < features.NumRelKindConst; k++ {
		var ents []edgeEnt
		for gi, g := range gs {
			a := &g.Adj[k]
			base := int32(b.Off[gi])
			for s := 0; s < g.N; s++ {
				for p := a.RowPtr[s]; p < a.RowPtr[s+1]; p++ {
					id := int32(len(b.EdgeRef))
					b.EdgeRef = append(b.EdgeRef, [2]int32{int32(gi), a.Edge[p]})
					ents = append(ents, edgeEnt{base + int32(s), base + a.Col[p], id})
				}
			}
		}
		// forward: receiver = dst; reverse: receiver = src.
		for dir := 0; dir < 2; dir++ {
			r := 2*k + dir
			recvOf := func(e edgeEnt) int32 { return e.dst }
			sendOf := func(e edgeEnt) int32 { return e.src }
			if dir == 1 {
				recvOf, sendOf = sendOf, recvOf
			}
			b.Rel[r], b.coef[r] = buildPlan[T](b.N, ents, recvOf, sendOf)
		}
	}
	return b
}

type edgeEnt struct{ src, dst, edge int32 }

func buildPlan[T Float](n int, ents []edgeEnt, recvOf, sendOf func(edgeEnt) int32) (relPlan, []T) {
	var p relPlan
	if len(ents) == 0 {
		return p, nil
	}
	deg := make([]int32, n)
	sendIdx := make([]int32, n)
	for i := range sendIdx {
		sendIdx[i] = -1
	}
	for _, e := range ents {
		deg[recvOf(e)]++
		sendIdx[sendOf(e)] = 0
	}
	for v := 0; v < n; v++ {
		if sendIdx[v] == 0 {
			sendIdx[v] = int32(len(p.Send))
			p.Send = append(p.Send, int32(v))
		}
	}
	recvIdx := make([]int32, n)
	p.RowPtr = []int32{0}
	for v := 0; v < n; v++ {
		if deg[v] > 0 {
			recvIdx[v] = int32(len(p.Recv))
			p.Recv = append(p.Recv, int32(v))
			p.RowPtr = append(p.RowPtr, p.RowPtr[len(p.RowPtr)-1]+deg[v])
		}
	}
	fill := make([]int32, len(p.Recv))
	copy(fill, p.RowPtr[:len(p.Recv)])
	p.Col = make([]int32, len(ents))
	p.Edge = make([]int32, len(ents))
	coef := make([]T, len(ents))
	// ents are ordered by (src, dst); entries within a row keep that order,
	// which is deterministic.
	for _, e := range ents {
		ri := recvIdx[recvOf(e)]
		q := fill[ri]
		fill[ri]++
		p.Col[q] = sendIdx[sendOf(e)]
		p.Edge[q] = e.edge
		coef[q] = 1 / T(deg[recvOf(e)])
	}
	return p, coef
}

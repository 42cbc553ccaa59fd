package gnn

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/classify/features"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// benchModel is an untrained model of the default architecture (timing does
// not depend on the weights' values beyond ReLU sparsity).
func benchModel(b *testing.B) *Model {
	cfg := DefaultTrainConfig()
	arch := Arch{InDim: features.Dim, Hidden: cfg.Hidden, Layers: cfg.Layers, HeadHidden: cfg.HeadHidden, Classes: 2}
	sup, err := NewNet[float32](arch, 1)
	if err != nil {
		b.Fatal(err)
	}
	ocArch := Arch{InDim: features.Dim, Hidden: cfg.Hidden, Layers: cfg.Layers, NoBias: true}
	oc, _ := NewNet[float32](ocArch, 2)
	e := ocArch.EmbedDim()
	st := &OneClassStats{Arch: ocArch, Centre: make([]float32, e), Threshold: 3,
		Global: Centroid{Mean: make([]float32, e), Scale: 1, N: 1}}
	return &Model{Meta: Meta{FeatureSchema: features.SchemaVersion, FeatureDim: features.Dim, NumRel: NumRel,
		Arch: arch, Threshold: 0.5}, sup: sup, oc: oc, OneClass: st}
}

func p50(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Nanoseconds())
}

// BenchmarkInfer: one graph of 100, 1,000 and 10,000 nodes (mean degree
// ~3). "model" is both networks' forward pass on a packed graph (what the
// FLOP count covers); "classify" is Model.Classify end to end (features,
// packing, both nets, no explanation); "explain" adds the explanation.
// Run with -cpu 1 for the one-core figures.
func BenchmarkInfer(b *testing.B) {
	m := benchModel(b)
	for _, n := range []int{100, 1000, 10000} {
		g := SyntheticGraph(rand.New(rand.NewPCG(uint64(n), 1)), n, true)
		f, err := features.Extract(g)
		if err != nil {
			b.Fatal(err)
		}
		bt := Pack[float32]([]*features.Graph{f})
		flops := m.sup.ExactFLOPs(bt) + m.oc.ExactFLOPs(bt)
		nominal := m.sup.FLOPs(n, len(g.Edges)) + m.oc.FLOPs(n, len(g.Edges))
		b.Run(fmt.Sprintf("model/nodes=%d", n), func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t := time.Now()
				m.scoreBatch(bt, []string{g.Function})
				ds = append(ds, time.Since(t))
			}
			b.ReportMetric(p50(ds), "p50-ns")
			b.ReportMetric(float64(flops), "flop/op")
			b.ReportMetric(float64(nominal), "nominal-flop/op")
			b.ReportMetric(float64(len(g.Edges)), "edges")
		})
		b.Run(fmt.Sprintf("classify/nodes=%d", n), func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t := time.Now()
				if _, err := m.Classify(g, Options{TopK: -1}); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t))
			}
			b.ReportMetric(p50(ds), "p50-ns")
		})
		b.Run(fmt.Sprintf("explain/nodes=%d", n), func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t := time.Now()
				if _, err := m.Classify(g, Options{TopK: 5}); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t))
			}
			b.ReportMetric(p50(ds), "p50-ns")
		})
	}
}

// BenchmarkBatchThroughput: 64 graphs of 50–300 nodes per ClassifyBatch call.
func BenchmarkBatchThroughput(b *testing.B) {
	m := benchModel(b)
	rng := rand.New(rand.NewPCG(7, 7))
	var gs []*provenance.Graph
	var fs []*features.Graph
	nodes, edges := 0, 0
	for i := 0; i < 64; i++ {
		g := SyntheticGraph(rng, 50+rng.IntN(250), i%4 == 0)
		f, _ := features.Extract(g)
		gs, fs = append(gs, g), append(fs, f)
		nodes += len(g.Nodes)
		edges += len(g.Edges)
	}
	bt := Pack[float32](fs)
	flops := m.sup.ExactFLOPs(bt) + m.oc.ExactFLOPs(bt)
	b.Run("model", func(b *testing.B) {
		for b.Loop() {
			m.scoreBatch(bt, nil)
		}
		b.ReportMetric(float64(len(gs))*float64(b.N)/b.Elapsed().Seconds(), "graphs/s")
		b.ReportMetric(float64(flops), "flop/op")
	})
	b.Run("classify", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.ClassifyBatch(gs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(gs))*float64(b.N)/b.Elapsed().Seconds(), "graphs/s")
		b.ReportMetric(float64(nodes)/float64(len(gs)), "nodes/graph")
	})
}

// BenchmarkTrainEpoch: one supervised epoch (forward, backward, AdamW) over
// 256 graphs of 20–80 nodes, batch 32, default architecture.
func BenchmarkTrainEpoch(b *testing.B) {
	ex := synthExamples(b, 11, 256)
	cfg := DefaultTrainConfig()
	cfg.Epochs, cfg.OneClassEpochs, cfg.Patience = 1, -1, 100
	var nodes int
	for _, e := range ex {
		nodes += e.Feat.N
	}
	for b.Loop() {
		if _, err := Train(cfg, ex, ex[:1]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ex)), "graphs/epoch")
	b.ReportMetric(float64(nodes), "nodes/epoch")
}

// BenchmarkGemm measures blas32.Gemm at the layer shapes (dense operands):
// the arithmetic limit the inference figures are compared with.
func BenchmarkGemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range [][3]int{{1000, 112, 32}, {1000, 32, 32}, {10000, 32, 32}, {300, 32, 32}, {20000, 64, 64}} {
		m, k, n := s[0], s[1], s[2]
		A := blas32.General{Rows: m, Cols: k, Stride: k, Data: make([]float32, m*k)}
		B := blas32.General{Rows: k, Cols: n, Stride: n, Data: make([]float32, k*n)}
		C := blas32.General{Rows: m, Cols: n, Stride: n, Data: make([]float32, m*n)}
		for i := range A.Data {
			A.Data[i] = float32(rng.NormFloat64())
		}
		for i := range B.Data {
			B.Data[i] = float32(rng.NormFloat64())
		}
		b.Run(fmt.Sprintf("%dx%dx%d", m, k, n), func(b *testing.B) {
			for b.Loop() {
				blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, A, B, 0, C)
			}
			b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkNovelEndpoints: the egress check of a graph with n external
// sockets against an armed baseline of 64 endpoints (classify runs it on
// every graph; an untrusted graph may hold 20,000 sockets).
func BenchmarkNovelEndpoints(b *testing.B) {
	base := &Egress{Graphs: 1000}
	for i := range 64 {
		base.Endpoints = append(base.Endpoints, fmt.Sprintf("198.51.100.%d:443", i))
	}
	slices.Sort(base.Endpoints)
	m := &Model{OneClass: &OneClassStats{EgressMinGraphs: 20, EgressMaxMissing: 0.01, Egress: map[string]*Egress{"f": base}}}
	for _, n := range []int{10, 1000, 20000} {
		g := &provenance.Graph{Function: "f"}
		for i := range n {
			g.Nodes = append(g.Nodes, provenance.Node{ID: i, Kind: provenance.NodeSocket, Class: provenance.ClassExternal,
				Label: fmt.Sprintf("203.0.%d.%d:4444", i/256, i%256)})
		}
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			for b.Loop() {
				if len(m.novelEndpoints(g)) != n {
					b.Fatal("every endpoint is new")
				}
			}
		})
	}
}

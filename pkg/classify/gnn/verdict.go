package gnn

import (
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Verdict classifies g and answers in the verdict contract.
func (m *Model) Verdict(g *provenance.Graph, opts Options) (*verdict.Verdict, error) {
	r, err := m.Classify(g, opts)
	if err != nil {
		return nil, err
	}
	return &verdict.Verdict{
		GraphID: g.ID, Function: g.Function, Namespace: g.Namespace, Node: g.Node, Pod: g.Pod,
		Container: g.Container, CallID: g.CallID, Window: g.Window, GraphEnd: g.End,
		Verdict: r.Verdict, Score: r.Score, Threshold: r.Threshold, ModelVersion: r.ModelVersion,
		Supervised: r.Supervised, AnomalyScore: r.AnomalyScore, NovelEndpoints: r.NovelEndpoints, Source: r.Source,
		Explanation: r.Explanation, Time: time.Now().UTC(),
	}, nil
}

package profile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/ingest"
	"github.com/faasmon/faasmon/pkg/provenance"
)

// The test graphs are real: built by pkg/provenance's Builder from the real
// strace captures in pkg/strace/testdata (see its README for how each was
// made), as faasmon-parse and faasmon-graph build them, and the real attack
// graph of tests/e2e/testdata.

var traceT0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// traceGraphs builds the graphs of one capture as if function fn's
// container had produced it.
func traceGraphs(t testing.TB, file, fn string) []provenance.Graph {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "strace", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	h := chunk.Header{Node: "n1", Function: fn, Namespace: "openfaas-fn", Container: "c-" + file, PID: 1,
		Kind: chunk.KindStrace, Stream: "s-" + file, Start: traceT0, End: traceT0.Add(time.Minute)}
	batch, err := ingest.Chunk(h, body)
	if err != nil {
		t.Fatal(err)
	}
	st := provenance.NewState(h)
	gs, err := provenance.Builder{Class: provenance.DefaultClassifier()}.Apply(st, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range gs {
		if err := gs[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if len(gs) == 0 {
		t.Fatalf("%s: no graphs", file)
	}
	return gs
}

// e2eGraph is the real attack graph of the end-to-end test (attack 3:
// photo-receive's command injection starting a persistent beacon).
func e2eGraph(t testing.TB) *provenance.Graph {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "tests", "e2e", "testdata", "attack3-photo-receive.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g provenance.Graph
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return &g
}

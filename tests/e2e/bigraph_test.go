package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/lab"
	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/classify/detect"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// bulkScript writes 2,000 files, then drops a script in /tmp, makes it
// executable and runs it: drift from the image, in an invocation whose
// graph is far over the queue's body limit (about 650 KB of JSON).
const bulkScript = `i=0; while [ $i -lt 2000 ]; do echo x > /tmp/faasmon-bulk-$i; i=$((i+1)); done
printf '#!/bin/sh\necho dropped\n' > /tmp/faasmon-bulk-p.sh; chmod +x /tmp/faasmon-bulk-p.sh; /tmp/faasmon-bulk-p.sh
rm -f /tmp/faasmon-bulk-*`

// Issue 14: an attacker who touches a thousand files before acting was
// never judged, as the graph was over OpenFaaS CE's queue limit and
// faasmon-graph could not queue it to classify. Here an attack preceded by
// 2,000 file writes, played through flaw (a) of the lab's photo-receive,
// goes tracer → queue → parse → graph → classify → alert, and its
// invocation's verdict is attack, from a graph that was compacted to fit
// (the verdict says so) and still shows the drift.
func TestAttackAfterBulkWritesIsJudged(t *testing.T) {
	if testing.Short() {
		t.Skip("plays an attack through the whole pipeline on the local stack")
	}
	st := localstack.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	dir := t.TempDir()
	format, _ := json.Marshal(lab.InjectFormat("sh", bulkScript, 20))
	scen := `name: bulk-writes-then-drift
description: 2,000 file writes, then a dropped script run (issue 14 item 2).
label: attack
steps:
  - name: bulk-writes-then-drift
    function: ` + lab.AtomicFunction + `
    label: attack
    body: '{"product_id": "p-1003", "image": {"name": "bulk-{{rand}}.jpg", "data": "{{text:400}}"}, "format": ` +
		strings.ReplaceAll(string(format), "'", "''") + `}'
`
	path := filepath.Join(dir, "bulk-writes.yaml")
	if err := os.WriteFile(path, []byte(scen), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res := playLab(t, ctx, st, lab.Options{Out: out, Scenarios: []string{path}})

	var call string
	for _, inv := range res.Invocations {
		if inv.Step == "bulk-writes-then-drift" {
			if inv.Status/100 != 2 {
				t.Fatalf("the attack call answered %d: %s", inv.Status, inv.Error)
			}
			call = inv.CallID
		}
	}
	if call == "" {
		t.Fatal("the attack step made no invocation")
	}
	// The archive keeps the graph as built: it must be over the limit,
	// or this test tests nothing.
	var built *provenance.Graph
	for _, g := range readGraphs(t, filepath.Join(out, "graphs")) {
		g := g
		// photo-receive's storage call carries the same call id: its
		// graph is another function's.
		if g.CallID == call && g.Function == lab.AtomicFunction && g.Window == provenance.WindowInvocation {
			built = &g
		}
	}
	if built == nil {
		t.Fatalf("no invocation graph for call %s", call)
	}
	data, _ := json.Marshal(built)
	t.Logf("invocation graph: %d nodes, %d edges, %d bytes (queue limit %d)", len(built.Nodes), len(built.Edges), len(data), chunk.MaxBytes)
	if len(data) <= chunk.MaxBytes {
		t.Fatalf("the graph is %d bytes, within the queue limit: the attack did not write its files", len(data))
	}

	recs := readVerdicts(t, filepath.Join(out, "verdicts.jsonl"))
	var rec *lab.VerdictRecord
	for i := range recs {
		if recs[i].CallID == call && recs[i].Function == lab.AtomicFunction && recs[i].Window == provenance.WindowInvocation {
			rec = &recs[i]
		}
	}
	if rec == nil || rec.Verdict == lab.VerdictMissing {
		t.Fatalf("no verdict for the invocation over the queue limit (call %s): %+v", call, rec)
	}
	var rules []string
	for _, f := range rec.Findings {
		rules = append(rules, f.Rule)
	}
	t.Logf("verdict %s by %s: %v", rec.Verdict, rec.Source, rules)
	if rec.Verdict != verdict.Attack {
		t.Errorf("verdict %s, want attack", rec.Verdict)
	}
	if !slices.Contains(rules, "drift-exec") {
		t.Errorf("findings %v lack drift-exec: the dropped script's exec was lost", rules)
	}
	if !slices.Contains(rules, detect.RuleGraphCompacted) {
		t.Errorf("findings %v do not say the graph was compacted", rules)
	}
	if res.Summary.Missing != 0 {
		t.Errorf("%d graphs without a verdict", res.Summary.Missing)
	}
}

func readVerdicts(t *testing.T, path string) []lab.VerdictRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []lab.VerdictRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r lab.VerdictRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

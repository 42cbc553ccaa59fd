package lab

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

func TestLabel(t *testing.T) {
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	inv := func(sc, fn, call, label, container string, start float64, taints bool) Invocation {
		return Invocation{Scenario: sc, Function: fn, CallID: call, Label: label, Container: container, Start: at(start), End: at(start + 0.5), Status: 200, Taints: taints}
	}
	invs := []Invocation{
		inv("benign", "photo-receive", "c1", LabelBenign, "pr-A", 0, false),
		inv("attack3", "photo-receive", "c2", LabelAttack, "pr-A", 10, false),
		inv("benign", "product-catalog-api", "c3", LabelBenign, "api-A", 11, false),
		inv("attack2", "purchase-authorize-cc", "c4", LabelAttack, "cc-A", 20, true),
		inv("attack2", "purchase-authenticate", "c5", LabelBenign, "auth-A", 22, false),
		inv("benign", "purchase-authorize-cc", "c6", LabelBenign, "cc-B", 40, false),
	}
	recycles := []Recycle{
		{Function: "photo-receive", Container: "pr-A", Time: at(30), Reason: "recycle"},
		{Function: "purchase-authorize-cc", Container: "cc-A", Time: at(35), Reason: "recycle"},
	}
	g := func(id, fn string, w provenance.Window, call, container string, start, end float64) provenance.Graph {
		return provenance.Graph{Version: provenance.SchemaVersion, ID: id, Function: fn, Window: w, CallID: call, Container: container, Start: at(start), End: at(end)}
	}
	inW, bgW := provenance.WindowInvocation, provenance.WindowBackground
	tests := []struct {
		name      string
		graph     provenance.Graph
		keep      bool
		label     string
		scenario  string
		ignoreCtr bool
	}{
		{"benign invocation", g("g1", "photo-receive", inW, "c1", "pr-A", 0, 0.5), true, LabelBenign, "benign", false},
		{"attack invocation", g("g2", "photo-receive", inW, "c2", "pr-A", 10, 10.5), true, LabelAttack, "attack3", false},
		{"background before the attack", g("g3", "photo-receive", bgW, "", "pr-A", 1, 9.9), true, LabelBenign, "benign", false},
		{"background after the attack", g("g4", "photo-receive", bgW, "", "pr-A", 10.6, 20), true, LabelAttack, "attack3", false},
		{"background after recycle (new container)", g("g5", "photo-receive", bgW, "", "pr-B", 31, 40), true, LabelBenign, "attack3", false},
		{"background after recycle, same id unknown", g("g5b", "photo-receive", bgW, "", "", 31, 40), true, LabelBenign, "attack3", false},
		{"background of another function", g("g6", "product-catalog-api", bgW, "", "api-A", 12, 20), true, LabelBenign, "benign", false},
		{"downstream of benign call in tainted container", g("g7", "purchase-authorize-cc", inW, "c5", "cc-A", 22.1, 22.3), true, LabelAttack, "attack2", false},
		{"entry graph of that benign call", g("g8", "purchase-authenticate", inW, "c5", "auth-A", 22, 22.5), true, LabelBenign, "attack2", false},
		{"benign call in fresh container", g("g9", "purchase-authorize-cc", inW, "c6", "cc-B", 40, 40.5), true, LabelBenign, "benign", false},
		{"unknown call id", g("g10", "photo-receive", inW, "zz", "pr-A", 5, 6), false, "", "", false},
		{"not a victim function", g("g11", "faasmon-graph", bgW, "", "x", 5, 6), false, "", "", false},
		{"background outside the run", g("g12", "photo-receive", bgW, "", "pr-A", -100, -50), false, "", "", false},
		{"containers named differently: time decides", g("g13", "photo-receive", bgW, "", "docker-77", 12, 20), true, LabelAttack, "attack3", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &Labeler{Invocations: invs, Recycles: recycles, RunStart: at(0), RunEnd: at(60),
				Functions:        map[string]bool{"photo-receive": true, "product-catalog-api": true, "purchase-authorize-cc": true, "purchase-authenticate": true},
				ignoreContainers: tc.ignoreCtr}
			var st LabelStats
			got, ok := l.Label(tc.graph, &st)
			if ok != tc.keep {
				t.Fatalf("kept = %v, want %v (stats %+v)", ok, tc.keep, st)
			}
			if ok && (got.Label != tc.label || got.Scenario != tc.scenario) {
				t.Errorf("label %q scenario %q, want %q %q", got.Label, got.Scenario, tc.label, tc.scenario)
			}
		})
	}
}

func TestLabelAllAndFiles(t *testing.T) {
	t0 := time.Now().UTC()
	invs := []Invocation{
		{Scenario: "s", Function: "f", CallID: "a", Label: LabelAttack, Container: "i1", Start: t0, End: t0.Add(time.Second)},
		{Scenario: "s", Function: "f", CallID: "b", Label: LabelBenign, Container: "i1", Start: t0.Add(2 * time.Second)},
	}
	// The attack forks pid 20 from the handler (pid 10); pid 20 forks 30
	// in a background window. bg1 holds the attack's process: attack. bg2
	// holds only the handler's idle pipe wake-up: benign.
	handler := provenance.Node{ID: 0, Kind: provenance.NodeProcess, Label: "node index.js", PID: 10}
	forked := func(pids ...int) ([]provenance.Node, []provenance.Edge) {
		nodes := []provenance.Node{handler}
		var edges []provenance.Edge
		for i, p := range pids {
			nodes = append(nodes, provenance.Node{ID: i + 1, Kind: provenance.NodeProcess, Label: "sh", PID: p})
			edges = append(edges, provenance.Edge{Src: i, Dst: i + 1, Kind: provenance.EdgeFork, Count: 1})
		}
		return nodes, edges
	}
	an, ae := forked(20)
	bn, be := forked(20, 30)
	bn, be = bn[1:], be[1:] // the background window sees 20 → 30
	bn[0].ID, bn[1].ID, be[0].Src, be[0].Dst = 0, 1, 0, 1
	idle := []provenance.Node{handler, {ID: 1, Kind: provenance.NodePipe, Label: "pipe"}}
	gs := []provenance.Graph{
		{Version: 1, ID: "f/i1/a", Function: "f", Window: provenance.WindowInvocation, CallID: "a", Container: "i1", Start: t0, Nodes: an, Edges: ae},
		{Version: 1, ID: "f/i1/a", Function: "f", Window: provenance.WindowInvocation, CallID: "a", Container: "i1", Start: t0, Nodes: an, Edges: ae},
		{Version: 1, ID: "f/i1/bg1", Function: "f", Window: provenance.WindowBackground, Container: "i1", Start: t0.Add(time.Second), End: t0.Add(2 * time.Second), Nodes: bn, Edges: be},
		{Version: 1, ID: "f/i1/bg2", Function: "f", Window: provenance.WindowBackground, Container: "i1", Start: t0.Add(1500 * time.Millisecond), End: t0.Add(2 * time.Second), Nodes: idle,
			Edges: []provenance.Edge{{Src: 0, Dst: 1, Kind: provenance.EdgeWrite, Count: 1}}},
	}
	l := &Labeler{Invocations: invs, Functions: map[string]bool{"f": true}}
	out, st := l.LabelAll(gs)
	if len(out) != 3 || st.DuplicateGraphs != 1 || st.MissingGraphs != 1 || st.BackgroundAtk != 1 || st.BackgroundIdle != 1 {
		t.Fatalf("out %d stats %+v", len(out), st)
	}
	for _, g := range out {
		if want := map[string]string{"f/i1/a": LabelAttack, "f/i1/bg1": LabelAttack, "f/i1/bg2": LabelBenign}[g.ID]; g.Label != want {
			t.Errorf("%s labelled %s, want %s", g.ID, g.Label, want)
		}
	}
	out = out[:2] // the attack's graphs, written and read back below
	dir := t.TempDir()
	if err := WriteGraphs(filepath.Join(dir, "graphs"), out); err != nil {
		t.Fatal(err)
	}
	back, bad, err := ReadGraphs(filepath.Join(dir, "graphs"))
	if err != nil || bad != 0 || len(back) != 2 {
		t.Fatalf("read back %d graphs, %d bad, %v", len(back), bad, err)
	}
	for _, g := range back {
		if g.Label != LabelAttack || g.Scenario != "s" {
			t.Errorf("graph %s labelled %q/%q", g.ID, g.Label, g.Scenario)
		}
	}
	if err := WriteJSONL(filepath.Join(dir, "inv.jsonl"), invs); err != nil {
		t.Fatal(err)
	}
	rb, err := ReadJSONL[Invocation](filepath.Join(dir, "inv.jsonl"))
	if err != nil || len(rb) != 2 || rb[1].CallID != "b" {
		t.Fatalf("jsonl: %v %+v", err, rb)
	}
}

func TestJoinSummary(t *testing.T) {
	t0 := time.Now().UTC()
	mk := func(id, label string) provenance.Graph {
		return provenance.Graph{Version: 1, ID: id, Function: "f", Window: provenance.WindowInvocation, CallID: id, Label: label, Start: t0}
	}
	graphs := []provenance.Graph{mk("a1", LabelAttack), mk("a2", LabelAttack), mk("a3", LabelAttack), mk("b1", LabelBenign), mk("b2", LabelBenign), mk("b3", LabelBenign), mk("m", LabelBenign)}
	set := NewVerdictSet()
	for id, v := range map[string]string{"a1": verdict.Attack, "a2": verdict.Attack, "a3": verdict.Benign, "b1": verdict.Benign, "b2": verdict.Benign, "b3": verdict.Attack} {
		set.Add(Verdict{Verdict: verdict.Verdict{GraphID: id, Verdict: v, Score: 0.5}, Received: t0.Add(time.Second)})
	}
	// An alert without graph id, matched by call id.
	v, err := DecodeVerdict([]byte(`{"rule":"faasmon: intrusion","call_id":"zz","function":"f"}`), t0)
	if err != nil || v.Verdict.Verdict != verdict.Attack {
		t.Fatalf("decode alert: %+v %v", v, err)
	}
	set.Add(v)
	graphs = append(graphs, provenance.Graph{Version: 1, ID: "other-id", Function: "f", Window: provenance.WindowInvocation, CallID: "zz", Label: LabelAttack, Start: t0})
	recs, s := Join(graphs, set, func(string, string) (time.Time, bool) { return t0, true })
	if s.TP != 3 || s.FN != 1 || s.FP != 1 || s.TN != 2 || s.Missing != 1 || len(recs) != 8 {
		t.Fatalf("summary %+v", s)
	}
	if s.NAttack != 4 || s.NBenign != 3 || s.Precision != 0.75 || s.Recall != 0.75 || s.FPR != 1.0/3 {
		t.Errorf("summary %+v", s)
	}
	want := "precision 0.7500 recall 0.7500 f1 0.7500 accuracy 0.7143 fpr 0.3333 n_benign 3 n_attack 4"
	if s.Line() != want {
		t.Errorf("line %q\nwant %q", s.Line(), want)
	}
	if s.LatencyP50 != 1 {
		t.Errorf("latency p50 %v", s.LatencyP50)
	}
	if set.Wait(graphs[:6], 10*time.Millisecond, time.Second) != 0 || set.Wait(graphs, 10*time.Millisecond, 50*time.Millisecond) != 1 {
		t.Errorf("Wait miscounts")
	}
}

// A tainted container's calls are attack only when the planted code shows
// (a fork, the attacker, a planted file); a fork cut into the background
// window beside an attack call is the attack's.
func TestLabelTaintedActs(t *testing.T) {
	t0 := time.Now().UTC()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	invs := []Invocation{
		{Scenario: "a2", Function: "f", CallID: "plant", Label: LabelAttack, Taints: true, Container: "c", Start: at(0), End: at(100)},
		{Scenario: "a2", Function: "f", CallID: "idle", Label: LabelBenign, Container: "c", Start: at(1000), End: at(1100)},
		{Scenario: "a2", Function: "f", CallID: "reads", Label: LabelBenign, Container: "c", Start: at(2000), End: at(2100)},
		{Scenario: "a2", Function: "f", CallID: "calls", Label: LabelBenign, Container: "c", Start: at(3000), End: at(3100)},
	}
	proc := provenance.Node{ID: 0, Kind: provenance.NodeProcess, Label: "node index.js", PID: 10}
	file := func(label string) provenance.Node {
		return provenance.Node{ID: 1, Kind: provenance.NodeFile, Label: label}
	}
	graph := func(id, call string, win provenance.Window, start int, nodes []provenance.Node, edges []provenance.Edge) provenance.Graph {
		return provenance.Graph{Version: 1, ID: id, Function: "f", Container: "c", Window: win, CallID: call, Start: at(start), End: at(start + 100), Nodes: nodes, Edges: edges}
	}
	gs := []provenance.Graph{
		graph("plant", "plant", provenance.WindowInvocation, 0, []provenance.Node{proc, file("$FUNC/rules/v3.js")},
			[]provenance.Edge{{Src: 0, Dst: 1, Kind: provenance.EdgeWrite, Count: 1}}),
		graph("idle", "idle", provenance.WindowInvocation, 1000, []provenance.Node{proc, file("/tmp/catalog.json")},
			[]provenance.Edge{{Src: 0, Dst: 1, Kind: provenance.EdgeOpen, Count: 1}}),
		graph("reads", "reads", provenance.WindowInvocation, 2000, []provenance.Node{proc, file("$FUNC/rules/v3.js")},
			[]provenance.Edge{{Src: 1, Dst: 0, Kind: provenance.EdgeRead, Count: 1}}),
		graph("calls", "calls", provenance.WindowInvocation, 3000, []provenance.Node{proc, {ID: 1, Kind: provenance.NodeSocket, Label: AttackerIP + ":80"}},
			[]provenance.Edge{{Src: 0, Dst: 1, Kind: provenance.EdgeConnect, Count: 1}}),
		// The payload's child, cut into the background window beside "reads".
		graph("bg", "", provenance.WindowBackground, 2050, []provenance.Node{proc, {ID: 1, Kind: provenance.NodeProcess, Label: "cat /etc/passwd", PID: 77}},
			[]provenance.Edge{{Src: 0, Dst: 1, Kind: provenance.EdgeFork, Count: 1, First: at(2060)}}),
		// Later, that child only writes to a pipe: nothing to see.
		graph("bg-pipe", "", provenance.WindowBackground, 2500, []provenance.Node{{ID: 0, Kind: provenance.NodeProcess, Label: "cat /etc/passwd", PID: 77}, {ID: 1, Kind: provenance.NodePipe, Label: "pipe"}},
			[]provenance.Edge{{Src: 0, Dst: 1, Kind: provenance.EdgeWrite, Count: 1, First: at(2510)}}),
	}
	l := &Labeler{Invocations: invs}
	out, st := l.LabelAll(gs)
	want := map[string]string{"plant": LabelAttack, "idle": LabelBenign, "reads": LabelAttack, "calls": LabelAttack, "bg": LabelAttack, "bg-pipe": LabelBenign}
	for _, g := range out {
		if g.Label != want[g.ID] {
			t.Errorf("%s labelled %s, want %s", g.ID, g.Label, want[g.ID])
		}
	}
	if st.TaintedIdle != 1 || st.TaintedAtk != 2 || st.BackgroundAtk != 1 || st.BackgroundIdle != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestTaintEndedByResponseRecycle: the detector's response recycles the
// tainted container between stage 1 and stage 2. The lab did not make that
// recycle; it sees it as a changed instance id, and the calls that ran in
// the fresh container are benign — with container ids that match, and with
// ids that do not (then only the recycle's time tells).
func TestTaintEndedByResponseRecycle(t *testing.T) {
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	fn := "purchase-authorize-cc"
	known := map[string]string{fn: "cc-A", "product-catalog-api": "api-A"}
	insts := []localstack.Instance{
		{Function: fn, ID: "cc-B", Started: at(11)}, // the response's recycle
		{Function: "product-catalog-api", ID: "api-A", Started: at(0)},
		{Function: "new-fn", ID: "n-A", Started: at(2)}, // first sight: not a recycle
	}
	recycles := observedRecycles(known, insts)
	if len(recycles) != 1 || recycles[0].Container != "cc-A" || !recycles[0].Time.Equal(at(11)) || recycles[0].Function != fn {
		t.Fatalf("observed recycles %+v, want one of cc-A at 11 s", recycles)
	}
	invs := []Invocation{
		{Scenario: "demo", Step: "stage1-plant", Function: fn, CallID: "s1", Label: LabelAttack, Container: "cc-A", Start: at(10), End: at(10.3), Status: 200, Taints: true},
		{Scenario: "demo", Step: "stage2-trigger", Function: fn, CallID: "s2", Label: LabelBenign, Container: "cc-B", Start: at(15), End: at(15.3), Status: 200},
	}
	g := provenance.Graph{Version: provenance.SchemaVersion, ID: "g", Function: fn, Window: provenance.WindowInvocation, CallID: "s2", Start: at(15), End: at(15.3)}
	for _, tc := range []struct {
		name      string
		container string
		ignoreCtr bool
		recycles  []Recycle
		want      string
	}{
		{"fresh container, ids match", "cc-B", false, recycles, LabelBenign},
		{"ids differ in naming: the recycle decides", "docker-9", true, recycles, LabelBenign},
		{"without the observed recycle the taint would stand", "docker-9", true, nil, LabelAttack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &Labeler{Invocations: invs, Recycles: tc.recycles, ignoreContainers: tc.ignoreCtr}
			gg := g
			gg.Container = tc.container
			var st LabelStats
			out, ok := l.Label(gg, &st)
			if !ok || out.Label != tc.want {
				t.Fatalf("label %q (kept %v), want %q", out.Label, ok, tc.want)
			}
		})
	}
}

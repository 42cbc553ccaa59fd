package lab

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/faasmon/faasmon/pkg/alert"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

func TestForeignDataFile(t *testing.T) {
	set, err := LoadForeignSet(filepath.Join("..", "..", "..", "tests", "lab", "foreign", "functions.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Functions) < 6 {
		t.Errorf("%d functions, want at least 6", len(set.Functions))
	}
	b, err := set.scenario("functions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseScenario("x.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	fns := map[string]bool{}
	for _, st := range s.Steps {
		fns[st.Function] = true
		if st.Label != LabelBenign {
			t.Errorf("step %s label %s", st.Name, st.Label)
		}
	}
	if len(fns) != len(set.Functions) {
		t.Errorf("scenario plays %d functions, want %d", len(fns), len(set.Functions))
	}
}

func TestParseForeignSetErrors(t *testing.T) {
	ok := "  - name: f\n    lang: node20\n    handler: a/f\n    steps:\n      - {method: GET}\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", "functions: []\n", "no functions"},
		{"unknown field", "functions:\n" + ok + "    colour: red\n", "colour"},
		{"bad name", strings.Replace("functions:\n"+ok, "name: f", "name: F_1", 1), "name"},
		{"twice", "functions:\n" + ok + ok, "twice"},
		{"absolute handler", strings.Replace("functions:\n"+ok, "a/f", "/etc", 1), "inside the functions directory"},
		{"escaping handler", strings.Replace("functions:\n"+ok, "a/f", "../x", 1), "inside the functions directory"},
		{"lang", strings.Replace("functions:\n"+ok, "node20", "dockerfile", 1), "not supported"},
		{"no steps", strings.Replace("functions:\n"+ok, "    steps:\n      - {method: GET}\n", "", 1), "no steps"},
		{"function field", strings.Replace("functions:\n"+ok, "{method: GET}", "{method: GET, function: g}", 1), "no function field"},
		{"bad step", strings.Replace("functions:\n"+ok, "{method: GET}", "{method: GET, repeat: -1}", 1), "repeat"},
		{"bad template", strings.Replace("functions:\n"+ok, "{method: GET}", "{body: \"{{nope}}\"}", 1), "unknown template"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseForeignSet("f.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestForeignStack(t *testing.T) {
	dir := t.TempDir()
	set := &ForeignSet{Functions: []ForeignFunction{{Name: "f", Lang: "golang-middleware", Handler: "repo/f", Environment: map[string]string{"k": "v"}}}}
	if _, err := set.stack(dir); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("missing handler: err = %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "repo", "f"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := set.stack(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Functions map[string]struct {
			Lang        string            `yaml:"lang"`
			Handler     string            `yaml:"handler"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"functions"`
	}
	if err := yaml.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	f := st.Functions["f"]
	if f.Lang != "golang-middleware" || f.Handler != filepath.Join(dir, "repo", "f") || f.Environment["k"] != "v" {
		t.Errorf("stack function %+v", f)
	}
}

func TestScoreForeign(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	set := &ForeignSet{Functions: []ForeignFunction{{Name: "a"}, {Name: "b"}}}
	invs := []Invocation{
		{Function: "a", Round: 0, CallID: "c0", Start: t0, Status: 200},
		{Function: "b", Round: 0, CallID: "c1", Start: t0.Add(time.Second), Status: 200},
		{Function: "a", Round: 1, CallID: "c2", Start: t0.Add(time.Minute), Status: 200},
		{Function: "b", Round: 1, CallID: "c3", Start: t0.Add(61 * time.Second), Status: 500},
		{Function: "a", Round: 2, CallID: "c4", Start: t0.Add(2 * time.Minute), Status: 200},
		{Function: "x", Round: 2, CallID: "c5", Start: t0.Add(2 * time.Minute), Status: 200}, // not a foreign function
	}
	graphs := []provenance.Graph{
		{ID: "g0", Function: "a", CallID: "c0", Window: provenance.WindowInvocation, Start: t0},
		{ID: "bg0", Function: "a", Window: provenance.WindowBackground, Start: t0.Add(30 * time.Second)}, // round 0
		{ID: "g2", Function: "a", CallID: "c2", Window: provenance.WindowInvocation, Start: t0.Add(time.Minute)},
		{ID: "g3", Function: "b", CallID: "c3", Window: provenance.WindowInvocation, Start: t0.Add(61 * time.Second)},
		{ID: "bg1", Function: "b", Window: provenance.WindowBackground, Start: t0.Add(90 * time.Second)}, // round 1
		{ID: "g4", Function: "a", CallID: "c4", Window: provenance.WindowInvocation, Start: t0.Add(2 * time.Minute)},
	}
	rec := func(g provenance.Graph, v string, s float64) VerdictRecord {
		return VerdictRecord{GraphID: g.ID, Function: g.Function, Window: g.Window, CallID: g.CallID, Label: LabelBenign, Verdict: v, Score: s}
	}
	recs := []VerdictRecord{
		rec(graphs[0], verdict.Attack, 0.9), // learning round: not judged
		rec(graphs[1], verdict.Attack, 0.8), // learning round (background)
		rec(graphs[2], "benign", 0.1),
		rec(graphs[3], verdict.Attack, 0.7),
		rec(graphs[4], verdict.Attack, 0.64),
		rec(graphs[5], VerdictMissing, 0),
	}
	alerts := []alert.Alert{
		{Function: "b", GraphID: "bg1", Source: "supervised", Rule: "r", Chain: "p -> 1.2.3.4:443", Window: provenance.WindowBackground},
		{Function: "a", GraphID: "g0", Source: "supervised"},
	}
	rep := ScoreForeign(set, invs, graphs, recs, alerts, 1)
	if rep.Invocations != 3 || rep.LearningInvocations != 2 {
		t.Errorf("invocations %d (learning %d), want 3 (2)", rep.Invocations, rep.LearningInvocations)
	}
	if rep.Graphs != 3 || rep.Flagged != 2 || rep.Missing != 1 {
		t.Errorf("graphs %d flagged %d missing %d, want 3 2 1", rep.Graphs, rep.Flagged, rep.Missing)
	}
	if want := 2.0 / 3; rep.FPR != want {
		t.Errorf("fpr %v, want %v", rep.FPR, want)
	}
	if rep.LearningGraphs != 2 || rep.LearningFlagged != 2 || rep.LearningAlerts != 1 || rep.Alerts != 1 {
		t.Errorf("learning graphs %d flagged %d alerts %d, eval alerts %d", rep.LearningGraphs, rep.LearningFlagged, rep.LearningAlerts, rep.Alerts)
	}
	if b := rep.PerFunction["b"]; b.Graphs != 2 || b.Flagged != 2 || b.FPR != 1 || b.Non2xx != 1 || b.Alerts != 1 {
		t.Errorf("per function b %+v", b)
	}
	if a := rep.PerFunction["a"]; a.Graphs != 1 || a.Flagged != 0 || a.Invocations != 2 {
		t.Errorf("per function a %+v", a)
	}
	if len(rep.FalseAlerts) != 2 || rep.FalseAlerts[0].GraphID != "bg1" || !rep.FalseAlerts[0].Alerted || rep.FalseAlerts[0].Source != "supervised" || rep.FalseAlerts[1].Alerted {
		t.Errorf("false alerts %+v", rep.FalseAlerts)
	}
	if rep.GraphsByWindow[string(provenance.WindowBackground)] != 1 || rep.FlaggedByWindow[string(provenance.WindowInvocation)] != 1 {
		t.Errorf("by window %v %v", rep.GraphsByWindow, rep.FlaggedByWindow)
	}
}

func TestWriteReportSection(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.json")
	if err := os.WriteFile(p, []byte(`{"atomic": {"recall": 0.5, "tests": 61}, "f1": 0.99, "foreign": {"old": true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteReportSection(p, "foreign", map[string]any{"fpr": 0.01}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if doc["f1"] != 0.99 || doc["atomic"].(map[string]any)["tests"] != 61.0 {
		t.Errorf("other sections changed: %s", b)
	}
	if f := doc["foreign"].(map[string]any); f["fpr"] != 0.01 || f["old"] != nil {
		t.Errorf("foreign section %v", f)
	}
	// A new file starts empty; a file that is not an object is left alone.
	if err := WriteReportSection(filepath.Join(dir, "new", "r.json"), "foreign", 1); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte("[1,2]"), 0o644)
	if err := WriteReportSection(bad, "foreign", 1); err == nil {
		t.Fatal("a report that is not an object was overwritten")
	}
	if b, _ := os.ReadFile(bad); string(b) != "[1,2]" {
		t.Errorf("bad report changed to %s", b)
	}
}

// FuzzParseForeignSet: any data file parses or fails with an error, never a
// panic; a parsed one always yields a valid scenario.
func FuzzParseForeignSet(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "tests", "lab", "foreign", "functions.yaml")); err == nil {
		f.Add(string(b))
	}
	f.Add("functions:\n  - name: f\n    lang: node20\n    handler: a/f\n    steps:\n      - {method: GET}\n")
	f.Add("functions: [{name: f, lang: golang-middleware, handler: x, steps: [{body: {a: [1, {b: 2}]}}]}]\n")
	f.Fuzz(func(t *testing.T, doc string) {
		set, err := ParseForeignSet("f.yaml", []byte(doc))
		if err != nil {
			return
		}
		if _, err := set.scenario("f.yaml"); err != nil {
			t.Fatalf("parsed set without a scenario: %v", err)
		}
	})
}

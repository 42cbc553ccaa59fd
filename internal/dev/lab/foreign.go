package lab

// The foreign benchmark: public OpenFaaS functions that nobody here wrote,
// run unchanged on the local stack through the whole live pipeline (tracer →
// parse → graph → classify → alert), played as learning rounds then
// evaluation rounds, and judged by the false positive rate of the
// evaluation rounds. Their code lies in a directory given as a flag (never
// in the repository); what to deploy and the requests to play are a data
// file of ours (tests/lab/foreign/functions.yaml). The graphs of these runs
// are an evaluation set: they are written to their own output directory and
// nothing here feeds training or thresholds.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/stan.go"
	"go.yaml.in/yaml/v3"

	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/pkg/alert"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/streaming"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// ForeignSet is the data file: the public functions and the requests played
// to each.
type ForeignSet struct {
	Functions []ForeignFunction `yaml:"functions"`
	// Unrunnable lists public functions looked at that cannot run on the
	// local stack, with the reason (reported as they are).
	Unrunnable map[string]string `yaml:"unrunnable"`
}

// ForeignFunction is one public function: where its handler lies under the
// functions directory, its lang, and the steps (lab scenario steps without
// the function field) that make one round of its traffic.
type ForeignFunction struct {
	Name        string            `yaml:"name"`
	Source      string            `yaml:"source"` // repository and commit it came from
	Kind        string            `yaml:"kind"`   // what it does, in a few words
	Lang        string            `yaml:"lang"`
	Handler     string            `yaml:"handler"` // relative to the functions directory
	Environment map[string]string `yaml:"environment"`
	Steps       []map[string]any  `yaml:"steps"`
}

// LoadForeignSet reads and checks the data file strictly.
func LoadForeignSet(path string) (*ForeignSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("foreign functions: %w", err)
	}
	return ParseForeignSet(path, b)
}

// ParseForeignSet decodes data (the contents of file) strictly.
func ParseForeignSet(file string, data []byte) (*ForeignSet, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s ForeignSet
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(s.Functions) == 0 {
		return nil, fmt.Errorf("%s: no functions", file)
	}
	seen := map[string]bool{}
	for i, f := range s.Functions {
		where := fmt.Sprintf("%s: functions[%d]", file, i)
		switch {
		case !nameRE.MatchString(f.Name):
			return nil, fmt.Errorf("%s: name %q: use lower-case letters, digits and '-'", where, f.Name)
		case seen[f.Name]:
			return nil, fmt.Errorf("%s: name %q twice", where, f.Name)
		case f.Handler == "" || filepath.IsAbs(f.Handler) || strings.HasPrefix(filepath.Clean(f.Handler), ".."):
			return nil, fmt.Errorf("%s (%s): handler %q must be a path inside the functions directory", where, f.Name, f.Handler)
		case len(f.Steps) == 0:
			return nil, fmt.Errorf("%s (%s): no steps", where, f.Name)
		}
		if _, err := localstack.TemplateFor(f.Lang); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", where, f.Name, err)
		}
		for j, st := range f.Steps {
			if _, ok := st["function"]; ok {
				return nil, fmt.Errorf("%s (%s): steps[%d]: no function field (it is the function's)", where, f.Name, j)
			}
		}
		seen[f.Name] = true
	}
	// The steps must make a valid scenario.
	if _, err := s.scenario(file); err != nil {
		return nil, err
	}
	return &s, nil
}

// scenario returns the lab scenario of one round of every function's steps.
func (s *ForeignSet) scenario(file string) ([]byte, error) {
	var steps []map[string]any
	for _, f := range s.Functions {
		for j, st := range f.Steps {
			c := map[string]any{}
			for k, v := range st {
				c[k] = v
			}
			c["function"] = f.Name
			if _, ok := c["name"]; !ok {
				c["name"] = fmt.Sprintf("%s-%d", f.Name, j)
			}
			steps = append(steps, c)
		}
	}
	b, err := yaml.Marshal(map[string]any{
		"name": "foreign", "label": LabelBenign,
		"description": "Benign traffic to public OpenFaaS functions (tests/lab/foreign).",
		"steps":       steps,
	})
	if err != nil {
		return nil, err
	}
	if _, err := ParseScenario(file, b); err != nil {
		return nil, fmt.Errorf("steps: %w", err)
	}
	return b, nil
}

// stack returns a stack.yml that deploys every function from where it lies
// under dir: the user's own stack file, as faas-cli would read it.
func (s *ForeignSet) stack(dir string) ([]byte, error) {
	fns := map[string]any{}
	for _, f := range s.Functions {
		h := filepath.Join(dir, f.Handler)
		if st, err := os.Stat(h); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("function %s: handler %s is not a directory under %s (fetch its source there first)", f.Name, f.Handler, dir)
		}
		fn := map[string]any{"lang": f.Lang, "handler": h, "image": "local/" + f.Name + ":latest"}
		if len(f.Environment) > 0 {
			fn["environment"] = f.Environment
		}
		fns[f.Name] = fn
	}
	return yaml.Marshal(map[string]any{
		"version":   "1.0",
		"provider":  map[string]any{"name": "openfaas", "gateway": localstack.GatewayURL},
		"functions": fns,
	})
}

// ForeignOptions configure RunForeign.
type ForeignOptions struct {
	Dir         string // the public functions' directory
	Data        string // the data file (default <repo>/tests/lab/foreign/functions.yaml)
	Out         string // output directory of this evaluation run
	Report      string // generalisation report (default <repo>/model/generalisation-report.json)
	LearnRounds int    // rounds before the evaluation (per-function profiles learn here)
	EvalRounds  int    // rounds judged
	Seed        uint64
	Command     string // the command line, for the report
	Lab         Options
}

// ForeignFalseAlert is one false alert of the evaluation rounds.
type ForeignFalseAlert struct {
	Function string            `json:"function"`
	GraphID  string            `json:"graph_id"`
	Window   provenance.Window `json:"window"`
	CallID   string            `json:"call_id,omitempty"`
	Round    int               `json:"round"`
	Score    float64           `json:"score"`
	// From the published alert, when faasmon-alert raised one for it.
	Alerted        bool     `json:"alerted"`
	Rule           string   `json:"rule,omitempty"`
	Source         string   `json:"source,omitempty"`
	NovelEndpoints []string `json:"novel_endpoints,omitempty"`
	Chain          string   `json:"chain,omitempty"`
}

// ForeignFunctionStats is one function's line of the report.
type ForeignFunctionStats struct {
	Source      string  `json:"source"`
	Kind        string  `json:"kind"`
	Lang        string  `json:"lang"`
	Invocations int     `json:"invocations"`
	Non2xx      int     `json:"non_2xx"`
	Graphs      int     `json:"graphs"`
	Flagged     int     `json:"flagged"`
	FPR         float64 `json:"fpr"`
	Alerts      int     `json:"alerts"`
}

// ForeignReport is the report's foreign section.
type ForeignReport struct {
	Measured    time.Time `json:"measured"`
	Command     string    `json:"command"`
	DurationS   float64   `json:"duration_s"`
	Dir         string    `json:"dir"`
	Out         string    `json:"out"`
	LearnRounds int       `json:"learn_rounds"`
	EvalRounds  int       `json:"eval_rounds"`
	Functions   int       `json:"functions"`
	// Invocations, Graphs, FPR and Alerts are of the evaluation rounds.
	Invocations int     `json:"invocations"`
	Graphs      int     `json:"graphs"`
	Flagged     int     `json:"flagged"`
	FPR         float64 `json:"fpr"`
	Alerts      int     `json:"alerts"`
	// Missing counts evaluation graphs without a verdict (not in Graphs).
	Missing             int                             `json:"missing_verdicts"`
	GraphsByWindow      map[string]int                  `json:"graphs_by_window"`
	FlaggedByWindow     map[string]int                  `json:"flagged_by_window"`
	LearningInvocations int                             `json:"learning_invocations"`
	LearningGraphs      int                             `json:"learning_graphs"`
	LearningFlagged     int                             `json:"learning_flagged"`
	LearningAlerts      int                             `json:"learning_alerts"`
	PerFunction         map[string]ForeignFunctionStats `json:"per_function"`
	FalseAlerts         []ForeignFalseAlert             `json:"false_alerts"`
	Unrunnable          map[string]string               `json:"unrunnable"`
	Note                string                          `json:"note"`
}

// RunForeign deploys the public functions, plays LearnRounds+EvalRounds
// rounds through the live pipeline and writes the report's foreign section.
func RunForeign(ctx context.Context, o ForeignOptions) (ForeignReport, error) {
	t0 := time.Now()
	lo := o.Lab
	if lo.Repo == "" {
		wd, _ := os.Getwd()
		r, err := localstack.RepoRoot(wd)
		if err != nil {
			return ForeignReport{}, err
		}
		lo.Repo = r
	}
	if o.Data == "" {
		o.Data = filepath.Join(lo.Repo, "tests", "lab", "foreign", "functions.yaml")
	}
	if o.Report == "" {
		o.Report = filepath.Join(lo.Repo, "model", "generalisation-report.json")
	}
	if o.LearnRounds < 0 || o.EvalRounds < 1 {
		return ForeignReport{}, fmt.Errorf("rounds: learn %d, eval %d: want learn ≥ 0 and eval ≥ 1", o.LearnRounds, o.EvalRounds)
	}
	if o.Dir == "" || o.Out == "" {
		return ForeignReport{}, errors.New("foreign: the functions directory and the output directory are required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return ForeignReport{}, err
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return ForeignReport{}, err
	}
	// The run's graphs are an evaluation set: refuse to write them into the
	// repository, where a training command could pick them up.
	if rel, err := filepath.Rel(lo.Repo, out); err == nil && !strings.HasPrefix(rel, "..") {
		return ForeignReport{}, fmt.Errorf("foreign: output %s is inside the repository; use a directory of its own (e.g. /tmp/faasmon-foreign)", out)
	}
	set, err := LoadForeignSet(o.Data)
	if err != nil {
		return ForeignReport{}, err
	}
	stackYML, err := set.stack(dir)
	if err != nil {
		return ForeignReport{}, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return ForeignReport{}, err
	}
	scen, err := set.scenario(o.Data)
	if err != nil {
		return ForeignReport{}, err
	}
	stackPath := filepath.Join(out, "stack.yml")
	scenPath := filepath.Join(out, "scenario.yaml")
	if err := os.WriteFile(stackPath, stackYML, 0o644); err != nil {
		return ForeignReport{}, err
	}
	if err := os.WriteFile(scenPath, scen, 0o644); err != nil {
		return ForeignReport{}, err
	}

	lo.Out = out
	lo.VictimStack = stackPath
	lo.Scenarios = []string{scenPath}
	lo.Rounds = o.LearnRounds + o.EvalRounds
	lo.Seed = o.Seed
	lo.Detector = true
	if lo.Graphs == "" {
		lo.Graphs = GraphArchive
	}
	if lo.Log == nil {
		lo.Log = os.Stderr
	}

	if err := lo.defaults(); err != nil {
		return ForeignReport{}, err
	}
	// The published alerts, from before the first invocation.
	if !lo.SkipUp {
		if err := ensureUp(ctx, lo, func(f string, a ...any) { fmt.Fprintf(lo.Log, "lab: "+f+"\n", a...) }); err != nil {
			return ForeignReport{}, err
		}
	}
	lo.SkipUp = true
	var mu sync.Mutex
	var alerts []alert.Alert
	sc, err := stan.Connect(localstack.NATSClusterID, fmt.Sprintf("faasmon-foreign-%d", time.Now().UnixNano()),
		stan.NatsURL("nats://"+localstack.NATSAddr), stan.ConnectWait(3*time.Second))
	if err != nil {
		return ForeignReport{}, fmt.Errorf("connect to the queue server: %w", err)
	}
	defer sc.Close()
	sub, err := sc.Subscribe(streaming.AlertChannel, func(m *stan.Msg) {
		var a alert.Alert
		if json.Unmarshal(m.Data, &a) != nil {
			return
		}
		mu.Lock()
		alerts = append(alerts, a)
		mu.Unlock()
	}, stan.StartAtTime(time.Now()))
	if err != nil {
		return ForeignReport{}, fmt.Errorf("subscribe %s: %w", streaming.AlertChannel, err)
	}
	defer sub.Close()

	res, err := Run(ctx, lo)
	if err != nil {
		return ForeignReport{}, err
	}
	// Alerts trail their verdicts by a moment.
	time.Sleep(3 * time.Second)
	mu.Lock()
	got := append([]alert.Alert(nil), alerts...)
	mu.Unlock()
	if err := WriteJSONL(filepath.Join(out, "alerts.jsonl"), got); err != nil {
		return ForeignReport{}, err
	}
	graphs, _, err := ReadGraphs(filepath.Join(out, "graphs"))
	if err != nil {
		return ForeignReport{}, fmt.Errorf("read the run's graphs: %w", err)
	}
	recs, err := ReadJSONL[VerdictRecord](filepath.Join(out, "verdicts.jsonl"))
	if err != nil {
		return ForeignReport{}, err
	}
	rep := ScoreForeign(set, res.Invocations, graphs, recs, got, o.LearnRounds)
	rep.Measured = time.Now().UTC().Truncate(time.Second)
	rep.Command = o.Command
	rep.DurationS = math.Round(time.Since(t0).Seconds())
	rep.Dir, rep.Out = dir, out
	rep.LearnRounds, rep.EvalRounds = o.LearnRounds, o.EvalRounds
	if err := WriteReportSection(o.Report, "foreign", rep); err != nil {
		return rep, err
	}
	writeJSON(filepath.Join(out, "foreign-report.json"), rep)
	return rep, nil
}

// ScoreForeign computes the foreign section from a run: invocations (with
// their round), the labelled graphs, their verdicts and the published
// alerts. A graph's round is its invocation's; a background window's is the
// round whose invocations had started when the window began. Only rounds
// ≥ learn are judged.
func ScoreForeign(set *ForeignSet, invs []Invocation, graphs []provenance.Graph, recs []VerdictRecord, alerts []alert.Alert, learn int) ForeignReport {
	rep := ForeignReport{
		Functions:   len(set.Functions),
		PerFunction: map[string]ForeignFunctionStats{}, GraphsByWindow: map[string]int{}, FlaggedByWindow: map[string]int{},
		FalseAlerts: []ForeignFalseAlert{}, Unrunnable: set.Unrunnable,
		Note: "FPR = graphs judged intrusion / graphs with a verdict, evaluation rounds only; alerts are the messages faasmon-alert published for those graphs. " +
			"Every graph here is benign: each flagged graph is a false positive.",
	}
	if rep.Unrunnable == nil {
		rep.Unrunnable = map[string]string{}
	}
	for _, f := range set.Functions {
		rep.PerFunction[f.Name] = ForeignFunctionStats{Source: f.Source, Kind: f.Kind, Lang: f.Lang}
	}
	callRound := map[string]int{}
	var roundStart []time.Time // first invocation start of each round
	for _, inv := range invs {
		if inv.CallID != "" {
			callRound[inv.CallID+"\x00"+inv.Function] = inv.Round
		}
		for len(roundStart) <= inv.Round {
			roundStart = append(roundStart, time.Time{})
		}
		if !inv.Start.IsZero() && (roundStart[inv.Round].IsZero() || inv.Start.Before(roundStart[inv.Round])) {
			roundStart[inv.Round] = inv.Start
		}
		st, ok := rep.PerFunction[inv.Function]
		if !ok {
			continue
		}
		if inv.Round < learn {
			rep.LearningInvocations++
			continue
		}
		rep.Invocations++
		st.Invocations++
		if inv.Status/100 != 2 {
			st.Non2xx++
		}
		rep.PerFunction[inv.Function] = st
	}
	roundOf := func(g provenance.Graph) int {
		if r, ok := callRound[g.CallID+"\x00"+g.Function]; ok && g.CallID != "" {
			return r
		}
		r := 0
		for i, t := range roundStart {
			if !t.IsZero() && !g.Start.Before(t) {
				r = i
			}
		}
		return r
	}
	byID := map[string]provenance.Graph{}
	for _, g := range graphs {
		byID[g.ID] = g
	}
	alertByGraph := map[string]alert.Alert{}
	for _, a := range alerts {
		if _, ok := alertByGraph[a.GraphID]; !ok {
			alertByGraph[a.GraphID] = a
		}
	}
	judged := map[string]int{} // graph id → round, of the graphs with a record
	for _, r := range recs {
		st, ok := rep.PerFunction[r.Function]
		if !ok {
			continue
		}
		g, ok := byID[r.GraphID]
		if !ok {
			g = provenance.Graph{ID: r.GraphID, Function: r.Function, CallID: r.CallID, Window: r.Window}
		}
		round := roundOf(g)
		judged[r.GraphID] = round
		flagged := r.Verdict == verdict.Attack
		if round < learn {
			if r.Verdict != VerdictMissing {
				rep.LearningGraphs++
				if flagged {
					rep.LearningFlagged++
				}
			}
			continue
		}
		if r.Verdict == VerdictMissing {
			rep.Missing++
			continue
		}
		rep.Graphs++
		st.Graphs++
		rep.GraphsByWindow[string(r.Window)]++
		if flagged {
			rep.Flagged++
			st.Flagged++
			rep.FlaggedByWindow[string(r.Window)]++
			fa := ForeignFalseAlert{Function: r.Function, GraphID: r.GraphID, Window: r.Window, CallID: r.CallID, Round: round, Score: r.Score}
			if a, ok := alertByGraph[r.GraphID]; ok {
				fa.Alerted, fa.Rule, fa.Source, fa.NovelEndpoints, fa.Chain = true, a.Rule, a.Source, a.NovelEndpoints, a.Chain
			}
			rep.FalseAlerts = append(rep.FalseAlerts, fa)
		}
		rep.PerFunction[r.Function] = st
	}
	for _, a := range alerts {
		st, ok := rep.PerFunction[a.Function]
		if !ok {
			continue
		}
		round, ok := judged[a.GraphID]
		if !ok {
			round = roundOf(provenance.Graph{Function: a.Function, CallID: a.CallID, Start: a.Time})
		}
		if round < learn {
			rep.LearningAlerts++
			continue
		}
		rep.Alerts++
		st.Alerts++
		rep.PerFunction[a.Function] = st
		if _, listed := judged[a.GraphID]; !listed {
			// An alert whose graph has no verdict record is still a false alert.
			rep.FalseAlerts = append(rep.FalseAlerts, ForeignFalseAlert{Function: a.Function, GraphID: a.GraphID, Window: a.Window, CallID: a.CallID,
				Round: round, Score: a.Score, Alerted: true, Rule: a.Rule, Source: a.Source, NovelEndpoints: a.NovelEndpoints, Chain: a.Chain})
		}
	}
	rep.FPR = ratio(rep.Flagged, rep.Graphs)
	for n, st := range rep.PerFunction {
		st.FPR = ratio(st.Flagged, st.Graphs)
		rep.PerFunction[n] = st
	}
	sort.Slice(rep.FalseAlerts, func(i, j int) bool {
		a, b := rep.FalseAlerts[i], rep.FalseAlerts[j]
		if a.Function != b.Function {
			return a.Function < b.Function
		}
		return a.GraphID < b.GraphID
	})
	return rep
}

// WriteReportSection replaces one top-level section of a JSON report,
// keeping the others (other commands write them), and writes it back
// atomically. A missing file starts empty; a file that is not a JSON
// object is an error rather than overwritten.
func WriteReportSection(path, section string, v any) error {
	doc := map[string]json.RawMessage{}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s is not a JSON object (left as it is): %w", path, err)
		}
	}
	sec, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return err
	}
	doc[section] = sec
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, k := range keys {
		kb, _ := json.Marshal(k)
		var val bytes.Buffer
		if err := json.Indent(&val, doc[k], "  ", "  "); err != nil {
			return fmt.Errorf("%s: section %s: %w", path, k, err)
		}
		fmt.Fprintf(&buf, "  %s: %s", kb, val.Bytes())
		if i < len(keys)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("}\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, &buf); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

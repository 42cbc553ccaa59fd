package lab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FindAtomics looks for shared/atomic-red-team beside the repository or
// beside one of its parents (a helper's worktree lies one level deeper
// than the main checkout: /work/wt/<name> beside /work/main).
func FindAtomics(repo string) (string, error) {
	dir := filepath.Clean(repo)
	for i := 0; i < 4; i++ {
		c := filepath.Join(filepath.Dir(dir), "shared", "atomic-red-team")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("no %s beside %s or its parents: give the checkout with -atomics", AtomicsDefault, repo)
}

// AtomicReport is the "atomic" section of model/generalisation-report.json.
type AtomicReport struct {
	// Tests and Techniques count what was played (an invocation that
	// reached photo-receive).
	Tests      int     `json:"tests"`
	Techniques int     `json:"techniques"`
	Caught     int     `json:"caught"`
	Recall     float64 `json:"recall"`
	// PerTechnique is the share of a technique's played tests caught.
	PerTechnique map[string]float64          `json:"per_technique"`
	PerTest      map[string]AtomicTestResult `json:"per_test"`
	// Skipped are the Linux tests not played, with the reason.
	Skipped map[string]string `json:"skipped"`
	// Graphs counts the run's graphs: those labelled attack (the tests'
	// invocations and the background windows they caused) and the benign
	// ones of the mixed-in traffic, with how many were flagged.
	Graphs AtomicGraphCounts `json:"graphs"`

	// Baseline is the same benchmark by an earlier detector, when given
	// (-baseline: a previous run's atomic-report.json).
	Baseline *AtomicBaseline `json:"baseline,omitempty"`

	Commit    string  `json:"commit,omitempty"`
	Source    string  `json:"source"`
	Selection string  `json:"selection"`
	Output    string  `json:"output"`
	Training  string  `json:"training"`
	Command   string  `json:"command,omitempty"`
	Date      string  `json:"date,omitempty"`
	Machine   string  `json:"machine,omitempty"`
	DurationS float64 `json:"duration_s,omitempty"`
}

// AtomicBaseline summarises an earlier run for comparison.
type AtomicBaseline struct {
	Detector     string             `json:"detector"`
	Commit       string             `json:"commit,omitempty"`
	Tests        int                `json:"tests"`
	Techniques   int                `json:"techniques"`
	Recall       float64            `json:"recall"`
	PerTechnique map[string]float64 `json:"per_technique"`
	Graphs       AtomicGraphCounts  `json:"graphs"`
	Date         string             `json:"date,omitempty"`
}

// BaselineOf summarises a previous report.
func BaselineOf(r AtomicReport, detector string) *AtomicBaseline {
	return &AtomicBaseline{Detector: detector, Commit: r.Commit, Tests: r.Tests, Techniques: r.Techniques, Recall: r.Recall,
		PerTechnique: r.PerTechnique, Graphs: r.Graphs, Date: r.Date}
}

// AtomicGraphCounts are graph-level counts of an atomic run.
type AtomicGraphCounts struct {
	Attack        int     `json:"attack"`
	AttackFlagged int     `json:"attack_flagged"`
	Benign        int     `json:"benign"`
	BenignFlagged int     `json:"benign_flagged"`
	BenignFPR     float64 `json:"benign_fpr"`
	Missing       int     `json:"missing_verdicts"`
}

// AtomicTestResult is one played test.
type AtomicTestResult struct {
	Name      string `json:"name"`
	Technique string `json:"technique"`
	GUID      string `json:"guid,omitempty"`
	Caught    bool   `json:"caught"`
	// DecidedBy are the parts that flagged its graphs ("egress",
	// "supervised", "invariant", …); Findings their evidence in words.
	DecidedBy []string `json:"decided_by,omitempty"`
	Findings  []string `json:"findings,omitempty"`
	// Graphs labelled attack for the test (invocation and background),
	// Flagged of them, Missing without a verdict.
	Graphs  int `json:"graphs"`
	Flagged int `json:"flagged"`
	Missing int `json:"missing,omitempty"`
	// Status is the HTTP status of the invocation (200: the injection ran
	// and the upload still succeeded).
	Status int    `json:"status"`
	Note   string `json:"note,omitempty"`
}

// ScoreAtomics joins the played steps with the run's invocations and
// verdict records. A test is caught when any graph labelled attack with
// its scenario (its invocation graph, or a background window it caused)
// got an attack verdict.
func ScoreAtomics(steps []AtomicStep, skipped map[string]string, invs []Invocation, recs []VerdictRecord) AtomicReport {
	rep := AtomicReport{PerTechnique: map[string]float64{}, PerTest: map[string]AtomicTestResult{}, Skipped: map[string]string{}}
	for k, v := range skipped {
		rep.Skipped[k] = v
	}
	status := map[string]int{}
	for _, inv := range invs {
		if inv.Label == LabelAttack && !inv.Mixed && inv.Status != 0 {
			status[inv.Scenario] = inv.Status
		}
	}
	type agg struct {
		graphs, flagged, missing int
		parts                    map[string]bool
		findings                 []string
	}
	byTest := map[string]*agg{}
	for _, r := range recs {
		switch {
		case r.Verdict == VerdictMissing:
			rep.Graphs.Missing++
		case r.Label == LabelAttack:
			rep.Graphs.Attack++
			if r.Verdict == VerdictIntrusion {
				rep.Graphs.AttackFlagged++
			}
		default:
			rep.Graphs.Benign++
			if r.Verdict == VerdictIntrusion {
				rep.Graphs.BenignFlagged++
			}
		}
		if r.Label != LabelAttack {
			continue
		}
		a := byTest[r.Scenario]
		if a == nil {
			a = &agg{parts: map[string]bool{}}
			byTest[r.Scenario] = a
		}
		if r.Verdict == VerdictMissing {
			a.missing++
			continue
		}
		a.graphs++
		if r.Verdict != VerdictIntrusion {
			continue
		}
		a.flagged++
		if r.Source != "" {
			a.parts[r.Source] = true
		}
		for _, f := range r.Findings {
			if f.Part != "" {
				a.parts[f.Part] = true
			}
			if len(a.findings) < 4 && f.Text != "" {
				t := f.Part + ": " + f.Text
				if f.Technique != "" {
					t += " (" + f.Technique + ")"
				}
				a.findings = append(a.findings, t)
			}
		}
		if r.Source == "" && len(r.Findings) == 0 {
			a.parts["unnamed"] = true
		}
	}
	rep.Graphs.BenignFPR = ratio(rep.Graphs.BenignFlagged, rep.Graphs.Benign)

	played := map[string][2]int{} // technique → caught, played
	for _, st := range steps {
		id := st.Test.ID()
		code, ok := status[id]
		if !ok {
			rep.Skipped[id] = "not played: its invocation did not reach the function"
			continue
		}
		res := AtomicTestResult{Name: st.Test.Name, Technique: st.Test.Technique, GUID: st.Test.GUID, Status: code}
		if a := byTest[id]; a != nil {
			res.Graphs, res.Flagged, res.Missing = a.graphs, a.flagged, a.missing
			res.Caught = a.flagged > 0
			for p := range a.parts {
				res.DecidedBy = append(res.DecidedBy, p)
			}
			sort.Strings(res.DecidedBy)
			res.Findings = a.findings
		}
		switch {
		case res.Caught:
		case res.Graphs == 0 && res.Missing == 0:
			res.Note = "missed: no graph labelled attack (the invocation's graph did not arrive)"
		case res.Graphs == 0:
			res.Note = "missed: its graphs got no verdict"
		default:
			res.Note = fmt.Sprintf("missed: %d attack graph(s), none flagged", res.Graphs)
		}
		rep.PerTest[id] = res
		c := played[st.Test.Technique]
		c[1]++
		if res.Caught {
			c[0]++
			rep.Caught++
		}
		played[st.Test.Technique] = c
	}
	rep.Tests = len(rep.PerTest)
	rep.Techniques = len(played)
	rep.Recall = ratio(rep.Caught, rep.Tests)
	for t, c := range played {
		rep.PerTechnique[t] = ratio(c[0], c[1])
	}
	return rep
}

// ReadVerdictRecords reads a run's verdicts.jsonl.
func ReadVerdictRecords(path string) ([]VerdictRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []VerdictRecord
	dec := json.NewDecoder(bufio.NewReader(f))
	for {
		var r VerdictRecord
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, r)
	}
}

// MergeReportSection replaces one top-level section of the JSON object in
// path (other commands write the other sections) and writes it back
// through a temporary file. A missing file starts empty; a file that is
// not a JSON object is an error, not overwritten.
func MergeReportSection(path, section string, v any) error {
	doc := map[string]json.RawMessage{}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(strings.TrimSpace(string(b))) > 0 {
			if err := json.Unmarshal(b, &doc); err != nil {
				return fmt.Errorf("%s is not a JSON object (left as it is): %w", path, err)
			}
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	doc[section] = raw
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

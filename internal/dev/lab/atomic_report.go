package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
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
	// RecallWithUnattributed also counts a test whose own container had a
	// background window flagged that the lab's labelling could not tie to
	// the test's process (labelled benign; see AtomicTestResult).
	RecallWithUnattributed float64 `json:"recall_with_unattributed_windows"`
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

	Commit string `json:"commit,omitempty"`
	// Learning says how the per-function profiles learnt before the
	// attacks ("" when they did not: then they were still learning and
	// found nothing).
	Learning string `json:"learning,omitempty"`
	// Control is a no-op script (true) delivered exactly as every test
	// is (flaw (a), timeout, sh -c, base64): what the detector finds in
	// it is the delivery, not a technique. BeyondDelivery counts the
	// tests caught with at least one finding the control does not have,
	// and RecallBeyondDelivery is their share.
	Control              *AtomicTestResult `json:"control,omitempty"`
	BeyondDelivery       int               `json:"caught_beyond_delivery,omitempty"`
	RecallBeyondDelivery float64           `json:"recall_beyond_delivery,omitempty"`

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
	Attack        int `json:"attack"`
	AttackFlagged int `json:"attack_flagged"`
	// Benign are the graphs of the mixed-in benign traffic and of the
	// functions the attacked one calls; BenignFPR is theirs.
	Benign        int     `json:"benign"`
	BenignFlagged int     `json:"benign_flagged"`
	BenignFPR     float64 `json:"benign_fpr"`
	// Unattributed are background windows of the attacked container
	// during a test that the labelling left benign (no link to the test's
	// process, e.g. after the tracer re-attached mid-test); kept apart from
	// the benign traffic's FPR because nothing but the test ran there.
	Unattributed        int `json:"attacked_container_unattributed_windows"`
	UnattributedFlagged int `json:"attacked_container_unattributed_flagged"`
	Missing             int `json:"missing_verdicts"`
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
	// UnattributedFlagged counts background windows of the test's own
	// container, labelled benign because the labelling could not tie them
	// to the test's process, that were flagged (UnattributedBy: parts).
	UnattributedFlagged int      `json:"unattributed_windows_flagged,omitempty"`
	UnattributedBy      []string `json:"unattributed_decided_by,omitempty"`
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
		unattr                   int
		unattrBy                 map[string]bool
	}
	byTest := map[string]*agg{}
	get := func(id string) *agg {
		a := byTest[id]
		if a == nil {
			a = &agg{parts: map[string]bool{}, unattrBy: map[string]bool{}}
			byTest[id] = a
		}
		return a
	}
	ids := map[string]bool{}
	for _, st := range steps {
		ids[st.Test.ID()] = true
	}
	for _, r := range recs {
		// A background window of the attacked function carrying a test's
		// scenario lies in that test's container: the function gets no
		// other call, and is recycled after each test.
		unattributed := r.Label != LabelAttack && r.Window == provenance.WindowBackground && r.Function == AtomicFunction && ids[r.Scenario]
		switch {
		case r.Verdict == VerdictMissing:
			rep.Graphs.Missing++
		case r.Label == LabelAttack:
			rep.Graphs.Attack++
			if r.Verdict == verdict.Attack {
				rep.Graphs.AttackFlagged++
			}
		case unattributed:
			rep.Graphs.Unattributed++
			if r.Verdict == verdict.Attack {
				rep.Graphs.UnattributedFlagged++
				a := get(r.Scenario)
				a.unattr++
				a.unattrBy[partOf(r)] = true
			}
		default:
			rep.Graphs.Benign++
			if r.Verdict == verdict.Attack {
				rep.Graphs.BenignFlagged++
			}
		}
		if r.Label != LabelAttack {
			continue
		}
		a := get(r.Scenario)
		if r.Verdict == VerdictMissing {
			a.missing++
			continue
		}
		a.graphs++
		if r.Verdict != verdict.Attack {
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
	withUnattr := 0
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
			res.UnattributedFlagged = a.unattr
			for p := range a.unattrBy {
				res.UnattributedBy = append(res.UnattributedBy, p)
			}
			sort.Strings(res.UnattributedBy)
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
		if !res.Caught && res.UnattributedFlagged > 0 {
			res.Note += fmt.Sprintf("; %d background window(s) of its container flagged but not tied to it by the labelling", res.UnattributedFlagged)
		}
		if res.Caught || res.UnattributedFlagged > 0 {
			withUnattr++
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
	rep.RecallWithUnattributed = ratio(withUnattr, rep.Tests)
	for t, c := range played {
		rep.PerTechnique[t] = ratio(c[0], c[1])
	}
	return rep
}

func partOf(r VerdictRecord) string {
	if r.Source != "" {
		return r.Source
	}
	for _, f := range r.Findings {
		if f.Part != "" {
			return f.Part
		}
	}
	return "unnamed"
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

// ScoreBeyondDelivery fills Control, BeyondDelivery and
// RecallBeyondDelivery from the control's result: a test counts when it was
// caught with a finding the control, the same delivery running `true`,
// does not have.
//
// Findings are compared with their base64 runs folded: the injected command
// line, which the argv profile dimension reports, differs from test to
// test only by the encoded script, and is the delivery all the same.
func (r *AtomicReport) ScoreBeyondDelivery(control AtomicTestResult) {
	r.Control = &control
	seen := map[string]bool{}
	for _, f := range control.Findings {
		seen[foldBase64(f)] = true
	}
	r.BeyondDelivery = 0
	for _, t := range r.PerTest {
		if !t.Caught {
			continue
		}
		for _, f := range t.Findings {
			// A finding about the injected command line itself (the
			// argv profile dimension quotes it, cut at its own length)
			// is the delivery too.
			// A blind spot (a sensor restarted, a table full) says what
			// was not seen, not what the technique did: it names a
			// stream or a count that differs from test to test, and
			// counted here it made every test "beyond the delivery".
			if strings.HasPrefix(f, verdict.PartBlindSpot+":") {
				continue
			}
			if !seen[foldBase64(f)] && !strings.Contains(f, injectMark) {
				r.BeyondDelivery++
				break
			}
		}
	}
	if r.Tests > 0 {
		r.RecallBeyondDelivery = float64(r.BeyondDelivery) / float64(r.Tests)
	}
}

// ControlStep is the delivery control: a no-op script played like an
// atomic test (technique "T0000", which ATT&CK does not use).
func ControlStep() AtomicStep {
	return AtomicStep{Test: AtomicTest{Name: "delivery control: the injection running true", Technique: "T0000", Number: 1},
		Shell: "sh", Script: "true\n"}
}

// injectMark is how every injected command line starts inside photo-receive's
// format field (InjectFormat).
const injectMark = "png$(timeout"

// encodedScript is the script as InjectFormat encodes it into the command
// line ("echo <base64>|base64 -d").
var encodedScript = regexp.MustCompile(`echo [A-Za-z0-9+/=]+\|base64`)

func foldBase64(s string) string { return encodedScript.ReplaceAllString(s, "echo B64|base64") }

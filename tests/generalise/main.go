package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/faasmon/faasmon/internal/dev/lab"
	"github.com/faasmon/faasmon/internal/dev/localstack"
)

// trainingData is where `make dataset` writes the lab's training graphs;
// this benchmark refuses to write there.
const trainingData = "/tmp/faasmon-lab"

func main() {
	if len(os.Args) < 2 || os.Args[1] != "atomic" {
		fmt.Fprintln(os.Stderr, "usage: go run ./tests/generalise atomic [-atomics DIR] [-out DIR] [-report FILE] [-only IDS] [-list]")
		os.Exit(2)
	}
	if err := atomic(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "generalise:", err)
		os.Exit(1)
	}
}

func atomic(args []string) error {
	fs := flag.NewFlagSet("atomic", flag.ExitOnError)
	atomicsDir := fs.String("atomics", "", "Atomic Red Team checkout (default: ../shared/atomic-red-team beside the repository)")
	out := fs.String("out", "/tmp/faasmon-generalise/atomic", "output directory of the run (graphs, verdicts); never training data")
	report := fs.String("report", "", "report file (default <repo>/model/generalisation-report.json); only its \"atomic\" section is replaced")
	only := fs.String("only", "", "comma-separated test ids (T1059.004-5) or techniques (T1059.004) to play; default all selected")
	list := fs.Bool("list", false, "print the selection and the skipped tests with reasons, run nothing")
	limit := fs.Int("time-limit", 8, "seconds after which a test's processes are killed (flaw (a)'s exec allows 15)")
	mix := fs.Int("mix-benign", 1, "benign calls from the lab's benign pool around each test")
	wait := fs.Duration("wait", time.Second, "pause after each test before photo-receive is recycled (background windows)")
	seed := fs.Uint64("seed", 1, "random seed of the bodies and the benign mix")
	graphs := fs.String("graphs", lab.GraphArchive, "faasmon-graph's archive_dir")
	noUp := fs.Bool("no-up", false, "do not start the local stack")
	noDeploy := fs.Bool("no-deploy", false, "do not deploy (already deployed)")
	baseline := fs.String("baseline", "", "a previous run's atomic-report.json to show beside this one (e.g. an earlier detector)")
	baselineName := fs.String("baseline-name", "earlier detector", "what -baseline measured, in words")
	learn := fs.Int("learn", 0, "rounds of the lab's benign traffic played before the attacks, so that the per-function profiles learn and arm (0: none; they then learn during the attacks' benign mix and find nothing)")
	learnGraphs := fs.Int("learn-graphs", 40, "with -learn: profile_learn_graphs for this run's detector (a profile arms after this many benign graphs)")
	noControl := fs.Bool("no-control", false, "do not play the delivery control (a no-op script through the same injection)")
	rescore := fs.Bool("rescore", false, "score the finished run in -out again (after a labelling or scoring change) without playing anything")
	_ = fs.Parse(args)

	wd, _ := os.Getwd()
	repo, err := localstack.RepoRoot(wd)
	if err != nil {
		return err
	}
	if *atomicsDir == "" {
		if *atomicsDir, err = lab.FindAtomics(repo); err != nil {
			return err
		}
	}
	if *report == "" {
		*report = filepath.Join(repo, "model", "generalisation-report.json")
	}
	absOut, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(trainingData, absOut); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("-out %s is inside the lab's training data %s: the atomics are an evaluation set", absOut, trainingData)
	}

	tests, err := lab.ReadAtomics(*atomicsDir)
	if err != nil {
		return err
	}
	steps, skipped := lab.SelectAtomics(tests, lab.SelectEnv{})
	if *only != "" {
		want := map[string]bool{}
		for _, x := range strings.Split(*only, ",") {
			want[strings.TrimSpace(x)] = true
		}
		var keep []lab.AtomicStep
		for _, st := range steps {
			if want[st.Test.ID()] || want[st.Test.Technique] {
				keep = append(keep, st)
			}
		}
		steps = keep
	}
	techs := map[string]bool{}
	for _, st := range steps {
		techs[st.Test.Technique] = true
	}
	fmt.Fprintf(os.Stderr, "generalise: %s: %d tests read, %d selected over %d techniques, %d Linux tests skipped\n",
		*atomicsDir, len(tests), len(steps), len(techs), len(skipped))
	if *list {
		for _, st := range steps {
			fmt.Printf("play %-14s %-5s %s\n", st.Test.ID(), st.Shell, st.Test.Name)
			for _, r := range st.Rewrites {
				fmt.Printf("     rewrite %s\n", r)
			}
		}
		ids := make([]string, 0, len(skipped))
		for k := range skipped {
			ids = append(ids, k)
		}
		sort.Strings(ids)
		for _, k := range ids {
			fmt.Printf("skip %-14s %s\n", k, skipped[k])
		}
		return nil
	}
	if len(steps) == 0 {
		return fmt.Errorf("no atomic test selected")
	}
	scenDir := filepath.Join(absOut, "scenarios")
	var base *lab.AtomicBaseline
	if *baseline != "" {
		b, err := os.ReadFile(*baseline)
		if err != nil {
			return err
		}
		var prev lab.AtomicReport
		if err := json.Unmarshal(b, &prev); err != nil {
			return fmt.Errorf("-baseline %s: %w", *baseline, err)
		}
		base = lab.BaselineOf(prev, *baselineName)
	}
	if *rescore {
		return rescoreRun(absOut, scenDir, *report, steps, skipped, base)
	}

	_ = os.RemoveAll(scenDir)
	_ = os.Remove(filepath.Join(absOut, "atomic-report.json"))
	var scenarios []*lab.Scenario
	for _, st := range steps {
		s, err := lab.AtomicScenario(st, scenDir, lab.AtomicOptions{TimeLimit: *limit, MixBenign: *mix,
			Wait: wait.String(), BenignPool: filepath.Join(repo, "tests", "lab", "scenarios", "benign.yaml")})
		if err != nil {
			return err
		}
		scenarios = append(scenarios, s)
	}
	var control lab.AtomicStep
	if !*noControl {
		control = lab.ControlStep()
		s, err := lab.AtomicScenario(control, scenDir, lab.AtomicOptions{TimeLimit: *limit, MixBenign: *mix,
			Wait: wait.String(), BenignPool: filepath.Join(repo, "tests", "lab", "scenarios", "benign.yaml")})
		if err != nil {
			return err
		}
		// First, so that nothing a test left behind can be mistaken
		// for the delivery's own findings.
		scenarios = append([]*lab.Scenario{s}, scenarios...)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	var env []string
	learning := ""
	if *learn > 0 {
		// The profiles learn from the lab's benign traffic, as a user's
		// deployment learns from its first invocations, and arm before
		// the attacks; nothing of the attacks is learnt (a graph another
		// part flagged is never learnt, and an armed profile only checks).
		env = []string{fmt.Sprintf("profile_learn_graphs=%d", *learnGraphs)}
		learning = fmt.Sprintf("%d rounds of tests/lab/scenarios/benign.yaml before the attacks, profile_learn_graphs=%d", *learn, *learnGraphs)
		if _, err := lab.Run(ctx, lab.Options{Scenarios: []string{filepath.Join(repo, "tests", "lab", "scenarios", "benign.yaml")},
			Out: filepath.Join(absOut, "learning"), Rounds: *learn, Seed: *seed + 1000, Graphs: *graphs,
			Repo: repo, Detector: true, NoResponse: true, DetectorEnv: env, SkipUp: *noUp, SkipDeploy: *noDeploy}); err != nil {
			return fmt.Errorf("learning phase: %w", err)
		}
		*noUp, *noDeploy = true, true // the same deployment: its profiles
	}
	res, err := lab.Run(ctx, lab.Options{Loaded: scenarios, Out: absOut, Rounds: 1, Seed: *seed, Graphs: *graphs,
		Repo: repo, Detector: true, NoResponse: true, DetectorEnv: env, SkipUp: *noUp, SkipDeploy: *noDeploy})
	if err != nil {
		return err
	}
	dur := time.Since(start)
	recs, err := lab.ReadJSONL[lab.VerdictRecord](filepath.Join(absOut, "verdicts.jsonl"))
	if err != nil {
		return err
	}
	rep := lab.ScoreAtomics(steps, skipped, res.Invocations, recs)
	rep.Learning = learning
	if !*noControl {
		c := lab.ScoreAtomics([]lab.AtomicStep{control}, nil, res.Invocations, recs)
		rep.ScoreBeyondDelivery(c.PerTest[control.Test.ID()])
	}
	rep.Source = *atomicsDir
	rep.Commit = gitHead(repo)
	rep.Baseline = base
	rep.Selection = "Linux tests with an sh/bash executor, no elevation, dependencies only when every prerequisite just checks that a tool is installed and it is (nothing installed or created), no upstream payload files, every command on the function's PATH, and nothing destructive or persistent outside the sandbox (internal/dev/lab/atomic.go); input arguments at their defaults; URLs, IPs and host names rewritten to the attacker 10.66.0.2; one invocation each through flaw (a) (photo-receive's format field) as the function user, killed after the time limit"
	rep.Output = filepath.Join(absOut, "graphs")
	rep.Training = "none: these graphs are written under " + absOut + " only, outside the lab's training data (" + trainingData + "); profiles learn from benign traffic and the supervised model from the lab's own attacks"
	rep.Command = "make generalise (go run ./tests/generalise atomic" + onlyFlag(*only) + ")"
	rep.Date = time.Now().UTC().Format("2006-01-02")
	rep.Machine = machine()
	rep.DurationS = dur.Round(time.Second).Seconds()
	if err := writeJSON(filepath.Join(absOut, "atomic-report.json"), rep); err != nil {
		return err
	}
	if err := lab.MergeReportSection(*report, "atomic", rep); err != nil {
		return err
	}
	printSummary(rep, *report)
	return nil
}

func printSummary(rep lab.AtomicReport, report string) {
	fmt.Printf("atomic: %d tests over %d techniques played, %d caught: recall %.3f (%.3f with unattributed windows of their containers); attack graphs %d (%d flagged), benign graphs %d (%d flagged, FPR %.4f), %d without verdict; %s (run %gs)\n",
		rep.Tests, rep.Techniques, rep.Caught, rep.Recall, rep.RecallWithUnattributed, rep.Graphs.Attack, rep.Graphs.AttackFlagged,
		rep.Graphs.Benign, rep.Graphs.BenignFlagged, rep.Graphs.BenignFPR, rep.Graphs.Missing, report, rep.DurationS)
	if rep.Control != nil {
		fmt.Printf("atomic: delivery control caught %v (%s); caught beyond the delivery: %d, recall %.3f; profiles: %s\n",
			rep.Control.Caught, strings.Join(rep.Control.DecidedBy, ","), rep.BeyondDelivery, rep.RecallBeyondDelivery, rep.Learning)
	}
}

// rescoreRun scores a finished run again: the tests whose scenario the run
// played (its scenarios/ dir), its invocations and verdicts; the run's
// facts (commit, date, machine, duration, and the baseline unless base
// replaces it) are kept from its atomic-report.json.
func rescoreRun(out, scenDir, report string, steps []lab.AtomicStep, skipped map[string]string, base *lab.AtomicBaseline) error {
	var prev lab.AtomicReport
	b, err := os.ReadFile(filepath.Join(out, "atomic-report.json"))
	if err != nil {
		return fmt.Errorf("-rescore: %w", err)
	}
	if err := json.Unmarshal(b, &prev); err != nil {
		return fmt.Errorf("-rescore: %w", err)
	}
	var played []lab.AtomicStep
	for _, st := range steps {
		if _, err := os.Stat(filepath.Join(scenDir, lab.AtomicScenarioName(st.Test.ID())+".yaml")); err == nil {
			played = append(played, st)
		}
	}
	invs, err := lab.ReadJSONL[lab.Invocation](filepath.Join(out, "invocations.jsonl"))
	if err != nil {
		return err
	}
	recs, err := lab.ReadJSONL[lab.VerdictRecord](filepath.Join(out, "verdicts.jsonl"))
	if err != nil {
		return err
	}
	rep := lab.ScoreAtomics(played, skipped, invs, recs)
	rep.Learning = prev.Learning
	if control := lab.ControlStep(); fileExists(filepath.Join(scenDir, lab.AtomicScenarioName(control.Test.ID())+".yaml")) {
		c := lab.ScoreAtomics([]lab.AtomicStep{control}, nil, invs, recs)
		rep.ScoreBeyondDelivery(c.PerTest[control.Test.ID()])
	}
	rep.Baseline, rep.Commit, rep.Source, rep.Selection, rep.Output, rep.Training = prev.Baseline, prev.Commit, prev.Source, prev.Selection, prev.Output, prev.Training
	rep.Command, rep.Date, rep.Machine, rep.DurationS = prev.Command, prev.Date, prev.Machine, prev.DurationS
	if base != nil {
		rep.Baseline = base
	}
	if err := writeJSON(filepath.Join(out, "atomic-report.json"), rep); err != nil {
		return err
	}
	if err := lab.MergeReportSection(report, "atomic", rep); err != nil {
		return err
	}
	printSummary(rep, report)
	return nil
}

// gitHead is the commit the detector was built from, with "+dirty" when
// the tree has changes.
func gitHead(repo string) string {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	head := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		head += "+dirty"
	}
	return head
}

func onlyFlag(only string) string {
	if only == "" {
		return ""
	}
	return " -only " + only
}

func machine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d CPUs, %s/%s, %s", host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

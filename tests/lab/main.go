package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/faasmon/faasmon/internal/dev/lab"
	"github.com/faasmon/faasmon/pkg/envconf"
	"github.com/faasmon/faasmon/pkg/streaming"
)

// multi is a flag that may be repeated and also takes several values after
// one flag (so that a shell glob works: -scenario tests/lab/scenarios/*.yaml).
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// splitScenarios takes "-scenario A B C" (what a shell glob gives) out of
// args, so that flags may follow the list: -scenario a.yaml b.yaml -out DIR.
func splitScenarios(args []string, scenarios *multi) []string {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a != "-scenario" && a != "--scenario" {
			if v, ok := strings.CutPrefix(a, "-scenario="); ok {
				*scenarios = append(*scenarios, v)
			} else if v, ok := strings.CutPrefix(a, "--scenario="); ok {
				*scenarios = append(*scenarios, v)
			} else {
				rest = append(rest, a)
			}
			continue
		}
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			*scenarios = append(*scenarios, args[i])
		}
	}
	return rest
}

func main() {
	if len(os.Args) >= 3 && os.Args[1] == "relabel" {
		relabel(os.Args[2:])
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "foreign" {
		foreign(os.Args[2:])
		return
	}
	if len(os.Args) < 2 || os.Args[1] != "run" {
		fmt.Fprintln(os.Stderr, "usage: go run ./tests/lab run -scenario FILE... -out DIR [-n N] [-seed S] [-gateway URL] [-graphs DIR]")
		fmt.Fprintln(os.Stderr, "       go run ./tests/lab relabel DIR...   (label a run's graphs again with the current rules)")
		fmt.Fprintln(os.Stderr, "       go run ./tests/lab foreign -dir DIR [-learn N] [-eval M] [-out DIR]   (public functions' FPR; see tests/lab/foreign/README.md)")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var scenarios, stacks multi
	fs.Var(&scenarios, "scenario", "scenario file (repeatable; further non-flag arguments are scenario files too)")
	fs.Var(&stacks, "stack", "extra stack file to deploy, e.g. the detector's (repeatable)")
	out := fs.String("out", "", "output directory (required)")
	n := fs.Int("n", 1, "rounds: times each scenario is played")
	seed := fs.Uint64("seed", 1, "random seed (bodies, mix_benign)")
	gw := fs.String("gateway", "", "gateway URL (default http://127.0.0.1:8080)")
	graphs := fs.String("graphs", envconf.Lookup(os.LookupEnv).String("FAASMON_GRAPH_ARCHIVE", lab.GraphArchive), "faasmon-graph's archive_dir (stack.yml's); empty: no labelling")
	channel := fs.String("verdict-channel", streaming.VerdictChannel, "NATS Streaming channel with every classify result")
	detector := fs.Bool("detector", true, "deploy the detector (stack.yml) and run the tracer during the run")
	noResponse := fs.Bool("no-response", false, "deploy the detector with faasmon-alert's response off (datasets: keeps the reuse attack's second stage on the tainted container)")
	noUp := fs.Bool("no-up", false, "do not start the local stack")
	noDeploy := fs.Bool("no-deploy", false, "do not deploy stack files (already deployed)")
	graphIdle := fs.Duration("graph-idle", 20*time.Second, "stop waiting for graphs after this long without a new one")
	verdictIdle := fs.Duration("verdict-idle", 30*time.Second, "stop waiting for verdicts after this long without a new one")
	_ = fs.Parse(splitScenarios(os.Args[2:], &scenarios))
	// Anything left after the flags is a scenario file too.
	scenarios = append(scenarios, fs.Args()...)
	if *out == "" || len(scenarios) == 0 {
		fmt.Fprintln(os.Stderr, "lab run: -scenario and -out are required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := lab.Run(ctx, lab.Options{
		Scenarios: scenarios, Out: *out, Rounds: *n, Seed: *seed, Gateway: *gw, Graphs: *graphs,
		Stacks: stacks, Detector: *detector, NoResponse: *noResponse, SkipUp: *noUp, SkipDeploy: *noDeploy, VerdictChannel: *channel, GraphIdle: *graphIdle, VerdictIdle: *verdictIdle,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
	if *graphs != "" {
		fmt.Println(res.Summary.Line())
	}
}

// foreign runs the public-functions benchmark (internal/dev/lab/foreign.go).
func foreign(args []string) {
	fs := flag.NewFlagSet("foreign", flag.ExitOnError)
	dir := fs.String("dir", "", "directory holding the public functions' checkouts (required; see tests/lab/foreign/README.md)")
	data := fs.String("functions", "", "data file (default tests/lab/foreign/functions.yaml)")
	out := fs.String("out", "/tmp/faasmon-foreign", "output directory of this evaluation run (outside the repository; never training data)")
	report := fs.String("report", "", "generalisation report to update (default model/generalisation-report.json; only its foreign section is replaced)")
	learn := fs.Int("learn", 2, "learning rounds (not judged; per-function profiles learn here)")
	eval := fs.Int("eval", 4, "evaluation rounds (judged)")
	learnGraphs := fs.Int("learn-graphs", 0, "profile_learn_graphs for this run's detector, so that the profiles arm within the learning rounds (0: the detector's default, 200)")
	seed := fs.Uint64("seed", 1, "random seed (bodies)")
	noUp := fs.Bool("no-up", false, "do not start the local stack")
	graphIdle := fs.Duration("graph-idle", 20*time.Second, "stop waiting for graphs after this long without a new one")
	verdictIdle := fs.Duration("verdict-idle", 30*time.Second, "stop waiting for verdicts after this long without a new one")
	_ = fs.Parse(args)
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "lab foreign: -dir is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := lab.RunForeign(ctx, lab.ForeignOptions{
		Dir: *dir, Data: *data, Out: *out, Report: *report, LearnRounds: *learn, EvalRounds: *eval, Seed: *seed,
		Command: "go run ./tests/lab foreign " + strings.Join(args, " "),
		Lab:     lab.Options{SkipUp: *noUp, GraphIdle: *graphIdle, VerdictIdle: *verdictIdle, DetectorEnv: learnEnv(*learnGraphs)},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
	fmt.Printf("foreign: %d functions, %d invocations, %d graphs judged (evaluation rounds), %d flagged, fpr %.4f, %d alerts, %d missing verdicts, %.0f s\n",
		rep.Functions, rep.Invocations, rep.Graphs, rep.Flagged, rep.FPR, rep.Alerts, rep.Missing, rep.DurationS)
}

// learnEnv is the detector's profile_learn_graphs setting, if any.
func learnEnv(n int) []string {
	if n <= 0 {
		return nil
	}
	return []string{fmt.Sprintf("profile_learn_graphs=%d", n)}
}

func relabel(dirs []string) {
	for _, d := range dirs {
		st, err := lab.Relabel(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lab:", err)
			os.Exit(1)
		}
		fmt.Printf("%s: %d invocation, %d downstream, %d background (%d attack, %d idle in a compromised container), %d tainted\n",
			d, st.Invocation, st.Downstream, st.Background, st.BackgroundAtk, st.BackgroundIdle, st.TaintedAtk)
	}
}

package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/pkg/alert"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/invoke"
	"github.com/faasmon/faasmon/pkg/provider"
	"github.com/faasmon/faasmon/pkg/streaming"
)

// Options configure a lab run.
type Options struct {
	Scenarios []string // scenario files
	// Loaded are scenarios built in code (e.g. AtomicScenario), played
	// after the files.
	Loaded  []*Scenario
	Out     string // output directory
	Rounds  int    // times each scenario is played (-n); default 1
	Seed    uint64
	Gateway string // default http://127.0.0.1:8080
	// Graphs is faasmon-graph's archive directory (its archive_dir); empty
	// skips collecting graphs and verdicts.
	Graphs string
	// Stacks are extra stack files to deploy after the victim app (e.g. the
	// detector's); scenario files may add their own.
	Stacks      []string
	Repo        string // repository root; found from the working dir when empty
	VictimStack string // default <repo>/tests/lab/stack.yml
	SupplierDir string // default <repo>/tests/lab/supplier
	StackDir    string // local stack state dir (credentials); default FAASMON_STACK_DIR or /tmp/faasmon-stack
	ProviderURL string // for /faasmon/instances and /faasmon/recycle; default the local provider
	NATSURL     string // default nats://127.0.0.1:4222
	Cluster     string // default faas-cluster
	// VerdictChannel is the NATS Streaming channel of classify results;
	// default faasmon-verdicts.
	VerdictChannel string
	// Detector deploys the repository's stack.yml (the detector functions)
	// and runs the tracer for the length of the run.
	Detector bool
	// NoResponse deploys the detector with faasmon-alert's response off
	// (response=off): for datasets, where a recycled container
	// would turn the container-reuse attack's second stage into benign
	// calls on a fresh container. The lab recycles attacked functions
	// after every round either way.
	NoResponse bool
	// DetectorEnv are more KEY=VALUE settings for the detector's
	// functions (faasmon-stack deploy -env), e.g. profile_learn_graphs.
	DetectorEnv []string
	SkipUp      bool // do not start the stack
	SkipDeploy  bool // do not deploy stack files
	// GraphIdle ends the wait for graphs when no new graph arrived for
	// that long; GraphTimeout bounds the wait. VerdictIdle/VerdictTimeout
	// likewise for verdicts.
	GraphIdle, GraphTimeout     time.Duration
	VerdictIdle, VerdictTimeout time.Duration
	InvokeTimeout               time.Duration
	Log                         io.Writer
}

func (o *Options) defaults() error {
	if o.Rounds <= 0 {
		o.Rounds = 1
	}
	if o.Gateway == "" {
		o.Gateway = localstack.GatewayURL
	}
	o.Gateway = strings.TrimRight(o.Gateway, "/")
	if o.Repo == "" {
		wd, _ := os.Getwd()
		r, err := localstack.RepoRoot(wd)
		if err != nil {
			return err
		}
		o.Repo = r
	}
	if o.VictimStack == "" {
		o.VictimStack = filepath.Join(o.Repo, "tests", "lab", "stack.yml")
	}
	if o.SupplierDir == "" {
		o.SupplierDir = filepath.Join(o.Repo, "tests", "lab", "supplier")
	}
	if o.StackDir == "" {
		o.StackDir = localstack.StateDirFromEnv()
	}
	if o.ProviderURL == "" {
		o.ProviderURL = localstack.ProviderURL
	}
	if o.NATSURL == "" {
		o.NATSURL = "nats://" + localstack.NATSAddr
	}
	if o.Cluster == "" {
		o.Cluster = localstack.NATSClusterID
	}
	if o.VerdictChannel == "" {
		o.VerdictChannel = streaming.VerdictChannel
	}
	if o.GraphIdle == 0 {
		o.GraphIdle = 20 * time.Second
	}
	if o.GraphTimeout == 0 {
		o.GraphTimeout = 5 * time.Minute
	}
	if o.VerdictIdle == 0 {
		o.VerdictIdle = 30 * time.Second
	}
	if o.VerdictTimeout == 0 {
		o.VerdictTimeout = 10 * time.Minute
	}
	if o.InvokeTimeout == 0 {
		o.InvokeTimeout = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.Out == "" {
		return errors.New("no output directory")
	}
	if len(o.Scenarios) == 0 && len(o.Loaded) == 0 {
		return errors.New("no scenario files")
	}
	return nil
}

// Result is what a run produced.
type Result struct {
	Summary     Summary
	Invocations []Invocation
	Stats       LabelStats
	Attacker    []Request
	Shell       []Conn
}

// runner holds one run's state.
type runner struct {
	o        Options
	traced   bool // a tracer runs: wait for it to attach to new instances
	gw       *gateway
	attacker *Host
	supplier *Host
	baseSup  map[string]ServedFile
	inv      *os.File
	invEnc   *json.Encoder

	mu          sync.Mutex
	invocations []Invocation
	recycles    []Recycle
	containers  map[string]string // function → current instance id
	// traced is, per function, the instance the tracer was last seen
	// attached to: a call to another (the detector's response recycled
	// the container) waits until the tracer follows.
	tracedID map[string]string
}

// Run plays the scenarios and writes the dataset. See tests/lab/README.md.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	scenarios, err := LoadScenarios(o.Scenarios)
	if err != nil {
		return Result{}, err
	}
	scenarios = append(scenarios, o.Loaded...)
	pools := map[string]*Scenario{}
	for _, s := range scenarios {
		if needsPool(s) {
			p := s.PoolPath()
			if _, ok := pools[p]; !ok {
				ps, err := LoadScenario(p)
				if err != nil {
					return Result{}, fmt.Errorf("benign pool of %s: %w", s.Path, err)
				}
				pools[p] = ps
			}
		}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return Result{}, err
	}
	r := &runner{o: o, containers: map[string]string{}, tracedID: map[string]string{}}
	logf := func(format string, a ...any) { fmt.Fprintf(o.Log, "lab: "+format+"\n", a...) }

	if !o.SkipUp {
		if err := ensureUp(ctx, o, logf); err != nil {
			return Result{}, err
		}
	}
	creds, err := readCredentials(o.StackDir)
	if err != nil {
		return Result{}, err
	}
	if r.gw, err = newGateway(o, creds); err != nil {
		return Result{}, err
	}

	runStart := time.Now().UTC()
	var sub *Subscriber
	if o.Graphs != "" {
		if sub, err = Subscribe(o.NATSURL, o.Cluster, o.VerdictChannel, runStart.Add(-time.Second)); err != nil {
			logf("no verdicts: %v", err)
		}
	}
	defer sub.Close()

	// Lab hosts: attacker and supplier, removed whatever happens.
	vars := DefaultVars()
	if r.attacker, err = StartHost(ctx, AttackerConfig(), vars); err != nil {
		return Result{}, err
	}
	defer r.attacker.Close()
	if r.supplier, err = StartHost(ctx, SupplierConfig(), vars); err != nil {
		return Result{}, err
	}
	defer r.supplier.Close()
	if r.baseSup, err = LoadDirFiles(o.SupplierDir); err != nil {
		return Result{}, err
	}
	r.supplier.SetFiles(r.baseSup)
	logf("lab hosts up: attacker %s (http :80, shell :%d), supplier %s", AttackerIP, ShellPort, SupplierIP)

	// Deploy the victim app, the extra stacks and the scenarios' stacks.
	functions := map[string]bool{}
	stacks := append([]string{o.VictimStack}, o.Stacks...)
	for _, s := range scenarios {
		if s.Stack != "" {
			stacks = append(stacks, s.Stack)
		}
	}
	victim := map[string]bool{o.VictimStack: true}
	for _, s := range scenarios {
		if s.Stack != "" {
			victim[s.Stack] = true
		}
	}
	seenStack := map[string]bool{}
	for _, st := range stacks {
		if seenStack[st] {
			continue
		}
		seenStack[st] = true
		sf, err := readStackFile(st)
		if err != nil {
			return Result{}, err
		}
		if victim[st] {
			for fn := range sf.Functions {
				functions[fn] = true
			}
		}
		if o.SkipDeploy {
			continue
		}
		if err := r.gw.ensureSecrets(ctx, sf.secretNames()); err != nil {
			return Result{}, err
		}
		if err := deployStack(ctx, o, st, logf); err != nil {
			return Result{}, err
		}
	}
	if o.Detector {
		if !o.SkipDeploy {
			// The victim app's reviewed exceptions to the invariants, as
			// its owner would deploy them (tests/lab/invariant-exceptions.yaml),
			// inline: the function cannot read the repository.
			exc, err := os.ReadFile(filepath.Join(o.Repo, "tests", "lab", "invariant-exceptions.yaml"))
			if err != nil {
				return Result{}, fmt.Errorf("the lab's invariant exceptions: %w", err)
			}
			env := []string{"-env", "invariant_exceptions=" + string(exc)}
			if o.NoResponse {
				env = append(env, "-env", alert.EnvResponse+"=off")
			}
			for _, kv := range o.DetectorEnv {
				env = append(env, "-env", kv)
			}
			if err := deployStack(ctx, o, filepath.Join(o.Repo, "stack.yml"), logf, env...); err != nil {
				return Result{}, err
			}
		}
		tr, err := StartTracer(ctx, o.Repo, o.StackDir)
		if err != nil {
			return Result{}, err
		}
		defer tr.Stop()
		logf("tracer up (metrics http://%s/metrics, log %s)", TracerAddr, tr.Log)
		r.traced = true
	}
	fnList := sortedKeys(functions)
	if err := r.gw.waitReady(ctx, fnList, 2*time.Minute); err != nil {
		return Result{}, err
	}
	r.refreshContainers(ctx)
	r.waitTraced(ctx, fnList...)

	r.inv, err = os.Create(filepath.Join(o.Out, "invocations.jsonl"))
	if err != nil {
		return Result{}, err
	}
	defer r.inv.Close()
	r.invEnc = json.NewEncoder(r.inv)
	r.invEnc.SetEscapeHTML(false)

	// Play.
	for round := 0; round < o.Rounds; round++ {
		for _, s := range scenarios {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			var pool *Pool
			if ps := pools[s.PoolPath()]; ps != nil {
				pool = NewPool(ps, s.AttackedFunctions())
			}
			if err := r.playScenario(ctx, s, round, pool, vars, logf); err != nil {
				return Result{}, err
			}
		}
	}
	runEnd := time.Now().UTC()
	// A response may still recycle after the last call: look once more,
	// after the detector had time to act, before recycles are written.
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
	r.refreshContainers(ctx)
	res := Result{Invocations: r.invocations, Attacker: r.attacker.Requests(), Shell: r.attacker.Conns()}
	if err := errors.Join(
		WriteJSONL(filepath.Join(o.Out, "recycles.jsonl"), r.recycles),
		WriteJSONL(filepath.Join(o.Out, "attacker-requests.jsonl"), res.Attacker),
		WriteJSONL(filepath.Join(o.Out, "attacker-connections.jsonl"), res.Shell),
		WriteJSONL(filepath.Join(o.Out, "supplier-requests.jsonl"), r.supplier.Requests()),
	); err != nil {
		return res, err
	}
	failed := 0
	for _, inv := range r.invocations {
		if inv.Status/100 != 2 {
			failed++
		}
	}
	logf("played %d invocations (%d not 2xx), attacker saw %d requests and %d shell connections",
		len(r.invocations), failed, len(res.Attacker), len(res.Shell))

	if o.Graphs == "" {
		logf("no -graphs directory: graphs, labels and verdicts skipped")
		return res, nil
	}

	// Collect and label graphs.
	lb := &Labeler{Invocations: r.invocations, Recycles: r.recycles, Functions: functions, RunStart: runStart, RunEnd: runEnd.Add(o.GraphIdle)}
	graphs := r.waitGraphs(ctx, lb, logf)
	labelled, stats := lb.LabelAll(graphs)
	res.Stats = stats
	if err := WriteGraphs(filepath.Join(o.Out, "graphs"), labelled); err != nil {
		return res, err
	}
	writeJSON(filepath.Join(o.Out, "label-stats.json"), stats)
	logf("graphs: %d labelled (%d invocation, %d downstream, %d background of which %d attack, %d tainted), %d invocations without a graph, %d unmatched call ids, %d unreadable",
		len(labelled), stats.Invocation, stats.Downstream, stats.Background, stats.BackgroundAtk, stats.TaintedAtk, stats.MissingGraphs, stats.Unmatched, stats.Invalid)

	// Verdicts.
	set := NewVerdictSet()
	if sub != nil {
		set = sub.Set
		if missing := set.Wait(labelled, o.VerdictIdle, o.VerdictTimeout); missing > 0 {
			logf("%d of %d graphs got no verdict on %s within the timeout: counted as missing", missing, len(labelled), o.VerdictChannel)
		}
	} else {
		logf("no verdict subscription: all %d graphs counted as missing", len(labelled))
	}
	starts := map[string]time.Time{}
	for _, inv := range r.invocations {
		starts[inv.CallID+"\x00"+inv.Function] = inv.Start
		if _, ok := starts[inv.CallID]; !ok {
			starts[inv.CallID] = inv.Start
		}
	}
	recs, sum := Join(labelled, set, func(call, fn string) (time.Time, bool) {
		if t, ok := starts[call+"\x00"+fn]; ok {
			return t, true
		}
		t, ok := starts[call]
		return t, ok
	})
	res.Summary = sum
	if err := WriteJSONL(filepath.Join(o.Out, "verdicts.jsonl"), recs); err != nil {
		return res, err
	}
	writeJSON(filepath.Join(o.Out, "summary.json"), sum)
	if sum.Missing > 0 {
		fmt.Fprintf(o.Log, "missing %d verdicts of %d graphs (not counted below)\n", sum.Missing, sum.Graphs)
	}
	return res, nil
}

func needsPool(s *Scenario) bool {
	for _, st := range s.Steps {
		if st.MixBenign > 0 {
			return true
		}
	}
	return false
}

func (r *runner) playScenario(ctx context.Context, s *Scenario, round int, pool *Pool, vars TemplateVars, logf func(string, ...any)) error {
	batches, err := Plan(s, round, pool, vars, Seed(r.o.Seed, s.Name, round))
	if err != nil {
		return err
	}
	r.attacker.SetFiles(s.Attacker)
	sup := map[string]ServedFile{}
	for k, v := range r.baseSup {
		sup[k] = v
	}
	for k, v := range s.Supplier {
		sup[k] = v
	}
	r.supplier.SetFiles(sup)
	n := 0
	for _, b := range batches {
		n += len(b.Calls)
	}
	logf("scenario %s round %d: %d invocations in %d steps", s.Name, round, n, len(batches))
	for _, b := range batches {
		if b.Cold {
			if err := r.coldStart(ctx, b.Function); err != nil {
				return fmt.Errorf("scenario %s step %s: cold start: %w", s.Name, b.Step, err)
			}
		}
		r.playBatch(ctx, b)
		if b.Wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(b.Wait):
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	// Recycle what the scenario attacked, so the next round and the next
	// scenario start from clean containers.
	for _, fn := range s.AttackedFunctions() {
		if err := r.recycle(ctx, fn); err != nil {
			return fmt.Errorf("scenario %s: recycle %s: %w", s.Name, fn, err)
		}
	}
	return nil
}

func (r *runner) playBatch(ctx context.Context, b Batch) {
	sem := make(chan struct{}, max(1, b.Concurrency))
	var wg sync.WaitGroup
	for i, c := range b.Calls {
		if i > 0 && b.Delay > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(b.Delay):
			}
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(c Call) {
			defer wg.Done()
			defer func() { <-sem }()
			r.ensureTraced(ctx, c.Function)
			inv := r.gw.invoke(ctx, c)
			inv.Container = r.containerOf(ctx, c.Function)
			r.record(inv)
		}(c)
	}
	wg.Wait()
}

func (r *runner) record(inv Invocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invocations = append(r.invocations, inv)
	if r.invEnc != nil {
		_ = r.invEnc.Encode(inv)
	}
}

// containerOf returns the instance id of fn after a call (the provider's
// list, when it has one).
func (r *runner) containerOf(ctx context.Context, fn string) string {
	r.refreshContainers(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.containers[fn]
}

func (r *runner) refreshContainers(ctx context.Context) {
	insts, err := r.gw.instances(ctx)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recycles = append(r.recycles, observedRecycles(r.containers, insts)...)
	for _, in := range insts {
		r.containers[in.Function] = in.ID
	}
}

// observedRecycles returns the replacements that the lab did not make
// itself: a function whose instance id changed since the last look was
// recycled by someone else — faasmon-alert's response, a crash restart by
// the provider — at the new instance's start. Without them, a taint that
// the detector's response ended was still applied to the calls that ran
// in the fresh container, and the report counted the detector's success
// as misses (issue 12). The lab's own recycles forget the old id before
// they look again, so they are not counted twice.
func observedRecycles(known map[string]string, insts []localstack.Instance) []Recycle {
	var out []Recycle
	for _, in := range insts {
		old, ok := known[in.Function]
		if !ok || old == "" || old == in.ID {
			continue
		}
		t := in.Started
		if t.IsZero() {
			t = time.Now().UTC()
		}
		out = append(out, Recycle{Function: in.Function, Container: old, Time: t.UTC(), Reason: "observed"})
	}
	return out
}

func (r *runner) coldStart(ctx context.Context, fn string) error {
	r.mu.Lock()
	old := r.containers[fn]
	r.mu.Unlock()
	t := time.Now().UTC()
	if err := r.gw.scale(ctx, fn, 0); err != nil {
		return err
	}
	r.mu.Lock()
	r.recycles = append(r.recycles, Recycle{Function: fn, Container: old, Time: t, Reason: "scale-to-zero"})
	delete(r.containers, fn)
	r.mu.Unlock()
	if err := r.gw.scale(ctx, fn, 1); err != nil {
		return err
	}
	if err := r.gw.waitReady(ctx, []string{fn}, time.Minute); err != nil {
		return err
	}
	r.waitTraced(ctx, fn)
	r.refreshContainers(ctx)
	return nil
}

func (r *runner) recycle(ctx context.Context, fn string) error {
	r.mu.Lock()
	old := r.containers[fn]
	r.mu.Unlock()
	t := time.Now().UTC()
	reason := "recycle"
	if err := r.gw.recycle(ctx, fn); err != nil {
		// Not the local provider: scale to zero and back does the same.
		reason = "scale-to-zero"
		if err := r.gw.scale(ctx, fn, 0); err != nil {
			return err
		}
		if err := r.gw.scale(ctx, fn, 1); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.recycles = append(r.recycles, Recycle{Function: fn, Container: old, Time: t, Reason: reason})
	delete(r.containers, fn)
	r.mu.Unlock()
	if err := r.gw.waitReady(ctx, []string{fn}, time.Minute); err != nil {
		return err
	}
	r.waitTraced(ctx, fn)
	r.refreshContainers(ctx)
	return nil
}

// waitGraphs polls the archive until every invocation has its graph, no new
// graph arrived for GraphIdle, or GraphTimeout passed.
func (r *runner) waitGraphs(ctx context.Context, lb *Labeler, logf func(string, ...any)) []provenance.Graph {
	deadline := time.Now().Add(r.o.GraphTimeout)
	lastCount, lastChange := -1, time.Now()
	for {
		graphs, _, err := ReadGraphs(r.o.Graphs)
		if err != nil {
			logf("reading graphs from %s: %v", r.o.Graphs, err)
		}
		have := map[string]bool{}
		for _, g := range graphs {
			if g.Window == provenance.WindowInvocation {
				have[g.CallID+"\x00"+g.Function] = true
			}
		}
		missing := 0
		for _, inv := range lb.Invocations {
			if inv.CallID != "" && !have[inv.CallID+"\x00"+inv.Function] {
				missing++
			}
		}
		if len(graphs) != lastCount {
			lastCount, lastChange = len(graphs), time.Now()
		}
		if missing == 0 || time.Since(lastChange) > r.o.GraphIdle || time.Now().After(deadline) || ctx.Err() != nil {
			if missing > 0 {
				logf("%d invocations have no graph in %s", missing, r.o.Graphs)
			}
			return graphs
		}
		time.Sleep(2 * time.Second)
	}
}

// Smoke runs the small scenario tests/lab/scenarios/smoke.yaml once (about
// 20 invocation graphs plus background windows) through the whole
// pipeline and returns its summary. It fails when no labelled graph came
// back. opts.Scenarios, when set, replaces smoke.yaml.
func Smoke(ctx context.Context, opts Options) (Summary, error) {
	if len(opts.Scenarios) == 0 {
		if opts.Repo == "" {
			wd, _ := os.Getwd()
			r, err := localstack.RepoRoot(wd)
			if err != nil {
				return Summary{}, err
			}
			opts.Repo = r
		}
		opts.Scenarios = []string{filepath.Join(opts.Repo, "tests", "lab", "scenarios", "smoke.yaml")}
	}
	opts.Rounds = 1
	if opts.Out == "" {
		d, err := os.MkdirTemp("", "faasmon-lab-smoke-")
		if err != nil {
			return Summary{}, err
		}
		opts.Out = d
	}
	if opts.Graphs == "" {
		return Summary{}, errors.New("smoke: Options.Graphs (faasmon-graph's archive_dir) is required")
	}
	res, err := Run(ctx, opts)
	if err != nil {
		return res.Summary, err
	}
	if res.Summary.Graphs == 0 {
		return res.Summary, fmt.Errorf("smoke: no labelled graph (stats %+v); see %s", res.Stats, opts.Out)
	}
	return res.Summary, nil
}

// LoadDirFiles reads every regular file under dir as a served file, keyed
// by its path relative to dir ("/rules/v1.js"). A missing dir is empty.
func LoadDirFiles(dir string) (map[string]ServedFile, error) {
	out := map[string]ServedFile{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		key := "/" + filepath.ToSlash(rel)
		out[key] = ServedFile{Content: b, ContentType: contentTypeFor(key)}
		return nil
	})
	return out, err
}

// stackFile is what the lab needs of a stack.yml.
type stackFile struct {
	Functions map[string]struct {
		Secrets []string `yaml:"secrets"`
	} `yaml:"functions"`
}

func (s stackFile) secretNames() []string {
	set := map[string]bool{}
	for _, f := range s.Functions {
		for _, n := range f.Secrets {
			set[n] = true
		}
	}
	return sortedKeys(set)
}

func readStackFile(path string) (stackFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return stackFile{}, err
	}
	var s stackFile
	if err := yaml.Unmarshal(b, &s); err != nil {
		return stackFile{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(s.Functions) == 0 {
		return stackFile{}, fmt.Errorf("%s: no functions", path)
	}
	return s, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func writeJSON(path string, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	_ = os.WriteFile(path, append(b, '\n'), 0o644)
}

// ensureUp starts the local stack unless the gateway answers already.
func ensureUp(ctx context.Context, o Options, logf func(string, ...any)) error {
	if gatewayHealthy(ctx, o.Gateway) {
		return nil
	}
	logf("gateway %s not answering: starting the local stack", o.Gateway)
	if err := stackCommand(ctx, o, "up"); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !gatewayHealthy(ctx, o.Gateway) {
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway %s not healthy after `faasmon-stack up`", o.Gateway)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return nil
}

func gatewayHealthy(ctx context.Context, gw string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func deployStack(ctx context.Context, o Options, file string, logf func(string, ...any), args ...string) error {
	shown := make([]string, len(args))
	for i, a := range args {
		// An inline document (the invariant exceptions) is not a log line.
		if k, v, ok := strings.Cut(a, "="); ok && len(v) > 80 {
			a = fmt.Sprintf("%s=<%d bytes>", k, len(v))
		}
		shown[i] = a
	}
	logf("deploying %s %s", file, strings.Join(shown, " "))
	return stackCommand(ctx, o, append([]string{"deploy", "-f", file}, args...)...)
}

// stackCommand runs `go run ./cmd/faasmon-stack ARGS` in the repository.
func stackCommand(ctx context.Context, o Options, args ...string) error {
	matches, _ := filepath.Glob(filepath.Join(o.Repo, "cmd", "faasmon-stack", "*.go"))
	if len(matches) == 0 {
		return fmt.Errorf("cmd/faasmon-stack is not in %s yet: start the stack and deploy %s yourself, then run with -no-up -no-deploy", o.Repo, o.VictimStack)
	}
	cmd := exec.CommandContext(ctx, "go", append([]string{"run", "./cmd/faasmon-stack"}, args...)...)
	cmd.Dir = o.Repo
	cmd.Env = append(os.Environ(), "FAASMON_STACK_DIR="+o.StackDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, o.Log), io.MultiWriter(&out, o.Log)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("faasmon-stack %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// readCredentials reads OPENFAAS_USER/OPENFAAS_PASSWORD from the
// environment or the stack's credentials.env.
func readCredentials(stackDir string) (localstack.Credentials, error) {
	if u, p := os.Getenv("OPENFAAS_USER"), os.Getenv("OPENFAAS_PASSWORD"); u != "" && p != "" {
		return localstack.Credentials{User: u, Password: p}, nil
	}
	path := filepath.Join(stackDir, "credentials.env")
	f, err := os.Open(path)
	if err != nil {
		d, derr := localstack.NewDirs(stackDir)
		if derr == nil {
			if c, cerr := localstack.ReadCredentials(d); cerr == nil {
				return c, nil
			}
		}
		return localstack.Credentials{}, fmt.Errorf("gateway credentials: %w (set OPENFAAS_USER/OPENFAAS_PASSWORD or start the stack)", err)
	}
	defer f.Close()
	var c localstack.Credentials
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		switch k {
		case "OPENFAAS_USER":
			c.User = v
		case "OPENFAAS_PASSWORD":
			c.Password = v
		}
	}
	if c.User == "" || c.Password == "" {
		return c, fmt.Errorf("%s: no OPENFAAS_USER/OPENFAAS_PASSWORD", path)
	}
	return c, nil
}

// gateway is the runner's side of the OpenFaaS gateway and the local
// provider, through pkg/invoke: function calls without credentials, the
// admin APIs with them.
type gateway struct {
	fn       *invoke.Client // function calls, InvokeTimeout each
	admin    *invoke.Client // the gateway's /system API
	provider *invoke.Client // the local provider's /faasmon API (same credentials)
	// client and providerURL list the provider's instances
	// (provider.FetchInstances).
	client      *http.Client
	providerURL string
}

// adminTimeout bounds one admin call (scale, secrets, readiness, recycle).
const adminTimeout = 90 * time.Second

func newGateway(o Options, creds localstack.Credentials) (*gateway, error) {
	fn, err := invoke.NewTimeout(o.Gateway, o.InvokeTimeout)
	if err != nil {
		return nil, err
	}
	admin, err := invoke.NewTimeout(o.Gateway, adminTimeout)
	if err != nil {
		return nil, err
	}
	prov, err := invoke.NewTimeout(o.ProviderURL, adminTimeout)
	if err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	auth := &invoke.BasicAuth{User: creds.User, Password: creds.Password}
	admin.Admin, prov.Admin = auth, auth
	return &gateway{fn: fn, admin: admin, provider: prov,
		client: &http.Client{Timeout: o.InvokeTimeout}, providerURL: prov.Base()}, nil
}

func (g *gateway) invoke(ctx context.Context, c Call) Invocation {
	inv := Invocation{Scenario: c.Scenario, Round: c.Round, Step: c.Step, Mixed: c.Mixed, Function: c.Function,
		Method: c.Method, Label: c.Label, Taints: c.Taints, ReqBytes: len(c.Body)}
	req := invoke.Request{Function: c.Function, Method: c.Method, Path: c.Path}
	if c.Body != "" {
		req.Body = []byte(c.Body)
		req.Header = http.Header{"Content-Type": {"text/plain"}}
		if c.JSON {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	inv.Start = time.Now().UTC()
	resp, err := g.fn.Call(ctx, req)
	inv.End = time.Now().UTC()
	if resp == nil {
		inv.Error = err.Error()
		return inv
	}
	inv.Status = resp.Status
	inv.RespBytes = resp.Bytes
	inv.CallID = resp.CallID
	return inv
}

func (g *gateway) scale(ctx context.Context, fn string, replicas uint64) error {
	st, b, err := g.admin.System(ctx, http.MethodPost, "/system/scale-function/"+url.PathEscape(fn),
		map[string]any{"serviceName": fn, "namespace": localstack.DefaultNamespace, "replicas": replicas})
	if err != nil {
		return err
	}
	if st/100 != 2 {
		return fmt.Errorf("scale %s to %d: HTTP %d: %s", fn, replicas, st, bytes.TrimSpace(b))
	}
	return nil
}

func (g *gateway) recycle(ctx context.Context, fn string) error {
	st, b, err := g.provider.System(ctx, http.MethodPost, localstack.RecyclePath+"?function="+url.QueryEscape(fn), nil)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("recycle %s: HTTP %d: %s", fn, st, bytes.TrimSpace(b))
	}
	return nil
}

func (g *gateway) instances(ctx context.Context) ([]localstack.Instance, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return provider.FetchInstances(ctx, g.client, g.providerURL)
}

// ensureSecrets creates the stack's secrets with fake lab values (the
// victim app's secrets exist to be stolen by attack 4; they grant nothing).
func (g *gateway) ensureSecrets(ctx context.Context, names []string) error {
	for _, n := range names {
		st, b, err := g.admin.System(ctx, http.MethodPost, "/system/secrets",
			map[string]string{"name": n, "value": FakeSecret(n)})
		if err != nil {
			return fmt.Errorf("create secret %s: %w", n, err)
		}
		if st/100 != 2 && st != http.StatusConflict {
			return fmt.Errorf("create secret %s: HTTP %d: %s", n, st, bytes.TrimSpace(b))
		}
	}
	return nil
}

// FakeSecret is the lab value of a secret: recognisable in exfiltrated
// data, worthless anywhere else.
func FakeSecret(name string) string { return "FAKE-LAB-SECRET-" + name + "-0000-not-a-real-key" }

// waitReady polls the gateway until every function has an available
// replica.
func (g *gateway) waitReady(ctx context.Context, fns []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var notReady []string
		for _, fn := range fns {
			st, b, err := g.admin.System(ctx, http.MethodGet, "/system/function/"+url.PathEscape(fn), nil)
			var s struct {
				AvailableReplicas uint64 `json:"availableReplicas"`
			}
			if err != nil || st != http.StatusOK || json.Unmarshal(b, &s) != nil || s.AvailableReplicas < 1 {
				notReady = append(notReady, fn)
			}
		}
		if len(notReady) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("functions not ready after %s: %s", timeout, strings.Join(notReady, ", "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitTraced waits (at most 5 s) until the tracer is attached to the
// current instance of each function: a call that reaches a container before
// strace does leaves no trace, and the lab would count it as missed.
// ensureTraced waits, before a call to fn, until the tracer is attached to
// fn's current instance when that instance is new since the last look. The
// lab waits after its own recycles; this covers the ones it did not make
// (faasmon-alert's response): without it, the first call to the fresh
// container ran before strace attached and had no graph, and with runtime
// invariants deciding within a second, responses came often enough to
// lose several calls a round.
func (r *runner) ensureTraced(ctx context.Context, fn string) {
	if !r.traced {
		return
	}
	r.refreshContainers(ctx)
	r.mu.Lock()
	id := r.containers[fn]
	known := r.tracedID[fn] == id
	r.mu.Unlock()
	if id == "" || known {
		return
	}
	r.waitTraced(ctx, fn)
	r.mu.Lock()
	r.tracedID[fn] = id
	r.mu.Unlock()
}

func (r *runner) waitTraced(ctx context.Context, fns ...string) {
	if !r.traced {
		return
	}
	r.refreshContainers(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		attached := map[string]bool{}
		if res, err := http.Get("http://" + TracerAddr + "/attached"); err == nil {
			var keys []string
			_ = json.NewDecoder(res.Body).Decode(&keys)
			res.Body.Close()
			for _, k := range keys {
				attached[k] = true
			}
		}
		missing := 0
		r.mu.Lock()
		for _, fn := range fns {
			if id := r.containers[fn]; id != "" && !attached[id] {
				missing++
			}
		}
		r.mu.Unlock()
		if missing == 0 {
			// Attached means strace and tcpdump were started; give them
			// the moment ptrace and the capture socket take.
			time.Sleep(300 * time.Millisecond)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

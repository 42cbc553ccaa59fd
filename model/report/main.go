package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/faasmon/faasmon/internal/dev/lab"
	"github.com/faasmon/faasmon/pkg/classify/gnn"
	"github.com/faasmon/faasmon/pkg/classify/invariant"
	"github.com/faasmon/faasmon/pkg/classify/profile"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// report is model/eval-report.json: the GNN's study (its fields at the top
// level, as before) and what this command adds to it.
type report struct {
	gnn.Study
	// Pool names the public functions whose benign graphs were added to
	// training (never to the test split), with their graph counts.
	Pool map[string]int `json:"pool"`
	// HeldOut is the supervised part's false positive rate on public
	// functions held out from training (the foreign benchmark's graphs),
	// for the published model, the same training without the pool, and
	// (when given) the model this run replaces.
	HeldOut []heldOutRow `json:"held_out"`
	// NoPool is the lab's test split, judged by a model trained the same
	// way but without the pool (what the pool changed on the lab).
	NoPool *gnn.Report `json:"no_pool,omitempty"`
	// Union is the whole detector on the lab's test split and on the
	// left-out attacks: invariants ∪ profile deviations ∪ egress ∪ GNN.
	Union unionStudy `json:"union"`
	// Previous is the -previous model (the one this run may replace) on
	// the same test split, judged the same way (union and parts).
	Previous *previousRow `json:"previous,omitempty"`
	// Embedded names the model faasmon-classify embeds after this run
	// (-embedded): this study's model, or the previous one when it was
	// kept (-out elsewhere).
	Embedded string `json:"embedded_model"`
}

// previousRow is the previous model on this study's test split.
type previousRow struct {
	ModelVersion string                 `json:"model_version"`
	Test         map[string]*partCounts `json:"test"`
}

// heldOutRow is one model's verdicts on the held-out public functions.
type heldOutRow struct {
	Model        string `json:"model"` // "published", "no_pool" or "previous"
	ModelVersion string `json:"model_version"`
	Graphs       int    `json:"graphs"`
	// SupervisedFlagged counts graphs with P_sup(attack) ≥ the model's
	// threshold; GNNFlagged those the GNN's verdict (supervised ∪ egress)
	// calls attack. Every held-out graph is benign.
	SupervisedFlagged int                `json:"supervised_flagged"`
	SupervisedFPR     float64            `json:"supervised_fpr"`
	GNNFlagged        int                `json:"gnn_flagged"`
	GNNFPR            float64            `json:"gnn_fpr"`
	PerFunction       map[string]fnRow   `json:"per_function"`
	ByWindow          map[string]fnRow   `json:"by_window"`
	MaxSupervised     map[string]float64 `json:"max_supervised"` // per function
}

type fnRow struct {
	Graphs            int     `json:"graphs"`
	SupervisedFlagged int     `json:"supervised_flagged"`
	SupervisedFPR     float64 `json:"supervised_fpr"`
	GNNFlagged        int     `json:"gnn_flagged"`
}

// partCounts are one set's confusion counts, per part and for the union.
type partCounts struct {
	Graphs    int     `json:"graphs"`
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	TN        int     `json:"tn"`
	FN        int     `json:"fn"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	FPR       float64 `json:"fpr"`
}

func (c *partCounts) add(flag bool, attack bool) {
	c.Graphs++
	switch {
	case flag && attack:
		c.TP++
	case flag:
		c.FP++
	case attack:
		c.FN++
	default:
		c.TN++
	}
}

func (c *partCounts) finish() {
	c.Precision = ratio(c.TP, c.TP+c.FP)
	c.Recall = ratio(c.TP, c.TP+c.FN)
	if c.Precision+c.Recall > 0 {
		c.F1 = 2 * c.Precision * c.Recall / (c.Precision + c.Recall)
	}
	c.FPR = ratio(c.FP, c.FP+c.TN)
}

// unionStudy is the whole detector's lab numbers.
type unionStudy struct {
	// Test is the lab's 20% test split: the union and each part alone.
	Test map[string]*partCounts `json:"test"`
	// LeaveOneAttackOut is the union's recall on each attack scenario's
	// graphs when the GNN never saw that attack (the invariants and the
	// profiles never see attacks).
	LeaveOneAttackOut      map[string]float64            `json:"leave_one_attack_out"`
	LeaveOneAttackOutParts map[string]map[string]float64 `json:"leave_one_attack_out_parts"`
	// LeaveOneAttackOutWithoutProfiles is the same for invariants ∪ egress ∪ GNN.
	LeaveOneAttackOutWithoutProfiles map[string]float64 `json:"leave_one_attack_out_without_profiles"`
	// FalsePositives lists the test split's benign graphs the union
	// flagged, with the parts that did.
	FalsePositives []fpRow `json:"false_positives"`
	Profiles       string  `json:"profiles"`
	Exceptions     string  `json:"exceptions"`
}

type fpRow struct {
	GraphID  string   `json:"graph_id"`
	Function string   `json:"function"`
	Scenario string   `json:"scenario"`
	Window   string   `json:"window"`
	Parts    []string `json:"parts"`
	Evidence []string `json:"evidence"`
}

// labSection is the `lab` section of model/generalisation-report.json.
type labSection struct {
	Measured          time.Time          `json:"measured"`
	Command           string             `json:"command"`
	F1                float64            `json:"f1"`
	FPR               float64            `json:"fpr"`
	Recall            float64            `json:"recall"`
	Precision         float64            `json:"precision"`
	LeaveOneAttackOut map[string]float64 `json:"leave_one_attack_out"`
	// The same without the profile part (invariants ∪ egress ∪ GNN).
	F1WithoutProfiles                float64            `json:"f1_without_profiles"`
	FPRWithoutProfiles               float64            `json:"fpr_without_profiles"`
	LeaveOneAttackOutWithoutProfiles map[string]float64 `json:"leave_one_attack_out_without_profiles"`
	NTest                            int                `json:"n_test"`
	NTrain                           int                `json:"n_train"`
	NPool                            int                `json:"n_pool"`
	PoolFunctions                    []string           `json:"pool_functions"`
	HeldOutFunctions                 []string           `json:"held_out_functions"`
	HeldOutGraphs                    int                `json:"held_out_graphs"`
	HeldOutSupFPR                    float64            `json:"held_out_supervised_fpr"`
	HeldOutSupFPRNoPool              float64            `json:"held_out_supervised_fpr_no_pool"`
	HeldOutSupFPRPrevious            float64            `json:"held_out_supervised_fpr_previous"`
	// EmbeddedModel is the model faasmon-classify embeds; when it is not
	// this study's (ModelVersion), Previous* are its numbers on the same
	// test split (the study's own are the fields above).
	EmbeddedModel       string  `json:"embedded_model"`
	PreviousModel       string  `json:"previous_model,omitempty"`
	PreviousF1          float64 `json:"previous_f1"`
	PreviousFPR         float64 `json:"previous_fpr"`
	PreviousF1NoProfile float64 `json:"previous_f1_without_profiles"`
	PreviousFPRNoProf   float64 `json:"previous_fpr_without_profiles"`
	ModelVersion        string  `json:"model_version"`
	Note                string  `json:"note"`
}

func main() {
	d := gnn.DefaultTrainConfig()
	data := flag.String("data", "", "directories (comma-separated) of the lab's labelled graph JSON files, searched recursively (split 80:20)")
	pool := flag.String("pool", "", "directories (comma-separated) of benign graphs of public functions added to training only (tests/lab/pool); never the benchmark's")
	heldOut := flag.String("held-out", "", "directories (comma-separated) of benign graphs of public functions held out from training (the foreign benchmark's): scored, never trained on")
	previous := flag.String("previous", "", "a model file to score on the held-out graphs as well (the one this run replaces)")
	noPool := flag.Bool("compare-no-pool", true, "also train the published model's configuration without the pool and report its test split and held-out FPR")
	exceptions := flag.String("exceptions", "tests/lab/invariant-exceptions.yaml", "the lab app's reviewed invariant exceptions (\"\": none)")
	learnGraphs := flag.Int("profile-learn-graphs", profile.DefaultConfig().LearnGraphs, "benign training graphs (in time order) each function version's profile learns before it is armed")
	genReport := flag.String("generalisation", "model/generalisation-report.json", "report whose `lab` section is replaced (\"\": none)")
	out := flag.String("out", "model/artifact/faasmon.model", "model file (trained on the 80% split and the pool)")
	embedded := flag.String("embedded", "model/artifact/faasmon.model", "the model faasmon-classify embeds, read after the run to say which one it is (\"\": not said)")
	jsonOut := flag.String("json", "model/eval-report.json", "report file")
	latency := flag.String("latency", "", "the lab's summary.json of a live run, for detection_latency_p50_s")
	seed := flag.Uint64("seed", d.Seed, "seed")
	ocq := flag.Float64("oc-quantile", d.OneClassQuantile, "benign validation quantile that sets the one-class threshold")
	ocVotes := flag.Bool("one-class-votes", d.OneClassVotes, "let the embedding-distance part decide verdicts on its own (default: reported only)")
	egress := flag.Float64("egress-max-missing", d.EgressMaxMissing, "arm a function's egress baseline when at most this share of its benign graphs is estimated to reach a new external endpoint (<0: no egress part)")
	flag.Parse()
	if *data == "" {
		flag.Usage()
		os.Exit(2)
	}
	t0 := time.Now()
	all, err := gnn.LoadDir(*data, nil)
	if err != nil {
		fail(err)
	}
	var poolEx, held []gnn.Example
	if *pool != "" {
		if poolEx, err = gnn.LoadDir(*pool, nil); err != nil {
			fail(fmt.Errorf("pool: %w", err))
		}
	}
	if *heldOut != "" {
		if held, err = gnn.LoadDir(*heldOut, nil); err != nil {
			fail(fmt.Errorf("held-out: %w", err))
		}
	}
	if err := disjoint(all, poolEx, held); err != nil {
		fail(err)
	}
	var x *invariant.Exceptions
	if *exceptions != "" {
		if x, err = invariant.LoadExceptions(*exceptions); err != nil {
			fail(err)
		}
	}
	var prev *gnn.Model
	if *previous != "" {
		// Read before training: -previous is usually the file -out replaces.
		if prev, err = gnn.LoadFile(*previous); err != nil {
			fail(fmt.Errorf("previous model: %w", err))
		}
	}

	cfg := d
	cfg.Seed, cfg.Log, cfg.OneClassQuantile, cfg.EgressMaxMissing, cfg.OneClassVotes = *seed, os.Stderr, *ocq, *egress, *ocVotes

	// The profiles learn from the lab's benign training graphs (the 80%),
	// as a deployment learns from a function's first traffic; they are
	// shared by every model of the study (they never see attacks).
	trainAll, test := gnn.Split(all, 0.2, *seed)
	pcfg := profile.DefaultConfig()
	pcfg.LearnGraphs = *learnGraphs
	profs := learnProfiles(trainAll, pcfg)
	u := unionStudy{
		Test: map[string]*partCounts{}, LeaveOneAttackOut: map[string]float64{}, LeaveOneAttackOutParts: map[string]map[string]float64{}, LeaveOneAttackOutWithoutProfiles: map[string]float64{},
		FalsePositives: []fpRow{},
		Profiles:       fmt.Sprintf("per function version, learnt from its first %d benign graphs of the training split (time order), then armed; %d profiles", pcfg.LearnGraphs, len(profs)),
		Exceptions:     *exceptions,
	}

	m, s, err := gnn.RunStudyWith(cfg, all, gnn.StudyOptions{
		Pool: poolEx,
		LeftOut: func(k string, mk *gnn.Model, ex []gnn.Example) {
			parts := map[string]*partCounts{}
			for _, e := range ex {
				j := judge(mk, x, profs, e.Graph)
				for _, p := range partNames {
					if parts[p] == nil {
						parts[p] = &partCounts{}
					}
					parts[p].add(j.flag[p], true)
				}
			}
			row := map[string]float64{}
			for p, c := range parts {
				c.finish()
				row[p] = c.Recall
			}
			u.LeaveOneAttackOut[k] = row["union"]
			u.LeaveOneAttackOutWithoutProfiles[k] = row["union_without_profiles"]
			u.LeaveOneAttackOutParts[k] = row
			fmt.Fprintf(os.Stderr, "leave out %s: union recall %.3f (invariant %.3f, profile %.3f, gnn %.3f) on %d graphs\n",
				k, row["union"], row["invariant"], row["profile"], row["gnn"], len(ex))
		},
	}, os.Stderr)
	if err != nil {
		fail(err)
	}
	s.DetectionLatencyP50 = gnn.JSONFloat(math.NaN())
	if *latency != "" {
		var sum struct {
			LatencyP50 float64 `json:"LatencyP50"`
		}
		b, err := os.ReadFile(*latency)
		if err == nil {
			err = json.Unmarshal(b, &sum)
		}
		if err != nil {
			fail(fmt.Errorf("latency from %s: %w", *latency, err))
		}
		s.DetectionLatencyP50 = gnn.JSONFloat(sum.LatencyP50)
	}
	if err := m.Save(*out); err != nil {
		fail(err)
	}
	s.ModelVersion = m.Version() // known once the file's checksum is

	for _, e := range test {
		j := judge(m, x, profs, e.Graph)
		for _, p := range partNames {
			if u.Test[p] == nil {
				u.Test[p] = &partCounts{}
			}
			u.Test[p].add(j.flag[p], e.Label == 1)
		}
		if j.flag["union"] && e.Label == 0 {
			u.FalsePositives = append(u.FalsePositives, fpRow{GraphID: e.Graph.ID, Function: e.Graph.Function,
				Scenario: e.Graph.Scenario, Window: string(e.Graph.Window), Parts: j.parts(), Evidence: j.evidence})
		}
	}
	for _, c := range u.Test {
		c.finish()
	}

	rep := report{Study: s, Pool: countBy(poolEx), Union: u}
	rep.HeldOut = append(rep.HeldOut, scoreHeldOut("published", m, held))
	if *noPool && len(poolEx) > 0 {
		tr, val := gnn.Split(trainAll, 0.2, *seed+1)
		c0 := cfg
		c0.Log = nil
		m0, err := gnn.Train(c0, tr, val)
		if err != nil {
			fail(fmt.Errorf("train without the pool: %w", err))
		}
		if _, err := m0.Marshal(); err != nil { // names it (model_version)
			fail(err)
		}
		r0 := m0.Evaluate(test)
		rep.NoPool = &r0
		rep.HeldOut = append(rep.HeldOut, scoreHeldOut("no_pool", m0, held))
	}
	if prev != nil {
		rep.HeldOut = append(rep.HeldOut, scoreHeldOut("previous", prev, held))
		pr := &previousRow{ModelVersion: prev.Version(), Test: map[string]*partCounts{}}
		for _, e := range test {
			j := judge(prev, x, profs, e.Graph)
			for _, p := range partNames {
				if pr.Test[p] == nil {
					pr.Test[p] = &partCounts{}
				}
				pr.Test[p].add(j.flag[p], e.Label == 1)
			}
		}
		for _, c := range pr.Test {
			c.finish()
		}
		rep.Previous = pr
	}
	if *embedded != "" {
		em, err := gnn.LoadFile(*embedded)
		if err != nil {
			fail(fmt.Errorf("embedded model: %w", err))
		}
		rep.Embedded = em.Version()
	}

	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
		fail(err)
	}
	un := u.Test["union"]
	if *genReport != "" {
		sec := labSection{
			Measured: time.Now().UTC().Truncate(time.Second), Command: "go run ./model/report " + strings.Join(os.Args[1:], " "),
			F1: un.F1, FPR: un.FPR, Recall: un.Recall, Precision: un.Precision, LeaveOneAttackOut: u.LeaveOneAttackOut,
			F1WithoutProfiles: u.Test["union_without_profiles"].F1, FPRWithoutProfiles: u.Test["union_without_profiles"].FPR,
			LeaveOneAttackOutWithoutProfiles: u.LeaveOneAttackOutWithoutProfiles,
			NTest:                            s.NTest, NTrain: s.NTrain, NPool: s.NPool, PoolFunctions: keys(rep.Pool), HeldOutFunctions: keys(countBy(held)),
			HeldOutGraphs: len(held), ModelVersion: s.ModelVersion,
			Note: "The lab's 80:20 split judged by the whole detector (invariants with the lab's exceptions ∪ profiles learnt from the 80% ∪ egress ∪ GNN); " +
				"leave_one_attack_out: the union's recall on each attack when the GNN never saw it. The GNN trains on the lab's 80% plus the pool's benign graphs " +
				"(public functions not in the foreign benchmark); held_out_*: the supervised part's FPR on the benchmark's functions, which never feed training. " +
				"Details: " + *jsonOut + " (union, held_out, no_pool, previous). embedded_model is the model faasmon-classify embeds: when it is not model_version, " +
				"it was kept and previous_* are its numbers on the same split.",
		}
		for _, h := range rep.HeldOut {
			switch h.Model {
			case "published":
				sec.HeldOutSupFPR = h.SupervisedFPR
			case "no_pool":
				sec.HeldOutSupFPRNoPool = h.SupervisedFPR
			case "previous":
				sec.HeldOutSupFPRPrevious = h.SupervisedFPR
			}
		}
		sec.EmbeddedModel = rep.Embedded
		if p := rep.Previous; p != nil {
			sec.PreviousModel = p.ModelVersion
			sec.PreviousF1, sec.PreviousFPR = p.Test["union"].F1, p.Test["union"].FPR
			sec.PreviousF1NoProfile, sec.PreviousFPRNoProf = p.Test["union_without_profiles"].F1, p.Test["union_without_profiles"].FPR
		}
		if err := lab.WriteReportSection(*genReport, "lab", sec); err != nil {
			fail(err)
		}
	}
	fmt.Printf("test split (GNN): precision %.4f recall %.4f f1 %.4f fpr %.4f auc %v (n_train %d incl. %d pool, n_test %d)\n",
		s.Precision, s.Recall, s.F1, s.FPR, float64(s.ROCAUC), s.NTrain, s.NPool, s.NTest)
	fmt.Printf("test split (union): precision %.4f recall %.4f f1 %.4f fpr %.4f; false positives %d\n", un.Precision, un.Recall, un.F1, un.FPR, un.FP)
	if w := u.Test["union_without_profiles"]; w != nil {
		fmt.Printf("test split (union without profiles): precision %.4f recall %.4f f1 %.4f fpr %.4f\n", w.Precision, w.Recall, w.F1, w.FPR)
	}
	fmt.Printf("leave one attack out (GNN recall): %v\nleave one attack out (union recall): %v\n", s.LeaveOneAttackOut, u.LeaveOneAttackOut)
	for _, h := range rep.HeldOut {
		fmt.Printf("held out (%s, %s): %d graphs, supervised FPR %.4f (%d), GNN FPR %.4f (%d)\n",
			h.Model, h.ModelVersion, h.Graphs, h.SupervisedFPR, h.SupervisedFlagged, h.GNNFPR, h.GNNFlagged)
	}
	if rep.Previous != nil {
		pu, pw := rep.Previous.Test["union"], rep.Previous.Test["union_without_profiles"]
		fmt.Printf("previous model %s on this test split: union f1 %.4f fpr %.4f; without profiles f1 %.4f fpr %.4f\n", rep.Previous.ModelVersion, pu.F1, pu.FPR, pw.F1, pw.FPR)
	}
	fmt.Printf("embedded model: %s\n", rep.Embedded)
	fmt.Printf("wrote %s and %s in %v\n", *out, *jsonOut, time.Since(t0).Round(time.Second))
}

// partNames: the union, the union without the profiles (the parts that
// need no learning on the user's traffic, with the GNN), and each part.
var partNames = []string{"union", "union_without_profiles", "invariant", "profile", "gnn", "supervised", "egress"}

type judged struct {
	flag     map[string]bool
	evidence []string
}

func (j judged) parts() []string {
	var ps []string
	for _, p := range partNames[2:] {
		if j.flag[p] {
			ps = append(ps, p)
		}
	}
	return ps
}

// judge runs every part on g as faasmon-classify does (pkg/classify/detect's
// union), keeping each part's own answer.
func judge(m *gnn.Model, x *invariant.Exceptions, profs map[profile.Key]*profile.Profile, g *provenance.Graph) judged {
	j := judged{flag: map[string]bool{}}
	r, err := m.Classify(g, gnn.Options{TopK: -1})
	if err == nil {
		j.flag["gnn"] = r.Verdict == "attack"
		j.flag["supervised"] = r.Supervised >= m.Meta.Threshold
		j.flag["egress"] = len(r.NovelEndpoints) > 0
		if j.flag["gnn"] {
			j.evidence = append(j.evidence, fmt.Sprintf("gnn %s %.3f", r.Source, r.Score))
		}
	}
	for _, f := range invariant.CheckWith(g, x) {
		j.flag["invariant"] = true
		j.evidence = append(j.evidence, f.Text)
	}
	if p := profs[profile.KeyOf(g, profile.VersionOf(g))]; p != nil {
		for _, f := range p.Check(g) {
			j.flag["profile"] = true
			j.evidence = append(j.evidence, f.Text)
		}
	}
	j.flag["union_without_profiles"] = j.flag["gnn"] || j.flag["invariant"]
	j.flag["union"] = j.flag["union_without_profiles"] || j.flag["profile"]
	return j
}

// learnProfiles learns one profile per function version from the benign
// graphs of ex, in time order, the first n of each, and arms them.
func learnProfiles(ex []gnn.Example, cfg profile.Config) map[profile.Key]*profile.Profile {
	var benign []*provenance.Graph
	for _, e := range ex {
		if e.Label == 0 {
			benign = append(benign, e.Graph)
		}
	}
	sort.SliceStable(benign, func(a, b int) bool { return benign[a].Start.Before(benign[b].Start) })
	out := map[profile.Key]*profile.Profile{}
	for _, g := range benign {
		k := profile.KeyOf(g, profile.VersionOf(g))
		p := out[k]
		if p == nil {
			p = profile.New(k, cfg)
			out[k] = p
		}
		if p.Graphs < cfg.LearnGraphs {
			p.Learn(g)
		}
	}
	var last time.Time
	for _, g := range benign {
		if g.Start.After(last) {
			last = g.Start
		}
	}
	for _, p := range out {
		p.Arm(last)
	}
	return out
}

// scoreHeldOut scores the held-out public functions' graphs with m.
func scoreHeldOut(name string, m *gnn.Model, held []gnn.Example) heldOutRow {
	row := heldOutRow{Model: name, ModelVersion: m.Version(), PerFunction: map[string]fnRow{}, ByWindow: map[string]fnRow{}, MaxSupervised: map[string]float64{}}
	if len(held) == 0 {
		return row
	}
	gs := make([]*provenance.Graph, len(held))
	for i, e := range held {
		gs[i] = e.Graph
	}
	rs, err := m.ClassifyBatch(gs)
	if err != nil {
		fail(fmt.Errorf("held-out graphs: %w", err))
	}
	for i, r := range rs {
		g := gs[i]
		sup := r.Supervised >= m.Meta.Threshold
		all := r.Verdict == "attack"
		row.Graphs++
		f, w := row.PerFunction[g.Function], row.ByWindow[string(g.Window)]
		f.Graphs++
		w.Graphs++
		if sup {
			row.SupervisedFlagged++
			f.SupervisedFlagged++
			w.SupervisedFlagged++
		}
		if all {
			row.GNNFlagged++
			f.GNNFlagged++
			w.GNNFlagged++
		}
		row.PerFunction[g.Function], row.ByWindow[string(g.Window)] = f, w
		row.MaxSupervised[g.Function] = math.Max(row.MaxSupervised[g.Function], math.Round(r.Supervised*1e4)/1e4)
	}
	row.SupervisedFPR = ratio(row.SupervisedFlagged, row.Graphs)
	row.GNNFPR = ratio(row.GNNFlagged, row.Graphs)
	for k, f := range row.PerFunction {
		f.SupervisedFPR = ratio(f.SupervisedFlagged, f.Graphs)
		row.PerFunction[k] = f
	}
	for k, w := range row.ByWindow {
		w.SupervisedFPR = ratio(w.SupervisedFlagged, w.Graphs)
		row.ByWindow[k] = w
	}
	return row
}

// disjoint refuses a run where the held-out functions could leak into
// training: the benchmark's functions must be neither in the pool nor in
// the lab's data, and the pool must be benign only.
func disjoint(all, pool, held []gnn.Example) error {
	heldFns := countBy(held)
	for _, e := range held {
		if e.Label != 0 {
			return fmt.Errorf("held-out graph %s of %s is labelled %s: the held-out set is benign public functions", e.Graph.ID, e.Graph.Function, e.Graph.Label)
		}
	}
	var errs []error
	for name, set := range map[string][]gnn.Example{"pool": pool, "data": all} {
		leak := map[string]bool{}
		for _, e := range set {
			if heldFns[e.Graph.Function] > 0 {
				leak[e.Graph.Function] = true
			}
		}
		if len(leak) > 0 {
			errs = append(errs, fmt.Errorf("-%s holds graphs of held-out functions %v: the benchmark's functions must not feed training", name, keys(leak)))
		}
	}
	for _, e := range pool {
		if e.Label != 0 {
			errs = append(errs, fmt.Errorf("pool graph %s of %s is labelled %s: the pool is benign only", e.Graph.ID, e.Graph.Function, e.Graph.Label))
			break
		}
	}
	return errors.Join(errs...)
}

func countBy(ex []gnn.Example) map[string]int {
	out := map[string]int{}
	for _, e := range ex {
		out[e.Graph.Function]++
	}
	return out
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}

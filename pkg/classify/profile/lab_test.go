package profile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// TestLabRun measures the profiles on labelled lab runs (go run
// ./tests/lab run -out DIR ...). With FAASMON_PROFILE_LAB_LEARN naming one
// run's graphs and FAASMON_PROFILE_LAB another's, every benign graph of the
// first is learnt and every graph of the second checked; with only
// FAASMON_PROFILE_LAB, per function the benign graphs of the first half of
// the run (by time) are learnt and the rest checked. Attack graphs are
// never learnt. It runs only when FAASMON_PROFILE_LAB is set.
func TestLabRun(t *testing.T) {
	dir := os.Getenv("FAASMON_PROFILE_LAB")
	if dir == "" {
		t.Skip("FAASMON_PROFILE_LAB not set")
	}
	byFn := readLab(t, dir)
	var learnFrom map[string][]*provenance.Graph
	if d := os.Getenv("FAASMON_PROFILE_LAB_LEARN"); d != "" {
		learnFrom = readLab(t, d)
	}
	var fns []string
	for f := range byFn {
		fns = append(fns, f)
	}
	sort.Strings(fns)
	var benignTest, benignFlagged, attacks, attacksFlagged int
	for _, f := range fns {
		gs := byFn[f]
		var benign, attack, learn []*provenance.Graph
		for _, g := range gs {
			if g.Label == "attack" {
				attack = append(attack, g)
			} else {
				benign = append(benign, g)
			}
		}
		if learnFrom != nil {
			for _, g := range learnFrom[f] {
				if learnable(g) {
					learn = append(learn, g)
				}
			}
		} else {
			for _, g := range benign[:len(benign)/2] {
				if learnable(g) {
					learn = append(learn, g)
				}
			}
			benign = benign[len(benign)/2:]
		}
		p := New(Key{Function: f, Version: "lab"}, Config{})
		for _, g := range learn {
			p.Learn(g)
		}
		p.Arm(traceT0)
		var armed []string
		for _, d := range Dimensions {
			if p.DimArmed(d) {
				armed = append(armed, string(d))
			}
		}
		fl := 0
		for _, g := range benign {
			if fs := p.Check(g); len(fs) > 0 {
				fl++
				t.Logf("FP %s %s: %s: %s", f, g.Window, fs[0].Rule, fs[0].Text)
			}
		}
		af := 0
		for _, g := range attack {
			if fs := p.Check(g); len(fs) > 0 {
				af++
				t.Logf("TP %s %s %s: %s: %s", f, g.Window, g.Scenario, fs[0].Rule, fs[0].Text)
			} else {
				t.Logf("FN %s %s %s", f, g.Window, g.Scenario)
			}
		}
		benignTest += len(benign)
		benignFlagged += fl
		attacks += len(attack)
		attacksFlagged += af
		fmt.Printf("%-24s learnt %3d  benign flagged %d/%d  attacks flagged %d/%d  armed %v\n", f, len(learn), fl, len(benign), af, len(attack), armed)
	}
	fmt.Printf("benign flagged %d/%d, attack graphs flagged %d/%d\n", benignFlagged, benignTest, attacksFlagged, attacks)
}

// learnable: a benign graph of a benign scenario. The lab labels benign
// the windows of a compromised container where the attack's processes only
// move bytes through a pipe (tests/lab/README.md); a profile must not learn
// the beacon's curl from them.
func learnable(g *provenance.Graph) bool {
	return g.Label != "attack" && !strings.HasPrefix(g.Scenario, "attack")
}

// readLab reads a run's graphs by function, in time order.
func readLab(t *testing.T, dir string) map[string][]*provenance.Graph {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	byFn := map[string][]*provenance.Graph{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g provenance.Graph
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatal(err)
		}
		byFn[g.Function] = append(byFn[g.Function], &g)
	}
	for _, gs := range byFn {
		sort.Slice(gs, func(i, j int) bool { return gs[i].End.Before(gs[j].End) })
	}
	return byFn
}

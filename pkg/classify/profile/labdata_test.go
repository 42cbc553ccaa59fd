package profile

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// readJSONL reads testdata/lab/<name>.jsonl.gz: one graph per line (see
// testdata/lab/README.md for how they were captured).
func readJSONL(t testing.TB, name string) []*provenance.Graph {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "lab", name+".jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 16<<20)
	var gs []*provenance.Graph
	for sc.Scan() {
		var g provenance.Graph
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		if err := g.Validate(); err != nil {
			t.Fatal(err)
		}
		gs = append(gs, &g)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return gs
}

// The lab app's functions, learnt from one lab run's benign traffic and
// checked against another run (testdata/lab/README.md): their benign calls
// and background windows raise nothing, every attack call's graph raises a
// deviation. photo-receive is attacked through its command injection
// (download-and-execute, persistent beacon, secret theft),
// purchase-authorize-cc by the container-reuse attack, which none of the
// learning run's attacks resembled.
func TestLabFunctions(t *testing.T) {
	for _, tc := range []struct {
		fn    string
		armed []Dimension
	}{
		{"photo-receive", []Dimension{DimExe, DimExec, DimWriteDir, DimEndpoint}},
		{"purchase-authorize-cc", []Dimension{DimExe, DimExec, DimArgv, DimWriteDir, DimEndpoint}},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			learn := readJSONL(t, tc.fn+"-run1-benign")
			check := readJSONL(t, tc.fn+"-run2")
			p := New(Key{Function: tc.fn, Version: "lab"}, Config{})
			for _, g := range learn {
				if g.Label != "benign" || g.Function != tc.fn {
					t.Fatalf("learning set holds %s graph %s", g.Label, g.ID)
				}
				p.Learn(g)
			}
			p.Arm(traceT0)
			for _, d := range tc.armed {
				if !p.DimArmed(d) {
					t.Errorf("%s not armed", d)
				}
			}
			var benign, fp, attack, tp, bgAttack, bgTP int
			for _, g := range check {
				fs := p.Check(g)
				switch {
				case g.Label != "attack":
					benign++
					if len(fs) > 0 {
						fp++
						t.Errorf("benign graph %s (%s): %s: %s", g.ID, g.Window, fs[0].Rule, fs[0].Text)
					}
				case g.Window == provenance.WindowInvocation:
					attack++
					if len(fs) > 0 {
						tp++
					} else {
						t.Errorf("attack call %s (%s) raised nothing", g.ID, g.Scenario)
					}
				default:
					// An attack's background windows: those that only show
					// the benign part of the call after a lost chunk raise
					// nothing (see TestExecPairNeedsKnownParent).
					bgAttack++
					if len(fs) > 0 {
						bgTP++
					}
				}
			}
			t.Logf("learnt %d graphs; benign flagged %d/%d; attack calls flagged %d/%d; attack background windows %d/%d",
				len(learn), fp, benign, tp, attack, bgTP, bgAttack)
			if attack == 0 || benign == 0 {
				t.Fatalf("%d attack and %d benign graphs to check", attack, benign)
			}
		})
	}
}

package detect

import (
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/classify/gnn"
	"github.com/faasmon/faasmon/pkg/classify/gnn/gnntest"
	"github.com/faasmon/faasmon/pkg/classify/invariant"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// TestUnion: whatever the GNN says of a graph, a refused read of
// /etc/shadow in it makes the verdict an attack decided by the invariant,
// with the GNN's numbers kept; without it the GNN's verdict stands.
func TestUnion(t *testing.T) {
	m, rng := gnntest.SmallModel(t)
	d := Detector{Model: m}
	for i := 0; i < 10; i++ {
		g := gnn.SyntheticGraph(rng, 25, i%2 == 1)
		plain, err := d.Verdict(g, gnn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		gnnOnly, err := (&Detector{Model: m, NoInvariants: true}).Verdict(g, gnn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if inv := invariant.Check(g); len(inv) == 0 {
			if plain.Verdict != gnnOnly.Verdict || plain.Source != gnnOnly.Source {
				t.Fatalf("graph %d: no invariant holds, yet the verdict changed: %s/%s vs %s/%s", i, plain.Verdict, plain.Source, gnnOnly.Verdict, gnnOnly.Source)
			}
			if (plain.Verdict == verdict.Attack) != (len(plain.Findings) == 1) {
				t.Fatalf("graph %d: verdict %s with %d findings", i, plain.Verdict, len(plain.Findings))
			}
		} else if plain.Verdict != verdict.Attack || plain.Source != verdict.PartInvariant || len(plain.Findings) < len(inv) {
			t.Fatalf("graph %d: invariants %v, yet %s by %s", i, rulesOf(inv), plain.Verdict, plain.Source)
		}
		proc := -1
		for _, n := range g.Nodes {
			if n.Kind == provenance.NodeProcess {
				proc = n.ID
				break
			}
		}
		g.Acts = append(g.Acts, provenance.Act{Proc: proc, Syscall: "openat", Path: "/etc/shadow", Arg: "O_RDONLY", Errno: "EACCES", Count: 1})
		v, err := d.Verdict(g, gnn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Verdict != verdict.Attack || v.Source != verdict.PartInvariant || v.Score != plain.Score {
			t.Fatalf("graph %d: %s by %s score %v, want attack by invariant with score %v", i, v.Verdict, v.Source, v.Score, plain.Score)
		}
		var f verdict.Finding
		for _, x := range v.Findings {
			if x.Rule == "credential-store-read" {
				f = x
			}
		}
		if f.Rule != "credential-store-read" || f.Technique != "T1003.008" || !strings.Contains(f.Text, "tried to read /etc/shadow (EACCES)") {
			t.Fatalf("finding %+v", f)
		}
	}
}

func rulesOf(fs []verdict.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

package detect

import (
	"fmt"
	"strings"

	"github.com/faasmon/faasmon/pkg/classify/gnn"
	"github.com/faasmon/faasmon/pkg/classify/invariant"
	"github.com/faasmon/faasmon/pkg/classify/profile"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Detector holds the parts. Model is required; the invariants need no
// state; Profiles is optional (nil: no profile part).
type Detector struct {
	Model *gnn.Model
	// NoInvariants turns the invariants off (the GNN's own numbers).
	NoInvariants bool
	// Exceptions are the user's reviewed exceptions to the invariants
	// (nil: none).
	Exceptions *invariant.Exceptions
	// Profiles learns each function version's behaviour from its first
	// graphs and then checks every graph against it. A graph another
	// part flagged is not learnt, so an attack during learning is not
	// absorbed into the profile.
	Profiles *profile.Learner
	// Logf reports what does not stop a verdict (a profile store that
	// failed); nil: dropped.
	Logf func(format string, args ...any)
}

// Verdict classifies g with every part. The GNN's Score, Supervised and
// AnomalyScore are reported as they are; Verdict is the union, and Source
// names the first part that decided, in the order invariant, egress,
// supervised, one-class, profile.
func (d *Detector) Verdict(g *provenance.Graph, opts gnn.Options) (*verdict.Verdict, error) {
	return d.Judge(g, opts, true)
}

// Judge is Verdict with the profile's learning under the caller's control:
// learn false checks g against the profiles but never learns it, for
// graphs whose origin is not authenticated (faasmon-classify's direct
// callers), which could otherwise teach a profile an attack's behaviour.
func (d *Detector) Judge(g *provenance.Graph, opts gnn.Options, learn bool) (*verdict.Verdict, error) {
	if d.Model == nil {
		return nil, fmt.Errorf("detect: no model")
	}
	v, err := d.Model.Verdict(g, opts)
	if err != nil {
		return nil, err
	}
	if v.Verdict == verdict.Attack {
		v.Findings = append(v.Findings, gnnFinding(v))
	}
	if !d.NoInvariants {
		if inv := invariant.CheckWith(g, d.Exceptions); len(inv) > 0 {
			v.Findings = append(inv, v.Findings...)
			v.Verdict, v.Source = verdict.Attack, verdict.PartInvariant
		}
	}
	if d.Profiles != nil {
		res, err := d.Profiles.Observe(profile.VersionOf(g), g, nil, learn && v.Verdict != verdict.Attack)
		switch {
		case err != nil:
			// The other parts' verdict stands; the profile part is blind
			// for this graph, and says so.
			if d.Logf != nil {
				d.Logf("profile of %s: %v", g.Function, err)
			}
		case len(res.Findings) > 0:
			v.Findings = append(v.Findings, res.Findings...)
			if v.Verdict != verdict.Attack {
				v.Verdict, v.Source = verdict.Attack, verdict.PartProfile
			}
		}
	}
	// Last, and without touching Verdict: what the detector could not see
	// in this container (pkg/verdict's blind-spot contract), and what the
	// graph itself lost before it was judged (graphloss.go).
	v.Findings = append(v.Findings, BlindSpots(g)...)
	v.Findings = append(v.Findings, graphLoss(g)...)
	return v, nil
}

// gnnFinding says in words what the GNN's deciding part saw.
func gnnFinding(v *verdict.Verdict) verdict.Finding {
	f := verdict.Finding{Part: v.Source, Severity: "warning"}
	switch v.Source {
	case verdict.PartEgress:
		f.Text = fmt.Sprintf("%s reached %s, never reached by this function in benign training",
			v.Function, strings.Join(v.NovelEndpoints, ", "))
		f.Severity = "critical"
	case verdict.PartOneClass:
		f.Text = fmt.Sprintf("%s: the graph is far from every benign graph the model learnt (anomaly %.2f)", v.Function, v.AnomalyScore)
	default:
		f.Part = verdict.PartSupervised
		f.Text = fmt.Sprintf("%s: the GNN scores the graph %.2f attack (threshold %.2f)%s", v.Function, v.Supervised, v.Threshold, explained(v))
	}
	if v.Explanation != nil {
		for _, n := range v.Explanation.Nodes {
			f.Nodes = append(f.Nodes, n.ID)
		}
	}
	return f
}

// explained names the heaviest nodes of the explanation.
func explained(v *verdict.Verdict) string {
	if v.Explanation == nil || len(v.Explanation.Nodes) == 0 {
		return ""
	}
	var labels []string
	for i, n := range v.Explanation.Nodes {
		if i == 3 {
			break
		}
		labels = append(labels, n.Label)
	}
	return "; around " + strings.Join(labels, ", ")
}

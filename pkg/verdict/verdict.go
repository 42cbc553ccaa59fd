package verdict

import (
	"errors"
	"fmt"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// Verdict values: the same words as the labels of the lab's datasets, so
// that evaluation compares like with like.
const (
	Benign = "benign"
	Attack = "attack"
)

// Verdict is the classification of one provenance graph, with what is needed
// to act on it without the graph: where it happened and why it was judged so.
type Verdict struct {
	GraphID   string            `json:"graph_id"`
	Function  string            `json:"function"`
	Namespace string            `json:"namespace,omitempty"`
	Node      string            `json:"node,omitempty"` // the machine
	Pod       string            `json:"pod,omitempty"`
	Container string            `json:"container,omitempty"`
	CallID    string            `json:"call_id,omitempty"`
	Window    provenance.Window `json:"window,omitempty"`
	// GraphEnd is the time of the graph's last event: detection latency is
	// measured from it.
	GraphEnd time.Time `json:"graph_end,omitzero"`

	Verdict      string  `json:"verdict"`
	Score        float64 `json:"score"`
	Threshold    float64 `json:"threshold"`
	ModelVersion string  `json:"model_version"`
	// The parts of Score (see pkg/classify/gnn): the supervised P(attack), the
	// calibrated one-class anomaly score, the external endpoints outside
	// the function's benign egress baseline, and which part decided
	// ("supervised", "one-class" or "egress").
	Supervised     float64  `json:"supervised"`
	AnomalyScore   float64  `json:"anomaly_score,omitempty"`
	NovelEndpoints []string `json:"novel_endpoints,omitempty"`
	Source         string   `json:"source,omitempty"`
	// Findings are the evidence of every part that raised the verdict to
	// attack, in words, each with the part that decided and, for runtime
	// invariants, its MITRE ATT&CK technique (see Finding). A verdict is
	// an attack when any part finds one: invariants ∪ profile deviations ∪
	// egress ∪ GNN.
	Findings []Finding `json:"findings,omitempty"`

	Explanation *Explanation `json:"explanation,omitempty"`
	// Labels are the function's labels when the sender knows them, for
	// people reading the verdict. faasmon-alert never acts on them: the
	// response label (com.faasmon.response) is read from the function's
	// deployment at the provider, as a verdict is data.
	Labels map[string]string `json:"labels,omitempty"`
	// Time is when the verdict was made.
	Time time.Time `json:"time,omitzero"`
	// Graph is the classified graph, included on request (?graph=true) so
	// that an alert can show the suspicious subgraph.
	Graph *provenance.Graph `json:"graph,omitempty"`
}

// Parts of the detector, as Finding.Part and Verdict.Source name them.
const (
	PartInvariant  = "invariant"  // a runtime invariant (pkg/classify/invariant), no learning
	PartProfile    = "profile"    // a deviation from the function's behaviour profile
	PartEgress     = "egress"     // an external endpoint new to the function
	PartSupervised = "supervised" // the GNN's supervised head
	PartOneClass   = "one-class"  // the GNN's Deep SVDD distance
	PartBlindSpot  = "blind-spot" // the detector could not see part of a container
)

// Finding is one piece of evidence: which part found it, which rule or
// dimension, the ATT&CK technique and tactic where one applies, and what
// happened in words a person reads without the graph.
type Finding struct {
	Part string `json:"part"`
	// Rule is the invariant's id ("credential-store-read") or the profile
	// dimension ("exec"); empty for the GNN.
	Rule string `json:"rule,omitempty"`
	// Technique is a MITRE ATT&CK technique id ("T1003.008"), Tactic its
	// tactic in Falco's tag style ("credential_access").
	Technique string `json:"technique,omitempty"`
	Tactic    string `json:"tactic,omitempty"`
	// Severity is "critical", "warning" or "notice".
	Severity string `json:"severity,omitempty"`
	Text     string `json:"text"`
	// Nodes are the graph nodes the finding is about (ids in Graph.Nodes).
	Nodes []int `json:"nodes,omitempty"`
}

// Explanation names the nodes and edges that weigh most in the decision.
type Explanation struct {
	Method string     `json:"method"`
	Nodes  []NodeAttr `json:"nodes"`
	Edges  []EdgeAttr `json:"edges"`
}

// NodeAttr is one node of an explanation (ID indexes Graph.Nodes).
type NodeAttr struct {
	ID     int     `json:"id"`
	Kind   string  `json:"kind"`
	Label  string  `json:"label"`
	Weight float64 `json:"weight"`
}

// EdgeAttr is one edge of an explanation (Index indexes Graph.Edges).
type EdgeAttr struct {
	Index  int     `json:"index"`
	Src    int     `json:"src"`
	Dst    int     `json:"dst"`
	Kind   string  `json:"kind"`
	From   string  `json:"from"`
	To     string  `json:"to"`
	Weight float64 `json:"weight"`
}

// ErrInvalid marks a verdict a consumer cannot use.
var ErrInvalid = errors.New("invalid verdict")

// Validate checks what consumers rely on.
func (v *Verdict) Validate() error {
	if v.Verdict != Benign && v.Verdict != Attack {
		return fmt.Errorf("%w: verdict %q, want %q or %q", ErrInvalid, v.Verdict, Benign, Attack)
	}
	if v.GraphID == "" || v.Function == "" {
		return fmt.Errorf("%w: graph_id and function are required", ErrInvalid)
	}
	if v.Graph != nil {
		if err := v.Graph.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if e := v.Explanation; e != nil && v.Graph != nil {
		for _, n := range e.Nodes {
			if n.ID < 0 || n.ID >= len(v.Graph.Nodes) {
				return fmt.Errorf("%w: explanation node %d outside the graph", ErrInvalid, n.ID)
			}
		}
		for _, ed := range e.Edges {
			if ed.Index < 0 || ed.Index >= len(v.Graph.Edges) {
				return fmt.Errorf("%w: explanation edge %d outside the graph", ErrInvalid, ed.Index)
			}
		}
	}
	return nil
}

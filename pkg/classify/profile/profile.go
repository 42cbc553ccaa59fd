package profile

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Bounds that do not depend on the configuration: what a value, a key and
// a profile file may hold.
const (
	MaxValueLen    = 512
	MaxFunctionLen = 253 // a Kubernetes object name
	MaxVersionLen  = 512
	maxCountValue  = 1 << 30
)

// State is a profile's phase.
type State string

const (
	// Learning: benign graphs are learnt; Check finds nothing (the
	// invariants, the egress part and the GNN still alert).
	Learning State = "learning"
	// Armed: the profile is frozen; Check reports deviations in the
	// dimensions where the function rarely shows new behaviour.
	Armed State = "armed"
)

// Mode is how a person set a dimension.
type Mode string

const (
	// ModeAuto (the default, "" in files): armed when the missing-mass
	// rule says the dimension is stable.
	ModeAuto Mode = "auto"
	// ModeArmed: armed once the profile is, whatever the missing mass (a
	// person reviewed the values and vouches for them).
	ModeArmed Mode = "armed"
	// ModeOff: never armed.
	ModeOff Mode = "off"
)

// Config holds the learning and arming rule. The zero value of a field
// takes its default (DefaultConfig).
type Config struct {
	// LearnGraphs and LearnFor end learning: the profile arms after this
	// many benign graphs or this long after its first one, whichever comes
	// first. Zero takes the default; a negative value disables the
	// criterion.
	LearnGraphs int
	LearnFor    time.Duration
	// MinGraphs and MaxMissing are the egress baseline's arming rule
	// (pkg/classify/gnn/egress.go), per dimension: armed when the Good–Turing
	// (leave-one-out) estimate of the probability that the next benign
	// graph shows a value never seen, singletons/graphs, is at most
	// MaxMissing over at least MinGraphs graphs.
	MinGraphs  int
	MaxMissing float64
	// MaxValues caps the values a dimension keeps; a dimension that hits
	// it counts the values it dropped (Dim.Overflow) and is never armed
	// automatically: it varies too much to be a profile.
	MaxValues int
	// A count is far above what was seen when it exceeds both
	// CountFactor × the learnt maximum and the maximum + CountSlack.
	CountFactor float64
	CountSlack  int
	// MaxFindings bounds the findings of one graph.
	MaxFindings int
}

// DefaultConfig is the rule the issue asks for: 1% missing mass over at
// least 20 graphs, as the egress baseline.
func DefaultConfig() Config {
	return Config{LearnGraphs: 200, LearnFor: 24 * time.Hour, MinGraphs: 20, MaxMissing: 0.01,
		MaxValues: 1024, CountFactor: 2, CountSlack: 5, MaxFindings: 16}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.LearnGraphs == 0 {
		c.LearnGraphs = d.LearnGraphs
	}
	if c.LearnFor == 0 {
		c.LearnFor = d.LearnFor
	}
	if c.MinGraphs <= 0 {
		c.MinGraphs = d.MinGraphs
	}
	if c.MaxMissing <= 0 || math.IsNaN(c.MaxMissing) {
		c.MaxMissing = d.MaxMissing
	}
	if c.MaxValues <= 0 {
		c.MaxValues = d.MaxValues
	}
	if c.CountFactor <= 0 || math.IsNaN(c.CountFactor) {
		c.CountFactor = d.CountFactor
	}
	if c.CountSlack <= 0 {
		c.CountSlack = d.CountSlack
	}
	if c.MaxFindings <= 0 {
		c.MaxFindings = d.MaxFindings
	}
	return c
}

// Validate checks a configuration given by a person (flags, environment).
func (c Config) Validate() error {
	switch {
	case c.MinGraphs < 0:
		return fmt.Errorf("profile config: min graphs %d < 0", c.MinGraphs)
	case c.MaxMissing < 0 || c.MaxMissing >= 1 || math.IsNaN(c.MaxMissing):
		return fmt.Errorf("profile config: max missing mass %v outside [0, 1)", c.MaxMissing)
	case c.MaxValues < 0 || c.MaxValues > 1<<16:
		return fmt.Errorf("profile config: max values %d outside [0, 65536]", c.MaxValues)
	case c.CountFactor < 0 || math.IsNaN(c.CountFactor) || math.IsInf(c.CountFactor, 0):
		return fmt.Errorf("profile config: count factor %v", c.CountFactor)
	}
	return nil
}

// Key names a profile: a function version.
type Key struct {
	Namespace string `json:"namespace,omitempty"`
	Function  string `json:"function"`
	// Version is the function's code version as the caller knows it: the
	// image digest ("sha256:…") where there is one, else the deployment's
	// image reference or a label the user sets. A new version learns a new
	// profile, so a redeploy re-learns. The graph does not carry it: a
	// graph knows its function, pod and container, not the image.
	Version string `json:"version"`
}

// String is "namespace/function@version".
func (k Key) String() string {
	ns := k.Namespace
	if ns == "" {
		ns = "openfaas-fn"
	}
	return ns + "/" + k.Function + "@" + k.Version
}

// Unversioned is the version of graphs whose tracer did not name the
// container's image (pkg/classify/detect uses the same word).
const Unversioned = "unversioned"

// VersionOf is the version the graph names: its image, or Unversioned.
func VersionOf(g *provenance.Graph) string {
	if g.Image != "" {
		return g.Image
	}
	return Unversioned
}

// KeyOf is the key of g's function at version.
func KeyOf(g *provenance.Graph, version string) Key {
	return Key{Namespace: g.Namespace, Function: g.Function, Version: version}
}

// ErrInvalid marks a profile, key or file that is not acceptable.
var ErrInvalid = errors.New("invalid profile")

// Validate checks a key from outside: names are printable, bounded and
// free of what would confuse a file or a log line.
func (k Key) Validate() error {
	switch {
	case k.Function == "":
		return fmt.Errorf("%w: empty function name", ErrInvalid)
	case len(k.Function) > MaxFunctionLen || len(k.Namespace) > MaxFunctionLen:
		return fmt.Errorf("%w: function or namespace longer than %d", ErrInvalid, MaxFunctionLen)
	case len(k.Version) > MaxVersionLen:
		return fmt.Errorf("%w: version longer than %d", ErrInvalid, MaxVersionLen)
	}
	for _, s := range []string{k.Namespace, k.Function, k.Version} {
		if err := checkText(s); err != nil {
			return fmt.Errorf("%w: key %q: %v", ErrInvalid, s, err)
		}
	}
	if strings.ContainsAny(k.Function+k.Namespace, "/@ ") {
		return fmt.Errorf("%w: function %q or namespace %q holds '/', '@' or a space", ErrInvalid, k.Function, k.Namespace)
	}
	return nil
}

// checkText refuses control characters and invalid UTF-8.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("control character %U", r)
		}
	}
	return nil
}

// Value is one learnt value of a dimension.
type Value struct {
	// Graphs is how many learnt graphs showed it; 0 for a value a person
	// added (known, but no evidence for the missing mass).
	Graphs int `json:"n"`
	// First is the sequence number of the first graph that showed it: the
	// leave-one-out estimate needs to know which graph a value seen once
	// belongs to.
	First int `json:"f,omitempty"`
}

// Dim is what a profile learnt in one dimension.
type Dim struct {
	Mode Mode `json:"mode,omitempty"`
	// Graphs is how many learnt graphs the dimension applied to.
	Graphs int               `json:"graphs"`
	Values map[string]*Value `json:"values"`
	// Aliases are other names of known values (the addresses of named
	// endpoints), with the graphs that showed them; they make an item
	// known but do not count for the missing mass.
	Aliases map[string]int `json:"aliases,omitempty"`
	// Overflow counts values not kept because the dimension was full;
	// AliasOverflow the same for aliases.
	Overflow      int `json:"overflow,omitempty"`
	AliasOverflow int `json:"alias_overflow,omitempty"`

	// single maps a graph sequence number to how many values only that
	// graph showed; its size is the number of singleton graphs. Rebuilt
	// from Values after loading.
	single map[int]int
}

// Count is a learnt per-graph maximum.
type Count struct {
	Mode   Mode `json:"mode,omitempty"`
	Max    int  `json:"max"`
	Graphs int  `json:"graphs"`
}

// Profile is the learnt behaviour of one function version.
type Profile struct {
	Key     Key       `json:"key"`
	State   State     `json:"state"`
	Started time.Time `json:"started,omitzero"`
	ArmedAt time.Time `json:"armed_at,omitzero"`
	// Graphs is how many graphs were learnt (also the sequence number of
	// the last one); Skipped how many graphs the learner saw while
	// learning but did not learn, because another part flagged them.
	Graphs  int                `json:"graphs"`
	Skipped int                `json:"skipped,omitempty"`
	Dims    map[Dimension]*Dim `json:"dims"`
	Counts  map[string]*Count  `json:"counts"`

	// Config is the learning and arming rule; not stored (it is the
	// deployment's, not the profile's). The zero value takes the defaults.
	Config Config `json:"-"`
}

// New starts an empty, learning profile.
func New(k Key, cfg Config) *Profile {
	return &Profile{Key: k, State: Learning, Dims: map[Dimension]*Dim{}, Counts: map[string]*Count{}, Config: cfg}
}

func (p *Profile) cfg() Config { return p.Config.withDefaults() }

func (p *Profile) dim(d Dimension) *Dim {
	if p.Dims == nil {
		p.Dims = map[Dimension]*Dim{}
	}
	x := p.Dims[d]
	if x == nil {
		x = &Dim{Values: map[string]*Value{}}
		p.Dims[d] = x
	}
	return x
}

// Singletons is how many learnt graphs hold a value no other graph holds.
func (d *Dim) Singletons() int {
	d.index()
	return len(d.single)
}

// MissingMass is the Good–Turing estimate of the probability that the next
// benign graph shows a value never seen in this dimension.
func (d *Dim) MissingMass() float64 {
	if d.Graphs == 0 {
		return 1
	}
	return float64(d.Singletons()) / float64(d.Graphs)
}

func (d *Dim) index() {
	if d.single != nil {
		return
	}
	d.single = map[int]int{}
	for _, v := range d.Values {
		if v.Graphs == 1 {
			d.single[v.First]++
		}
	}
}

// Known says whether v is a learnt value or alias of the dimension.
func (d *Dim) Known(v string) bool {
	if d == nil {
		return false
	}
	if _, ok := d.Values[v]; ok {
		return true
	}
	_, ok := d.Aliases[v]
	return ok
}

// armedBy says whether the dimension is armed under cfg, and why not.
func (d *Dim) armedBy(cfg Config) (bool, string) {
	switch d.Mode {
	case ModeOff:
		return false, "off"
	case ModeArmed:
		return true, "armed by hand"
	}
	switch {
	case d.Overflow > 0:
		return false, fmt.Sprintf("%d values over the cap: varies too much", d.Overflow)
	case d.Graphs < cfg.MinGraphs:
		return false, fmt.Sprintf("%d graphs, %d needed", d.Graphs, cfg.MinGraphs)
	case d.MissingMass() > cfg.MaxMissing:
		return false, fmt.Sprintf("missing mass %.1f%% over %d graphs > %.1f%%: varies", 100*d.MissingMass(), d.Graphs, 100*cfg.MaxMissing)
	}
	return true, fmt.Sprintf("missing mass %.1f%% over %d graphs", 100*d.MissingMass(), d.Graphs)
}

// DimArmed says whether dimension d checks graphs once the profile is armed.
func (p *Profile) DimArmed(d Dimension) bool {
	x := p.Dims[d]
	if x == nil {
		return false
	}
	ok, _ := x.armedBy(p.cfg())
	return ok
}

// learn adds one graph's values.
func (d *Dim) learn(items []Item, seq, maxValues int) {
	d.index()
	d.Graphs++
	for _, it := range items {
		if v := d.Values[it.Value]; v != nil {
			if v.Graphs == 1 {
				if d.single[v.First]--; d.single[v.First] <= 0 {
					delete(d.single, v.First)
				}
			}
			v.Graphs++
			if v.Graphs == 1 { // a value a person added, now seen
				v.First = seq
				d.single[seq]++
			}
		} else if len(d.Values) >= maxValues {
			d.Overflow++
		} else {
			d.Values[it.Value] = &Value{Graphs: 1, First: seq}
			d.single[seq]++
		}
		if it.Alias != "" {
			if _, ok := d.Aliases[it.Alias]; ok {
				d.Aliases[it.Alias]++
			} else if len(d.Aliases) >= maxValues {
				d.AliasOverflow++
			} else {
				if d.Aliases == nil {
					d.Aliases = map[string]int{}
				}
				d.Aliases[it.Alias] = 1
			}
		}
	}
}

// Learn adds a benign graph to the profile. It does nothing once the
// profile is armed: an armed profile changes only through import.
func (p *Profile) Learn(g *provenance.Graph) { p.LearnBehaviour(Extract(g, nil)) }

// LearnBehaviour is Learn for a graph already reduced (with Extra).
func (p *Profile) LearnBehaviour(b *Behaviour) {
	if p.State == Armed {
		return
	}
	if p.State == "" {
		p.State = Learning
	}
	cfg := p.cfg()
	p.Graphs++
	for _, d := range Dimensions {
		items, ok := b.Dims[d]
		if !ok {
			continue
		}
		p.dim(d).learn(items, p.Graphs, cfg.MaxValues)
	}
	if p.Counts == nil {
		p.Counts = map[string]*Count{}
	}
	for name, n := range b.Counts {
		if !validCounter[name] {
			continue
		}
		c := p.Counts[name]
		if c == nil {
			c = &Count{}
			p.Counts[name] = c
		}
		c.Graphs++
		c.Max = max(c.Max, min(n, maxCountValue))
	}
}

// Arm ends learning.
func (p *Profile) Arm(now time.Time) {
	if p.State != Armed {
		p.State, p.ArmedAt = Armed, now.UTC()
	}
}

// Check returns g's deviations from the profile: behaviours never seen for
// this function version in a dimension where it rarely shows new ones, and
// counts far above any seen. A learning profile finds nothing.
func (p *Profile) Check(g *provenance.Graph) []verdict.Finding {
	return p.CheckBehaviour(Extract(g, nil))
}

// CheckBehaviour is Check for a graph already reduced (with Extra).
func (p *Profile) CheckBehaviour(b *Behaviour) []verdict.Finding {
	if p.State != Armed {
		return nil
	}
	cfg := p.cfg()
	fn := b.Function
	if fn == "" {
		fn = p.Key.Function
	}
	// Findings are listed round-robin over the dimensions (the first new
	// value of each, then the second of each, …), so that the cap keeps
	// every kind of deviation in view.
	type ranked struct {
		rank  int
		d     Dimension
		x     *Dim
		it    Item
		nodes []int
	}
	var all []ranked
	// reported holds, per group of dimensions that describe the same
	// node, the nodes already named: a new file in a new directory is
	// named once, by its directory; a new executable once, not again by
	// its parent pair and command line.
	reported := map[string]map[int]bool{}
	for _, d := range Dimensions {
		x := p.Dims[d]
		if x == nil {
			continue
		}
		if ok, _ := x.armedBy(cfg); !ok {
			continue
		}
		grp := dedupeGroup(d)
		if reported[grp] == nil {
			reported[grp] = map[int]bool{}
		}
		rank := 0
		for _, it := range b.Dims[d] {
			if x.Known(it.Value) || (it.Alias != "" && x.Known(it.Alias)) {
				continue
			}
			var nodes []int
			for _, n := range it.Nodes {
				if n >= 0 {
					nodes = append(nodes, n)
				}
			}
			if len(nodes) > 0 && reported[grp][nodes[0]] {
				continue
			}
			for _, n := range nodes {
				reported[grp][n] = true
			}
			all = append(all, ranked{rank, d, x, it, nodes})
			rank++
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].rank < all[j].rank })
	// Counts first: one line each, and a count far above the learnt
	// maximum is a strong sign.
	var out []verdict.Finding
	names := make([]string, 0, len(b.Counts))
	for name := range b.Counts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n := b.Counts[name]
		c := p.Counts[name]
		if c == nil || c.Mode == ModeOff || (c.Mode != ModeArmed && c.Graphs < cfg.MinGraphs) {
			continue
		}
		if float64(n) > cfg.CountFactor*float64(c.Max) && n > c.Max+cfg.CountSlack {
			w, what, _ := strings.Cut(name, " ")
			out = append(out, verdict.Finding{Part: verdict.PartProfile, Rule: DimCount, Severity: "warning",
				Text: fmt.Sprintf("%s had %d %s in one %s window; at most %d in %d learnt graphs", fn, n, what, w, c.Max, c.Graphs)})
		}
	}
	for _, r := range all {
		if len(out) == cfg.MaxFindings {
			// Words only for what is kept; the cut below counts the rest.
			out = append(out, verdict.Finding{})
			continue
		}
		out = append(out, verdict.Finding{Part: verdict.PartProfile, Rule: string(r.d), Severity: "warning",
			Text: describe(fn, r.d, r.it, r.x), Nodes: r.nodes})
	}
	if len(out) > cfg.MaxFindings {
		more := len(out) - cfg.MaxFindings + 1
		out = out[:cfg.MaxFindings-1]
		out = append(out, verdict.Finding{Part: verdict.PartProfile, Rule: "more", Severity: "warning",
			Text: fmt.Sprintf("%s: %d more deviations from its profile", fn, more)})
	}
	return out
}

// dedupeGroup names the dimensions that describe the same graph nodes.
func dedupeGroup(d Dimension) string {
	switch d {
	case DimExe, DimExec, DimArgv:
		return "process"
	case DimWriteDir, DimWrite, DimDelete, DimRename, DimChmod, DimReadDir, DimRead, DimOpenDir, DimOpen:
		return "file"
	}
	return string(d)
}

// describe says what is new, in words, with what the function does
// instead.
func describe(fn string, d Dimension, it Item, x *Dim) string {
	class := ""
	if it.Class != "" {
		class = " (" + string(it.Class) + ")"
	}
	known := func(name func(string) string) string {
		return knownList(x, it.Value, name)
	}
	id := func(s string) string { return s }
	switch d {
	case DimExe:
		from := ""
		if it.Context != "" && it.Context != "?" {
			from = " from " + exeName(it.Context)
		}
		return fmt.Sprintf("%s ran %s%s for the first time; it runs: %s", fn, it.Value, from, known(exeName))
	case DimExec:
		return fmt.Sprintf("%s ran %s for the first time (parent → child); it runs: %s", fn, it.Value, known(id))
	case DimArgv:
		return fmt.Sprintf("%s ran the command line %q for the first time; its command lines: %s", fn, it.Value, known(id))
	case DimBackground:
		return fmt.Sprintf("%s had %s running outside any invocation for the first time; between invocations it runs: %s", fn, it.Value, known(exeName))
	case DimWriteDir:
		return fmt.Sprintf("%s wrote into %s%s for the first time; it writes into: %s", fn, it.Value, class, known(id))
	case DimWrite:
		return fmt.Sprintf("%s wrote %s%s for the first time; it writes: %s", fn, it.Value, class, known(id))
	case DimDelete:
		return fmt.Sprintf("%s deleted %s%s for the first time; it deletes: %s", fn, it.Value, class, known(id))
	case DimRename:
		return fmt.Sprintf("%s renamed a file to %s%s for the first time; it renames to: %s", fn, it.Value, class, known(id))
	case DimChmod:
		return fmt.Sprintf("%s changed the mode of %s%s for the first time; it changes: %s", fn, it.Value, class, known(id))
	case DimReadDir:
		return fmt.Sprintf("%s read from %s%s for the first time; it reads from: %s", fn, it.Value, class, known(id))
	case DimRead:
		return fmt.Sprintf("%s read %s%s for the first time; it reads: %s", fn, it.Value, class, known(id))
	case DimOpenDir:
		return fmt.Sprintf("%s opened a file in %s%s for the first time; it opens files in: %s", fn, it.Value, class, known(id))
	case DimOpen:
		return fmt.Sprintf("%s opened %s%s for the first time; it opens: %s", fn, it.Value, class, known(id))
	case DimEndpoint:
		v := it.Value
		if it.Alias != "" {
			v += " (" + it.Alias + ")"
		}
		return fmt.Sprintf("%s connected to %s for the first time; it connects to: %s", fn, v, known(id))
	case DimInbound:
		return fmt.Sprintf("%s was connected to from %s for the first time; it is connected to from: %s", fn, it.Value, known(id))
	case DimRequest:
		return fmt.Sprintf("%s saw the request %s for the first time; its requests: %s", fn, it.Value, known(id))
	}
	return fmt.Sprintf("%s showed %s %s for the first time", fn, d, it.Value)
}

// maxKnownListed bounds the known values a finding's text lists.
const maxKnownListed = 6

// knownList names the learnt values closest to v (longest common prefix
// first), so that the reader sees what the function does instead.
func knownList(x *Dim, v string, name func(string) string) string {
	if len(x.Values) == 0 {
		return "nothing"
	}
	type kv struct {
		s      string
		prefix int
		graphs int
	}
	all := make([]kv, 0, len(x.Values))
	seen := map[string]bool{}
	for s, val := range x.Values {
		n := name(s)
		if seen[n] {
			continue
		}
		seen[n] = true
		all = append(all, kv{n, commonPrefix(s, v), val.Graphs})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].prefix != all[j].prefix {
			return all[i].prefix > all[j].prefix
		}
		if all[i].graphs != all[j].graphs {
			return all[i].graphs > all[j].graphs
		}
		return all[i].s < all[j].s
	})
	var parts []string
	for i, k := range all {
		if i == maxKnownListed {
			parts = append(parts, fmt.Sprintf("… (%d in all)", len(all)))
			break
		}
		parts = append(parts, k.s)
	}
	return strings.Join(parts, ", ")
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

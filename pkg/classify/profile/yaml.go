package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

// The YAML form of profiles: what a person reviews, edits and commits, like
// a Falco rules file, and what `faasmon profile import` reads back. It is
// untrusted input: Import bounds its size, refuses unknown fields, anchors
// and aliases, and checks every number against the others.
const (
	APIVersion = "faasmon.dev/v1"
	FileKind   = "ProfileList"

	// MaxImportBytes bounds an imported file.
	MaxImportBytes = 16 << 20
	// MaxProfiles bounds the profiles of one file.
	MaxProfiles = 4096
	// MaxValuesHard bounds the values of one dimension in a file or a
	// stored profile, whatever Config.MaxValues says.
	MaxValuesHard = 1 << 16
	maxYAMLDepth  = 12
)

// File is the YAML document.
type File struct {
	APIVersion string        `yaml:"apiVersion"`
	Kind       string        `yaml:"kind"`
	Profiles   []FileProfile `yaml:"profiles"`
}

// FileProfile is one function version's profile.
type FileProfile struct {
	Function  string `yaml:"function"`
	Namespace string `yaml:"namespace,omitempty"`
	Version   string `yaml:"version"`
	// State is "learning" or "armed". Setting it to armed by hand arms the
	// profile now; to learning, learning goes on.
	State   State     `yaml:"state"`
	Graphs  int       `yaml:"graphs"`
	Skipped int       `yaml:"skipped,omitempty"`
	Started time.Time `yaml:"started,omitempty"`
	ArmedAt time.Time `yaml:"armed_at,omitempty"`
	// Dimensions are keyed by Dimension.
	Dimensions map[string]*FileDim   `yaml:"dimensions,omitempty"`
	Counts     map[string]*FileCount `yaml:"counts,omitempty"`
}

// FileDim is one dimension.
type FileDim struct {
	// Mode: auto (default), armed or off.
	Mode   Mode `yaml:"mode,omitempty"`
	Graphs int  `yaml:"graphs"`
	// Singletons is how many learnt graphs showed a value no other graph
	// showed; singletons/graphs is the missing mass.
	Singletons    int         `yaml:"singletons"`
	Overflow      int         `yaml:"overflow,omitempty"`
	AliasOverflow int         `yaml:"alias_overflow,omitempty"`
	Values        []FileValue `yaml:"values"`
	Aliases       []FileValue `yaml:"aliases,omitempty"`
}

// FileValue is a learnt value and the graphs that showed it. A value a
// person adds has graphs: 0.
type FileValue struct {
	Value  string `yaml:"value"`
	Graphs int    `yaml:"graphs"`
}

// FileCount is a learnt per-graph maximum.
type FileCount struct {
	Mode   Mode `yaml:"mode,omitempty"`
	Max    int  `yaml:"max"`
	Graphs int  `yaml:"graphs"`
}

const fileHeader = `faasmon behaviour profiles: what each function version did while it learnt.
Review, edit and commit; load with: faasmon profile import FILE
A dimension is armed (checks graphs) when its mode is armed, or when its
mode is auto and its missing mass (singletons/graphs) is at most %.1f%% over
at least %d graphs; comments say which. To allow a value, add it with
graphs: 0. To silence a dimension, set mode: off.`

// Export writes profiles as YAML, with comments saying which dimensions
// are armed under cfg.
func Export(w io.Writer, profiles []*Profile, cfg Config) error {
	cfg = cfg.withDefaults()
	f := File{APIVersion: APIVersion, Kind: FileKind, Profiles: []FileProfile{}}
	for _, p := range profiles {
		f.Profiles = append(f.Profiles, toFile(p))
	}
	var doc yaml.Node
	if err := doc.Encode(&f); err != nil {
		return fmt.Errorf("export profiles: %w", err)
	}
	doc.HeadComment = fmt.Sprintf(fileHeader, 100*cfg.MaxMissing, cfg.MinGraphs)
	if profs := mapValue(&doc, "profiles"); profs != nil {
		for i, pn := range profs.Content {
			decorate(pn, profiles[i], cfg)
		}
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("export profiles: %w", err)
	}
	return enc.Close()
}

func toFile(p *Profile) FileProfile {
	fp := FileProfile{Function: p.Key.Function, Namespace: p.Key.Namespace, Version: p.Key.Version,
		State: p.State, Graphs: p.Graphs, Skipped: p.Skipped, Started: p.Started, ArmedAt: p.ArmedAt}
	if len(p.Dims) > 0 {
		fp.Dimensions = map[string]*FileDim{}
	}
	for d, x := range p.Dims {
		fd := &FileDim{Mode: x.Mode, Graphs: x.Graphs, Singletons: x.Singletons(), Overflow: x.Overflow,
			AliasOverflow: x.AliasOverflow, Values: []FileValue{}}
		for v, val := range x.Values {
			fd.Values = append(fd.Values, FileValue{v, val.Graphs})
		}
		for v, n := range x.Aliases {
			fd.Aliases = append(fd.Aliases, FileValue{v, n})
		}
		sortValues(fd.Values)
		sortValues(fd.Aliases)
		fp.Dimensions[string(d)] = fd
	}
	if len(p.Counts) > 0 {
		fp.Counts = map[string]*FileCount{}
	}
	for n, c := range p.Counts {
		fp.Counts[n] = &FileCount{Mode: c.Mode, Max: c.Max, Graphs: c.Graphs}
	}
	return fp
}

func sortValues(v []FileValue) {
	sort.Slice(v, func(i, j int) bool { return v[i].Value < v[j].Value })
}

// decorate puts the dimensions in report order, writes each value on one
// line and says in a comment whether each dimension is armed.
func decorate(pn *yaml.Node, p *Profile, cfg Config) {
	dims := mapValue(pn, "dimensions")
	if dims == nil {
		return
	}
	order := map[string]int{}
	for i, d := range Dimensions {
		order[string(d)] = i
	}
	type pair struct{ k, v *yaml.Node }
	var pairs []pair
	for i := 0; i+1 < len(dims.Content); i += 2 {
		pairs = append(pairs, pair{dims.Content[i], dims.Content[i+1]})
	}
	sort.SliceStable(pairs, func(i, j int) bool { return order[pairs[i].k.Value] < order[pairs[j].k.Value] })
	dims.Content = dims.Content[:0]
	for _, pr := range pairs {
		dims.Content = append(dims.Content, pr.k, pr.v)
		if x := p.Dims[Dimension(pr.k.Value)]; x != nil {
			ok, why := x.armedBy(cfg)
			if ok {
				pr.k.LineComment = "armed: " + why
			} else {
				pr.k.LineComment = "not armed: " + why
			}
		}
		for _, list := range []string{"values", "aliases"} {
			if seq := mapValue(pr.v, list); seq != nil {
				for _, item := range seq.Content {
					item.Style = yaml.FlowStyle
				}
			}
		}
	}
	if counts := mapValue(pn, "counts"); counts != nil {
		for i := 1; i < len(counts.Content); i += 2 {
			counts.Content[i].Style = yaml.FlowStyle
		}
	}
}

// mapValue returns the value of key in a mapping node (or in the mapping a
// document node holds).
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Import reads a YAML profile file strictly and returns its profiles,
// validated. Nothing is stored.
func Import(r io.Reader) ([]*Profile, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read profile file: %w", err)
	}
	if len(data) > MaxImportBytes {
		return nil, fmt.Errorf("%w: file over %d bytes", ErrInvalid, MaxImportBytes)
	}
	// First as a tree, to refuse what a profile never needs and what makes
	// YAML expensive: anchors and aliases, deep nesting, several documents.
	var tree yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&tree); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty file", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrInvalid)
	}
	if err := checkTree(&tree, 0); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var f File
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if f.APIVersion != APIVersion || f.Kind != FileKind {
		return nil, fmt.Errorf("%w: apiVersion %q kind %q, want %q %q", ErrInvalid, f.APIVersion, f.Kind, APIVersion, FileKind)
	}
	if len(f.Profiles) > MaxProfiles {
		return nil, fmt.Errorf("%w: %d profiles, at most %d", ErrInvalid, len(f.Profiles), MaxProfiles)
	}
	var out []*Profile
	seen := map[Key]bool{}
	for i := range f.Profiles {
		fp := &f.Profiles[i]
		p, err := fromFile(fp)
		if err != nil {
			return nil, fmt.Errorf("%w: profile %d (%s@%s): %v", ErrInvalid, i+1, trunc(fp.Function), trunc(fp.Version), err)
		}
		if seen[p.Key] {
			return nil, fmt.Errorf("%w: profile %d: %s appears twice", ErrInvalid, i+1, p.Key)
		}
		seen[p.Key] = true
		out = append(out, p)
	}
	return out, nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%.64q…", s)
	}
	return s
}

func checkTree(n *yaml.Node, depth int) error {
	if depth > maxYAMLDepth {
		return fmt.Errorf("line %d: nested deeper than %d", n.Line, maxYAMLDepth)
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return fmt.Errorf("line %d: anchors and aliases are not accepted", n.Line)
	}
	for _, c := range n.Content {
		if err := checkTree(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// fromFile turns one file profile into a Profile and validates it.
func fromFile(fp *FileProfile) (*Profile, error) {
	p := &Profile{Key: Key{Namespace: fp.Namespace, Function: fp.Function, Version: fp.Version},
		State: fp.State, Graphs: fp.Graphs, Skipped: fp.Skipped, Started: fp.Started.UTC(), ArmedAt: fp.ArmedAt.UTC(),
		Dims: map[Dimension]*Dim{}, Counts: map[string]*Count{}}
	if fp.Started.IsZero() {
		p.Started = time.Time{}
	}
	if fp.ArmedAt.IsZero() {
		p.ArmedAt = time.Time{}
	}
	if p.Graphs < 0 || p.Graphs > maxCountValue {
		return nil, fmt.Errorf("graphs %d", p.Graphs)
	}
	for name, fd := range fp.Dimensions {
		if fd == nil {
			return nil, fmt.Errorf("dimension %q is empty", name)
		}
		d := Dimension(name)
		if !validDim[d] {
			return nil, fmt.Errorf("unknown dimension %q (known: %v)", trunc(name), Dimensions)
		}
		x := &Dim{Mode: fd.Mode, Graphs: fd.Graphs, Overflow: fd.Overflow, AliasOverflow: fd.AliasOverflow,
			Values: map[string]*Value{}}
		if x.Graphs < 0 || x.Graphs > p.Graphs {
			return nil, fmt.Errorf("dimension %s: graphs %d outside 0..%d (the profile's)", d, x.Graphs, p.Graphs)
		}
		if len(fd.Values) > MaxValuesHard || len(fd.Aliases) > MaxValuesHard {
			return nil, fmt.Errorf("dimension %s: more than %d values", d, MaxValuesHard)
		}
		var once []string
		for j, v := range fd.Values {
			if err := checkValue(v, x.Graphs); err != nil {
				return nil, fmt.Errorf("dimension %s: value %d: %v", d, j+1, err)
			}
			if _, dup := x.Values[v.Value]; dup {
				return nil, fmt.Errorf("dimension %s: value %q appears twice", d, trunc(v.Value))
			}
			x.Values[v.Value] = &Value{Graphs: v.Graphs}
			if v.Graphs == 1 {
				once = append(once, v.Value)
			}
		}
		for j, v := range fd.Aliases {
			if err := checkValue(v, x.Graphs); err != nil {
				return nil, fmt.Errorf("dimension %s: alias %d: %v", d, j+1, err)
			}
			if x.Aliases == nil {
				x.Aliases = map[string]int{}
			}
			if _, dup := x.Aliases[v.Value]; dup {
				return nil, fmt.Errorf("dimension %s: alias %q appears twice", d, trunc(v.Value))
			}
			x.Aliases[v.Value] = v.Graphs
		}
		// The leave-one-out estimate needs which graph each value seen
		// once came from; the file says only how many such graphs there
		// were. Spreading those values over that many graphs keeps the
		// missing mass the file states.
		s := fd.Singletons
		switch {
		case s < 0 || s > x.Graphs:
			return nil, fmt.Errorf("dimension %s: singletons %d outside 0..%d (its graphs)", d, s, x.Graphs)
		case s > len(once):
			return nil, fmt.Errorf("dimension %s: singletons %d, but only %d values were seen in exactly one graph", d, s, len(once))
		case s == 0 && len(once) > 0:
			return nil, fmt.Errorf("dimension %s: %d values were seen in exactly one graph, so singletons must be at least 1", d, len(once))
		}
		slices.Sort(once)
		for j, v := range once {
			x.Values[v].First = 1 + j%s
		}
		p.Dims[d] = x
	}
	for name, fc := range fp.Counts {
		if fc == nil {
			return nil, fmt.Errorf("count %q is empty", trunc(name))
		}
		p.Counts[name] = &Count{Mode: fc.Mode, Max: fc.Max, Graphs: fc.Graphs}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func checkValue(v FileValue, graphs int) error {
	switch {
	case v.Value == "":
		return errors.New("empty value")
	case len(v.Value) > MaxValueLen:
		return fmt.Errorf("value longer than %d bytes", MaxValueLen)
	case v.Graphs < 0 || v.Graphs > graphs:
		return fmt.Errorf("%q: graphs %d outside 0..%d (the dimension's)", trunc(v.Value), v.Graphs, graphs)
	}
	if err := checkText(v.Value); err != nil {
		return fmt.Errorf("%q: %v", trunc(v.Value), err)
	}
	return nil
}

// Validate checks a profile's internal consistency: what Check and Learn
// rely on, for a stored file as for an imported one.
func (p *Profile) Validate() error {
	if err := p.Key.Validate(); err != nil {
		return err
	}
	switch {
	case p.State != Learning && p.State != Armed:
		return fmt.Errorf("%w: state %q, want %q or %q", ErrInvalid, p.State, Learning, Armed)
	case p.Graphs < 0 || p.Graphs > maxCountValue || p.Skipped < 0 || p.Skipped > maxCountValue:
		return fmt.Errorf("%w: graphs %d, skipped %d", ErrInvalid, p.Graphs, p.Skipped)
	case len(p.Dims) > len(Dimensions):
		return fmt.Errorf("%w: %d dimensions", ErrInvalid, len(p.Dims))
	case len(p.Counts) > len(validCounter):
		return fmt.Errorf("%w: %d counts", ErrInvalid, len(p.Counts))
	}
	if p.Dims == nil {
		p.Dims = map[Dimension]*Dim{}
	}
	if p.Counts == nil {
		p.Counts = map[string]*Count{}
	}
	for d, x := range p.Dims {
		if !validDim[d] {
			return fmt.Errorf("%w: unknown dimension %q", ErrInvalid, trunc(string(d)))
		}
		if x == nil {
			return fmt.Errorf("%w: dimension %s is null", ErrInvalid, d)
		}
		if err := validMode(x.Mode); err != nil {
			return fmt.Errorf("dimension %s: %w", d, err)
		}
		switch {
		case x.Graphs < 0 || x.Graphs > p.Graphs:
			return fmt.Errorf("%w: dimension %s: graphs %d outside 0..%d", ErrInvalid, d, x.Graphs, p.Graphs)
		case x.Overflow < 0 || x.AliasOverflow < 0 || x.Overflow > maxCountValue || x.AliasOverflow > maxCountValue:
			return fmt.Errorf("%w: dimension %s: negative or huge overflow", ErrInvalid, d)
		case len(x.Values) > MaxValuesHard || len(x.Aliases) > MaxValuesHard:
			return fmt.Errorf("%w: dimension %s: more than %d values", ErrInvalid, d, MaxValuesHard)
		}
		if x.Values == nil {
			x.Values = map[string]*Value{}
		}
		for v, val := range x.Values {
			if val == nil {
				return fmt.Errorf("%w: dimension %s: value %q is null", ErrInvalid, d, trunc(v))
			}
			if err := checkValue(FileValue{v, val.Graphs}, x.Graphs); err != nil {
				return fmt.Errorf("%w: dimension %s: %v", ErrInvalid, d, err)
			}
			// First matters for a value seen once: which graph it makes a
			// singleton. Other values may have forgotten it (import).
			if (val.Graphs == 1 && val.First == 0) || val.First < 0 || val.First > p.Graphs {
				return fmt.Errorf("%w: dimension %s: value %q: first graph %d of %d", ErrInvalid, d, trunc(v), val.First, p.Graphs)
			}
		}
		for v, n := range x.Aliases {
			if err := checkValue(FileValue{v, n}, x.Graphs); err != nil {
				return fmt.Errorf("%w: dimension %s: alias: %v", ErrInvalid, d, err)
			}
		}
		// The index is built here, once, so that Check on a loaded
		// profile only reads it and may be shared between goroutines.
		x.single = nil
		x.index()
	}
	for name, c := range p.Counts {
		if !validCounter[name] {
			return fmt.Errorf("%w: unknown count %q", ErrInvalid, trunc(name))
		}
		if c == nil {
			return fmt.Errorf("%w: count %q is null", ErrInvalid, name)
		}
		if err := validMode(c.Mode); err != nil {
			return fmt.Errorf("count %s: %w", name, err)
		}
		if c.Max < 0 || c.Max > maxCountValue || c.Graphs < 0 || c.Graphs > p.Graphs {
			return fmt.Errorf("%w: count %q: max %d over %d graphs (profile: %d)", ErrInvalid, name, c.Max, c.Graphs, p.Graphs)
		}
	}
	return nil
}

func validMode(m Mode) error {
	switch m {
	case "", ModeAuto, ModeArmed, ModeOff:
		return nil
	}
	return fmt.Errorf("%w: mode %q, want %s, %s or %s", ErrInvalid, trunc(string(m)), ModeAuto, ModeArmed, ModeOff)
}

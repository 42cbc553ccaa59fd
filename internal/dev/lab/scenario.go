package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Labels of steps, invocations and graphs.
const (
	LabelBenign = "benign"
	LabelAttack = "attack"
)

// Fixed addresses of the lab hosts. 10.62.0.0/16 belongs to the local
// stack's function namespaces; the lab uses /24s outside of it.
const (
	AttackerIP     = "10.66.0.2"
	AttackerHostIP = "10.66.0.1"
	SupplierIP     = "10.65.0.2"
	SupplierHostIP = "10.65.0.1"
	// ShellPort is the attacker's TCP listener (the reverse shell's peer).
	ShellPort = 4444
)

// Limits on what a scenario may ask for, so that a typo (repeat: 1000000)
// fails at load time instead of hammering the stack for hours.
const (
	maxRepeat      = 10000
	maxConcurrency = 64
	maxMixBenign   = 100
	maxTextLen     = 1 << 20
	maxFileSize    = 4 << 20
)

// Duration is a time.Duration written as "500ms", "2s" in YAML.
type Duration time.Duration

// UnmarshalYAML accepts a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration must be a string like \"500ms\"", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: bad duration %q (want e.g. \"500ms\", \"2s\")", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// Body is a request body: a YAML mapping or list (sent as JSON) or a
// string (sent as it is). Templates ({{attacker}}, …) are expanded in it.
type Body struct {
	Raw  string // the body before template expansion
	JSON bool   // written as a mapping/list: Content-Type application/json
	Set  bool
}

// UnmarshalYAML keeps strings as they are and turns anything else into JSON.
func (b *Body) UnmarshalYAML(n *yaml.Node) error {
	b.Set = true
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		// A string that looks like JSON is sent as JSON: it lets templates
		// stand where numbers go ("price": {{rand:5-500}}).
		b.Raw = n.Value
		t := strings.TrimSpace(n.Value)
		b.JSON = strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return fmt.Errorf("line %d: body: %w", n.Line, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "&" and "<" readable in logs
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("line %d: body cannot be written as JSON: %w", n.Line, err)
	}
	b.Raw, b.JSON = strings.TrimSuffix(buf.String(), "\n"), true
	return nil
}

// HostFile is one file a lab host serves: inline Content or a File path
// relative to the scenario file.
type HostFile struct {
	Content *string `yaml:"content"`
	File    string  `yaml:"file"`
	// ContentType defaults from the extension.
	ContentType string `yaml:"content_type"`
}

// Step is one line of a scenario: invoke Function Repeat times.
type Step struct {
	Name     string   `yaml:"name"`
	Function string   `yaml:"function"`
	Method   string   `yaml:"method"`
	Path     string   `yaml:"path"` // appended to /function/<name>, e.g. "/products?id=3"
	Body     Body     `yaml:"body"`
	Repeat   int      `yaml:"repeat"`
	Delay    Duration `yaml:"delay"`
	// Wait pauses after the step's last call returned (e.g. to let a
	// payload left running act before the next step or the recycle).
	Wait        Duration `yaml:"wait"`
	Label       string   `yaml:"label"`
	Concurrency int      `yaml:"concurrency"`
	// Cold scales the function to zero and back to one (through the
	// gateway's scale API) before the step, so its first invocation is a
	// cold start in a fresh container.
	Cold bool `yaml:"cold"`
	// Taints marks the container as compromised from this step on: every
	// later graph of it (invocation or background) is labelled attack until
	// it is recycled. For payloads that persist (attack 2's planted rules).
	Taints bool `yaml:"taints"`
	// MixBenign adds N benign invocations from the benign pool per repeat,
	// in random (seeded) order around the step's own invocations.
	MixBenign int `yaml:"mix_benign"`

	line int
}

// Scenario is one scenario file.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Label is the default label of steps that do not say.
	Label string `yaml:"label"`
	// Stack is an extra stack file to deploy (relative to this file).
	Stack string `yaml:"stack"`
	// BenignPool is the scenario file whose benign steps mix_benign draws
	// from; default benign.yaml next to this file.
	BenignPool    string              `yaml:"benign_pool"`
	AttackerFiles map[string]HostFile `yaml:"attacker_files"`
	SupplierFiles map[string]HostFile `yaml:"supplier_files"`
	// Recycle lists functions to recycle at the end of every round; the
	// functions of attack steps are always recycled.
	Recycle []string `yaml:"recycle"`
	Steps   []Step   `yaml:"steps"`

	// Path is the file it was read from (absolute).
	Path string `yaml:"-"`
	// Attacker and Supplier are the resolved file contents (template
	// expanded), keyed by URL path ("/p.sh").
	Attacker map[string]ServedFile `yaml:"-"`
	Supplier map[string]ServedFile `yaml:"-"`
}

// ServedFile is a resolved lab-host file.
type ServedFile struct {
	Content     []byte
	ContentType string
}

// ScenarioError names the file and the field that is wrong.
type ScenarioError struct {
	File  string
	Field string // e.g. "steps[2].label"; empty for syntax errors
	Msg   string
}

func (e *ScenarioError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	methodRE   = regexp.MustCompile(`^[A-Z]{3,7}$`)
	templateRE = regexp.MustCompile(`\{\{\s*([a-z_]+)(?::([^{}]*))?\s*\}\}`)
)

// LoadScenario reads and validates one scenario file. Unknown fields,
// missing required fields, bad labels and unknown templates are errors that
// name the file and the field.
func LoadScenario(path string) (*Scenario, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return ParseScenario(abs, data)
}

// ParseScenario decodes data (the contents of file) strictly and validates
// it. Relative paths inside are resolved against file's directory.
func ParseScenario(file string, data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, errEOF()) {
			return nil, &ScenarioError{File: file, Msg: "empty file"}
		}
		return nil, &ScenarioError{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return nil, &ScenarioError{File: file, Msg: "more than one YAML document"}
	}
	// Step line numbers for messages.
	var root yaml.Node
	if yaml.Unmarshal(data, &root) == nil {
		markStepLines(&root, s.Steps)
	}
	s.Path = file
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func errEOF() error {
	var v any
	return yaml.NewDecoder(strings.NewReader("")).Decode(&v)
}

func markStepLines(root *yaml.Node, steps []Step) {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "steps" && m.Content[i+1].Kind == yaml.SequenceNode {
			for j, n := range m.Content[i+1].Content {
				if j < len(steps) {
					steps[j].line = n.Line
				}
			}
		}
	}
}

func (s *Scenario) errf(field, format string, a ...any) error {
	return &ScenarioError{File: s.Path, Field: field, Msg: fmt.Sprintf(format, a...)}
}

func (s *Scenario) validate() error {
	if s.Name == "" {
		return s.errf("name", "required")
	}
	if !nameRE.MatchString(s.Name) {
		return s.errf("name", "%q: use lower-case letters, digits and '-'", s.Name)
	}
	switch s.Label {
	case "":
		s.Label = LabelBenign
	case LabelBenign, LabelAttack:
	default:
		return s.errf("label", "%q: want %q or %q", s.Label, LabelBenign, LabelAttack)
	}
	dir := filepath.Dir(s.Path)
	if s.Stack != "" {
		s.Stack = resolve(dir, s.Stack)
		if _, err := os.Stat(s.Stack); err != nil {
			return s.errf("stack", "%v", err)
		}
	}
	if s.BenignPool != "" {
		s.BenignPool = resolve(dir, s.BenignPool)
		if _, err := os.Stat(s.BenignPool); err != nil {
			return s.errf("benign_pool", "%v", err)
		}
	}
	var err error
	if s.Attacker, err = s.resolveFiles("attacker_files", s.AttackerFiles); err != nil {
		return err
	}
	if s.Supplier, err = s.resolveFiles("supplier_files", s.SupplierFiles); err != nil {
		return err
	}
	for i, f := range s.Recycle {
		if !nameRE.MatchString(f) {
			return s.errf(fmt.Sprintf("recycle[%d]", i), "%q is not a function name", f)
		}
	}
	if len(s.Steps) == 0 {
		return s.errf("steps", "at least one step is required")
	}
	for i := range s.Steps {
		if err := s.validateStep(i); err != nil {
			return err
		}
	}
	return nil
}

func (s *Scenario) validateStep(i int) error {
	st := &s.Steps[i]
	field := func(f string) string {
		if st.line > 0 {
			return fmt.Sprintf("steps[%d] (line %d).%s", i, st.line, f)
		}
		return fmt.Sprintf("steps[%d].%s", i, f)
	}
	if st.Function == "" {
		return s.errf(field("function"), "required")
	}
	if !nameRE.MatchString(st.Function) {
		return s.errf(field("function"), "%q is not a function name", st.Function)
	}
	if st.Name == "" {
		st.Name = fmt.Sprintf("%d-%s", i, st.Function)
	}
	if st.Method == "" {
		st.Method = "POST"
		if !st.Body.Set {
			st.Method = "GET"
		}
	}
	st.Method = strings.ToUpper(st.Method)
	if !methodRE.MatchString(st.Method) {
		return s.errf(field("method"), "%q is not an HTTP method", st.Method)
	}
	if st.Path != "" && !strings.HasPrefix(st.Path, "/") && !strings.HasPrefix(st.Path, "?") {
		return s.errf(field("path"), "%q must start with / or ?", st.Path)
	}
	switch st.Label {
	case "":
		st.Label = s.Label
	case LabelBenign, LabelAttack:
	default:
		return s.errf(field("label"), "%q: want %q or %q", st.Label, LabelBenign, LabelAttack)
	}
	if st.Repeat == 0 {
		st.Repeat = 1
	}
	if st.Repeat < 0 || st.Repeat > maxRepeat {
		return s.errf(field("repeat"), "%d: want 1..%d", st.Repeat, maxRepeat)
	}
	if st.Concurrency == 0 {
		st.Concurrency = 1
	}
	if st.Concurrency < 0 || st.Concurrency > maxConcurrency {
		return s.errf(field("concurrency"), "%d: want 1..%d", st.Concurrency, maxConcurrency)
	}
	if st.MixBenign < 0 || st.MixBenign > maxMixBenign {
		return s.errf(field("mix_benign"), "%d: want 0..%d", st.MixBenign, maxMixBenign)
	}
	if st.Taints && st.Label != LabelAttack {
		return s.errf(field("taints"), "only an attack step can taint its container")
	}
	// Expand once with fixed values: unknown templates fail here.
	if _, err := Expand(st.Body.Raw, TemplateVars{}, rand.New(rand.NewPCG(1, 2)), 0); err != nil {
		return s.errf(field("body"), "%v", err)
	}
	if _, err := Expand(st.Path, TemplateVars{}, rand.New(rand.NewPCG(1, 2)), 0); err != nil {
		return s.errf(field("path"), "%v", err)
	}
	return nil
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

func (s *Scenario) resolveFiles(field string, files map[string]HostFile) (map[string]ServedFile, error) {
	out := map[string]ServedFile{}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := files[k]
		fld := field + "." + k
		urlPath := "/" + strings.TrimPrefix(k, "/")
		if strings.Contains(urlPath, "..") || strings.ContainsAny(urlPath, " ?#") {
			return nil, s.errf(fld, "bad path %q", k)
		}
		var content []byte
		switch {
		case f.Content != nil && f.File != "":
			return nil, s.errf(fld, "give content or file, not both")
		case f.Content != nil:
			content = []byte(*f.Content)
		case f.File != "":
			p := resolve(filepath.Dir(s.Path), f.File)
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, s.errf(fld+".file", "%v", err)
			}
			content = b
		default:
			return nil, s.errf(fld, "give content or file")
		}
		if len(content) > maxFileSize {
			return nil, s.errf(fld, "%d bytes, limit %d", len(content), maxFileSize)
		}
		// Only the address templates make sense in served files.
		if _, err := Expand(string(content), TemplateVars{}, nil, 0); err != nil {
			return nil, s.errf(fld, "%v", err)
		}
		ct := f.ContentType
		if ct == "" {
			ct = contentTypeFor(urlPath)
		}
		out[urlPath] = ServedFile{Content: content, ContentType: ct}
	}
	return out, nil
}

func contentTypeFor(p string) string {
	switch filepath.Ext(p) {
	case ".js":
		return "application/javascript"
	case ".json":
		return "application/json"
	case ".sh", ".txt", ".csv":
		return "text/plain"
	default:
		return "application/octet-stream"
	}
}

// TemplateVars are the values of the address templates.
type TemplateVars struct {
	Attacker string // host[:port] of the attacker's HTTP server
	Supplier string
}

// DefaultVars are the lab hosts' addresses.
func DefaultVars() TemplateVars { return TemplateVars{Attacker: AttackerIP, Supplier: SupplierIP} }

// Expand substitutes the templates in s:
//
//	{{attacker}}       the attacker host's address (10.66.0.2)
//	{{supplier}}       the benign supplier's address (10.65.0.2)
//	{{i}}              the repetition index (0-based)
//	{{rand}}           a random integer 0..999999 (seeded)
//	{{rand:A-B}}       a random integer in [A,B]
//	{{text:N}}         N random lower-case letters (for input sizes)
//	{{choose:a|b|c}}   one of the alternatives
//
// With r == nil only {{attacker}} and {{supplier}} are allowed (served
// files). Unknown templates are errors.
//
// Templates nest: {{text:{{rand:10-2000}}}} expands the inner one first.
func Expand(s string, v TemplateVars, r *rand.Rand, i int) (string, error) {
	for pass := 0; pass < 4; pass++ {
		out, err := expandPass(s, v, r, i)
		if err != nil {
			return "", err
		}
		if out == s || !templateRE.MatchString(out) {
			return out, nil
		}
		s = out
	}
	return "", errors.New("templates nested too deeply")
}

func expandPass(s string, v TemplateVars, r *rand.Rand, i int) (string, error) {
	var firstErr error
	out := templateRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := templateRE.FindStringSubmatch(m)
		name, arg := sub[1], strings.TrimSpace(sub[2])
		val, err := expandOne(name, arg, v, r, i)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("template %s: %w", m, err)
		}
		return val
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

func expandOne(name, arg string, v TemplateVars, r *rand.Rand, i int) (string, error) {
	switch name {
	case "attacker", "supplier":
		if arg != "" {
			return "", errors.New("takes no argument")
		}
		if name == "attacker" {
			return v.Attacker, nil
		}
		return v.Supplier, nil
	}
	if r == nil {
		return "", fmt.Errorf("only {{attacker}} and {{supplier}} are allowed here")
	}
	switch name {
	case "i":
		return strconv.Itoa(i), nil
	case "rand":
		if arg == "" {
			return strconv.Itoa(r.IntN(1000000)), nil
		}
		lo, hi, ok := strings.Cut(arg, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil || b < a {
			return "", errors.New("want rand:A-B with A <= B")
		}
		return strconv.Itoa(a + r.IntN(b-a+1)), nil
	case "text":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n > maxTextLen {
			return "", fmt.Errorf("want text:N with 0 <= N <= %d", maxTextLen)
		}
		b := make([]byte, n)
		for k := range b {
			b[k] = byte('a' + r.IntN(26))
		}
		return string(b), nil
	case "choose":
		alts := strings.Split(arg, "|")
		if arg == "" || len(alts) == 0 {
			return "", errors.New("want choose:a|b|…")
		}
		return alts[r.IntN(len(alts))], nil
	}
	return "", errors.New("unknown template (known: attacker, supplier, i, rand, text:N, choose:a|b)")
}

// LoadScenarios loads every file; errors of all files are joined.
func LoadScenarios(paths []string) ([]*Scenario, error) {
	var out []*Scenario
	var errs []error
	names := map[string]string{}
	for _, p := range paths {
		s, err := LoadScenario(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := names[s.Name]; dup {
			errs = append(errs, &ScenarioError{File: s.Path, Field: "name", Msg: fmt.Sprintf("%q is also the name of %s", s.Name, prev)})
			continue
		}
		names[s.Name] = s.Path
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// PoolPath is the benign pool file of s.
func (s *Scenario) PoolPath() string {
	if s.BenignPool != "" {
		return s.BenignPool
	}
	return filepath.Join(filepath.Dir(s.Path), "benign.yaml")
}

// AttackedFunctions are the functions of s's attack steps.
func (s *Scenario) AttackedFunctions() []string {
	set := map[string]bool{}
	for _, st := range s.Steps {
		if st.Label == LabelAttack {
			set[st.Function] = true
		}
	}
	for _, f := range s.Recycle {
		set[f] = true
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

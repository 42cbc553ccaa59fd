package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/faasmon/faasmon/pkg/verdict"
)

// This file turns an alert into one event of Falco's JSON output, so that
// an existing Falco + Falcosidekick setup takes faasmon's alerts as it
// takes Falco's own: Falcosidekick forwards them to its outputs, and
// Falcosidekick-UI stores and shows them.
//
// What those programs require (read in their sources, falcosidekick
// 8807ab7b types.FalcoPayload.Check and handlers.go, falcosidekick-ui
// 2b949bb1 internal/models Event's validate tags):
//   - Falcosidekick: priority one of Falco's, rule non-empty, time set,
//     output_fields non-empty; k8s.ns.name and k8s.pod.name a string or
//     null (it type-asserts them). When the whole event is over 4096 bytes
//     it cuts every string field over 512 bytes to 507 + "[...]".
//   - Falcosidekick-UI rejects the event (HTTP 500, never stored) unless
//     output is non-empty ASCII, rule and priority non-empty printable
//     ASCII, source and hostname printable ASCII, time set. It does not
//     look inside output_fields or tags.
// So output, rule, priority, source and hostname are printable ASCII here,
// every string is bounded, and the event stays under 4096 bytes; the long
// evidence (the whole chain, the DOT subgraph) stays in the NATS alert.

// FalcoPayload is one event in Falco's JSON output format (json_output:
// true, json_include_output_property: true, json_include_tags_property:
// true), which Falcosidekick accepts at its root path and forwards to its
// outputs. Field names and types follow Falco's documented output and
// Falcosidekick's types.FalcoPayload.
type FalcoPayload struct {
	// Time is RFC 3339 in UTC with nanoseconds, as Falco writes it
	// ("2019-05-17T15:31:56.746609046Z").
	Time         string         `json:"time"`
	Rule         string         `json:"rule"`
	Priority     string         `json:"priority"`
	Output       string         `json:"output"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Hostname     string         `json:"hostname"`
	OutputFields map[string]any `json:"output_fields"`
}

// FalcoPriorities are Falco's priorities, most severe first.
var FalcoPriorities = []string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

// FalcoTags are the tags of every faasmon event; falcoTags adds the part
// that decided and the MITRE ATT&CK tactic and technique of its findings.
var FalcoTags = []string{"faasmon", "openfaas", "container", "provenance"}

// Bounds of a Falco event, below Falcosidekick's cut (events over 4096
// bytes lose the tail of every string field over 512 bytes).
const (
	MaxFalcoEvent  = 4000 // bytes of the whole JSON event
	MaxFalcoOutput = 480  // bytes of output
	maxFalcoRule   = 120  // bytes of rule
	maxFalcoField  = 256  // bytes of one string in output_fields, at first
)

const (
	falcoTimeLayout   = "2006-01-02T15:04:05.000000000Z07:00"
	falcoOutputLayout = "15:04:05.000000000"
	// falcoSource is Falco's source of syscall events: faasmon's evidence
	// is syscalls (strace) joined with packets.
	falcoSource = "syscall"
)

// partInfo is how one detector part shows in Falco's vocabulary.
type partInfo struct {
	rule string // Falco rule name (a finding's Rule is appended)
	what string // the part in words, for output
	tag  string // the part's own tag
	// tactics and technique are the part's MITRE ATT&CK tags when its
	// findings name none.
	tactics   []string
	technique string
	// priority is the Falco priority of the part's findings that carry no
	// severity; "" leaves it to alert_priority.
	priority string
	rank     int // which part decides between equally severe findings
}

// parts maps verdict.Part* to Falco. Why these ATT&CK tags:
//   - invariant and profile findings carry their own technique and tactic
//     (the invariant knows it read a credential store: T1003.008).
//   - egress: a connection from a function to an external endpoint it never
//     reached in benign runs is the network side of an intrusion, either
//     its command-and-control channel (reverse shell, payload download:
//     T1071 Application Layer Protocol, tactic command_and_control) or data
//     leaving over that channel (tactic exfiltration). The endpoint alone
//     does not tell which, so both tactics are tagged, with T1071 because
//     the channel is what was seen (T1041, exfiltration over C2, would
//     claim the data moved, which the part does not know).
//   - supervised (GNN) and one-class: a learnt score over the whole graph
//     names no technique; tagging one would be a guess.
//   - blind-spot: the detector could not see part of a container; it is a
//     defence-evasion concern (tactic defense_evasion) without a known
//     technique, and Warning unless its finding says otherwise.
var parts = map[string]partInfo{
	verdict.PartInvariant:  {rule: "faasmon runtime invariant", what: "Runtime invariant broken", tag: "invariant", rank: 0},
	verdict.PartProfile:    {rule: "faasmon profile deviation", what: "Deviation from the function's behaviour profile", tag: "profile", rank: 1},
	verdict.PartEgress:     {rule: "faasmon new egress endpoint", what: "Connection to an external endpoint new to the function", tag: "egress", tactics: []string{"command_and_control", "exfiltration"}, technique: "T1071", rank: 2},
	verdict.PartSupervised: {rule: "faasmon GNN intrusion", what: "Provenance graph classified as intrusion by the GNN", tag: "gnn", rank: 3},
	verdict.PartOneClass:   {rule: "faasmon behaviour anomaly", what: "Provenance graph far from the function's normal behaviour", tag: "one_class", rank: 4},
	verdict.PartBlindSpot:  {rule: "faasmon blind spot", what: "Detector blind spot in the container", tag: "blind_spot", tactics: []string{"defense_evasion"}, priority: "Warning", rank: 5},
}

// severityPriority maps verdict.Finding.Severity to Falco's priority:
//
//	Finding.Severity  Falco priority
//	critical          Critical
//	warning           Warning
//	notice            Notice
//	(Falco's own names, any case, map to themselves; "info" to Informational)
//	empty or unknown  the part's default: Warning for blind-spot, else
//	                  alert_priority (Critical unless set)
//
// An alert without findings (today's GNN and egress verdicts) has
// alert_priority. With several findings the most severe decides.
func severityPriority(sev string) (string, bool) {
	s := strings.ToLower(strings.TrimSpace(sev))
	if s == "info" {
		return "Informational", true
	}
	for _, p := range FalcoPriorities {
		if strings.ToLower(p) == s {
			return p, true
		}
	}
	return "", false
}

// findingPriority is the Falco priority a finding asks for, if any.
func findingPriority(f verdict.Finding) (string, bool) {
	if p, ok := severityPriority(f.Severity); ok {
		return p, true
	}
	if p := parts[f.Part].priority; p != "" {
		return p, true
	}
	return "", false
}

func priorityRank(p string) int {
	if i := slices.Index(FalcoPriorities, p); i >= 0 {
		return i
	}
	return len(FalcoPriorities)
}

// decisive returns the index of the finding that names the alert: the most
// severe, then the part first in parts' rank (invariants before learnt
// scores: they say what happened), then the first given. -1 without
// findings.
func decisive(fs []verdict.Finding) int {
	best := -1
	var bestPrio, bestRank int
	for i, f := range fs {
		p, ok := findingPriority(f)
		pr := priorityRank(p)
		if !ok {
			pr = priorityRank(DefaultPriority)
		}
		info, known := parts[f.Part]
		rank := info.rank
		if !known {
			rank = len(parts)
		}
		if best < 0 || pr < bestPrio || (pr == bestPrio && rank < bestRank) {
			best, bestPrio, bestRank = i, pr, rank
		}
	}
	return best
}

// alertPriority is the priority of an alert with these findings, and
// whether a finding set it (otherwise alert_priority applies).
func alertPriority(fs []verdict.Finding) (string, bool) {
	best, found := "", false
	for _, f := range fs {
		if p, ok := findingPriority(f); ok && (!found || priorityRank(p) < priorityRank(best)) {
			best, found = p, true
		}
	}
	return best, found
}

// alertRule is the Falco rule name of an alert: the deciding finding's part
// and rule, or DefaultRule without findings (today's verdicts).
func alertRule(fs []verdict.Finding) string {
	i := decisive(fs)
	if i < 0 {
		return DefaultRule
	}
	f := fs[i]
	info, ok := parts[f.Part]
	rule := info.rule
	if !ok {
		rule = "faasmon " + printable(f.Part)
	}
	if r := strings.TrimSpace(f.Rule); r != "" {
		rule += ": " + printable(r)
	}
	return clipASCII(rule, maxFalcoRule)
}

var (
	techniqueRE = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
	tacticRE    = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
)

// tacticTag is a tactic as Falco's rules tag it: "mitre_" and the tactic in
// lower case with underscores ("Credential Access" → mitre_credential_access).
// Anything else is dropped: findings are input.
func tacticTag(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	t = strings.TrimPrefix(t, "mitre_")
	t = strings.NewReplacer(" ", "_", "-", "_").Replace(t)
	if !tacticRE.MatchString(t) || len(t) > 40 {
		return ""
	}
	return "mitre_" + t
}

// techniqueTag is an ATT&CK technique id ("T1003.008") or "".
func techniqueTag(t string) string {
	t = strings.ToUpper(strings.TrimSpace(t))
	if !techniqueRE.MatchString(t) {
		return ""
	}
	return t
}

// falcoTags are FalcoTags, the tag of each part that raised the verdict,
// and the MITRE tactic and technique of each finding (the part's own when
// the finding names none), sorted as Falcosidekick sorts them. Without
// findings the verdict's Source stands for the part.
func falcoTags(fs []verdict.Finding, source string) []string {
	set := map[string]bool{}
	for _, t := range FalcoTags {
		set[t] = true
	}
	add := func(part, tactic, technique string) {
		info, ok := parts[part]
		if !ok {
			return
		}
		set[info.tag] = true
		if part == verdict.PartEgress {
			set["network"] = true
		}
		tactics := []string{tactic}
		if tactic == "" && technique == "" {
			tactics, technique = info.tactics, info.technique
		}
		for _, t := range tactics {
			if tag := tacticTag(t); tag != "" {
				set[tag] = true
			}
		}
		if tag := techniqueTag(technique); tag != "" {
			set[tag] = true
		}
	}
	for _, f := range fs {
		add(f.Part, f.Tactic, f.Technique)
	}
	if len(fs) == 0 {
		add(source, "", "")
	}
	tags := make([]string, 0, len(set))
	for t := range set {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return tags
}

// printable makes s printable ASCII, what Falcosidekick-UI accepts in rule,
// priority, source and hostname (and, with controls, in output): the
// chain's arrow becomes "->", the ellipsis "...", "×" "x", tabs and line
// breaks a space, any other character a \uXXXX escape (so that a file
// name with look-alike letters stays visible as such), and bytes that are
// not UTF-8 "?".
func printable(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r == '→':
			b.WriteString("->")
		case r == '…':
			b.WriteString("...")
		case r == '×':
			b.WriteString("x")
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteByte('?')
		case r <= 0xffff:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			fmt.Fprintf(&b, "\\U%08x", r)
		}
	}
	return b.String()
}

// clipASCII cuts an ASCII string to at most n bytes, ending in "..." when
// cut.
func clipASCII(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 3 {
		return s[:n]
	}
	return s[:n-3] + "..."
}

// clipBytes cuts s to at most n bytes on a rune boundary, ending in "..."
// when cut: output_fields may hold Unicode, but Falcosidekick counts bytes.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 3 {
		n = 3
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// shortContainerID is Falco's container.id: the first 12 characters of the
// runtime's id (Falco's container.full_id is the whole one).
func shortContainerID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// imageFields splits an image reference as Falco's container.image.*
// fields do: "ghcr.io/x/resize@sha256:ab" → repository ghcr.io/x/resize,
// digest sha256:ab; "ghcr.io/x/resize:1.2" → repository ghcr.io/x/resize;
// a bare digest has no repository. The local stack's "local:resize@build"
// keeps "local:resize" (a tag is cut only after the last "/").
func imageFields(image string) (ref, repo, digest string) {
	repo, digest, _ = strings.Cut(image, "@")
	if strings.HasPrefix(repo, "sha256:") {
		return "", "", repo
	}
	if i := strings.LastIndex(repo, ":"); strings.Contains(repo, "/") && i > strings.LastIndex(repo, "/") {
		return repo, repo[:i], digest
	}
	return repo, repo, digest
}

// resolveHostname is the event's hostname: alert_hostname (given), else
// the verdict's node, else this machine's name, so that Falcosidekick
// never labels faasmon's events hostname="unknown".
func resolveHostname(given, node string) string {
	for _, h := range []string{given, node} {
		if h = strings.TrimSpace(h); h != "" {
			return clipASCII(printable(h), 253)
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return clipASCII(printable(h), 253)
	}
	return "faasmon"
}

// Falco converts an alert to Falco's JSON output format. output_fields has
// Falco's own field names where Falco has the field (missing values are
// null, as Falco writes them) and faasmon.* names for the rest. hostname is
// alert_hostname; empty: the alert's node, else os.Hostname().
//
// Fields that stay null, and why: container.image.* when the verdict does
// not include its graph (the image is the graph's) or the tracer did not
// know it, user.uid
// and user.name (the provenance graph records no credentials), proc.pid
// and proc.ppid when the graph is not included, container.* outside a
// container (the local stack runs functions as processes; container.id is
// then the provider's instance id).
func Falco(a Alert, hostname string) FalcoPayload {
	hostname = resolveHostname(hostname, a.Node)
	t := a.Time.UTC()
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	num := func(n int) any {
		if n <= 0 {
			return nil
		}
		return n
	}
	var procName, procCmdline, procExe, procPID, pname, pcmdline, ppid any
	if a.Process != nil {
		procName, procCmdline, procExe, procPID = str(a.Process.Name), str(a.Process.Cmdline), str(a.Process.Exe), num(a.Process.PID)
	}
	if n := len(a.ProcessChain); n >= 2 {
		p := a.ProcessChain[n-2]
		pname, pcmdline, ppid = str(p.Name), str(p.Cmdline), num(p.PID)
	}
	var action any
	if a.Action != nil {
		action = a.Action.Kind + " " + a.Action.Status
	}
	imageRef, imageRepo, imageDigest := imageFields(a.Image)
	var container, containerName any
	if a.Container != "" {
		container = shortContainerID(a.Container)
		// OpenFaaS names a function's container after the function
		// (faas-netes and faasd alike).
		containerName = a.Function
	}
	var finding, findingPart, findingRule, technique any
	if i := decisive(a.Findings); i >= 0 {
		f := a.Findings[i]
		finding, findingPart, findingRule, technique = str(f.Text), str(f.Part), str(f.Rule), str(techniqueTag(f.Technique))
	}
	var endpoints any
	if len(a.NovelEndpoints) > 0 {
		endpoints = strings.Join(a.NovelEndpoints, ",")
	}
	fields := map[string]any{
		"evt.time":                   t.UnixNano(),
		"evt.type":                   str(a.EvtType),
		"evt.hostname":               hostname,
		"k8s.ns.name":                str(a.Namespace),
		"k8s.pod.name":               str(a.Pod),
		"container.id":               container,
		"container.full_id":          str(a.Container),
		"container.name":             containerName,
		"container.image":            str(imageRef),
		"container.image.repository": str(imageRepo),
		"container.image.digest":     str(imageDigest),
		"proc.name":                  procName,
		"proc.cmdline":               procCmdline,
		"proc.pid":                   procPID,
		"proc.exepath":               procExe,
		"proc.pname":                 pname,
		"proc.pcmdline":              pcmdline,
		"proc.ppid":                  ppid,
		"user.uid":                   nil,
		"user.name":                  nil,
		"fd.name":                    str(a.Object),
		"faasmon.function":           a.Function,
		"faasmon.call_id":            str(a.CallID),
		"faasmon.graph_id":           str(a.GraphID),
		"faasmon.score":              a.Score,
		"faasmon.threshold":          a.Threshold,
		"faasmon.model_version":      str(a.ModelVersion),
		"faasmon.chain":              str(printable(a.Chain)),
		"faasmon.source":             str(a.Source),
		"faasmon.finding":            finding,
		"faasmon.finding_part":       findingPart,
		"faasmon.finding_rule":       findingRule,
		"faasmon.findings":           len(a.Findings),
		"faasmon.technique":          technique,
		"faasmon.novel_endpoints":    endpoints,
		"faasmon.alert_id":           a.ID,
		"faasmon.response":           action,
	}
	boundFields(fields, maxFalcoField)
	p := FalcoPayload{
		Time:         t.Format(falcoTimeLayout),
		Rule:         clipASCII(printable(a.Rule), maxFalcoRule),
		Priority:     a.Priority,
		Output:       falcoOutput(a, t.Format(falcoOutputLayout)),
		Source:       falcoSource,
		Tags:         falcoTags(a.Findings, a.Source),
		Hostname:     hostname,
		OutputFields: fields,
	}
	if p.Rule == "" {
		p.Rule = DefaultRule
	}
	if !validPriority(p.Priority) {
		p.Priority = DefaultPriority
	}
	// Keep the event under Falcosidekick's cut: halve the bound of the
	// string fields until it fits (the output is already bounded).
	for n := maxFalcoField / 2; n >= 16; n /= 2 {
		b, err := json.Marshal(p)
		if err != nil || len(b) <= MaxFalcoEvent {
			break
		}
		boundFields(fields, n)
	}
	return p
}

// boundFields clips every string of fields to n bytes.
func boundFields(fields map[string]any, n int) {
	for k, v := range fields {
		if s, ok := v.(string); ok {
			fields[k] = clipBytes(s, n)
		}
	}
}

// falcoOutput is Falco's output line: time, priority, what happened and
// "field=value" pairs, printable ASCII and at most MaxFalcoOutput bytes.
// The chain gets what room is left: the whole of it is in output_fields and
// the NATS alert.
func falcoOutput(a Alert, clock string) string {
	v := func(s string, n int) string {
		if s == "" {
			return "<NA>"
		}
		return clipASCII(printable(s), n)
	}
	var what string
	if i := decisive(a.Findings); i >= 0 {
		f := a.Findings[i]
		w := parts[f.Part].what
		if w == "" {
			w = "faasmon " + f.Part
		}
		if f.Rule != "" {
			w += " " + f.Rule
		}
		if f.Text != "" {
			w += ": " + f.Text
		}
		if n := len(a.Findings) - 1; n > 0 {
			w += fmt.Sprintf(" (+%d more findings)", n)
		}
		what = clipASCII(printable(w), 140)
	} else {
		what = "Intrusion in OpenFaaS function container"
		if info, ok := parts[a.Source]; ok {
			what += " (" + info.tag + ")"
		}
		if len(a.NovelEndpoints) > 0 {
			what += " new endpoints " + clipASCII(printable(strings.Join(a.NovelEndpoints, ",")), 80)
		}
	}
	pid, ppid := "<NA>", "<NA>"
	if a.Process != nil && a.Process.PID > 0 {
		pid = fmt.Sprint(a.Process.PID)
	}
	if n := len(a.ProcessChain); n >= 2 && a.ProcessChain[n-2].PID > 0 {
		ppid = fmt.Sprint(a.ProcessChain[n-2].PID)
	}
	cmd := ""
	if a.Process != nil {
		cmd = a.Process.Cmdline
	}
	out := fmt.Sprintf("%s: %s %s (function=%s k8s.ns.name=%s k8s.pod.name=%s container.id=%s proc.cmdline=%s proc.pid=%s proc.ppid=%s fd.name=%s evt.type=%s score=%.3f",
		clock, a.Priority, what, v(a.Function, 48), v(a.Namespace, 40), v(a.Pod, 48), v(shortContainerID(a.Container), 12),
		v(cmd, 64), pid, ppid, v(a.Object, 64), v(a.EvtType, 16), a.Score)
	if room := MaxFalcoOutput - len(out) - len(" chain=)"); room >= 24 && a.Chain != "" {
		out += " chain=" + clipASCII(printable(a.Chain), room)
	}
	return clipASCII(out+")", MaxFalcoOutput)
}

// FalcosidekickSink POSTs Falco JSON events to Falcosidekick (its listen
// address, e.g. http://falcosidekick.falco:2801/).
type FalcosidekickSink struct {
	URL      string
	Hostname string // "hostname" of the events; empty: the alert's node, else os.Hostname()
	Client   *http.Client
}

func (s *FalcosidekickSink) Name() string { return "falcosidekick" }

func (s *FalcosidekickSink) Send(ctx context.Context, a Alert) error {
	return postJSON(ctx, s.Client, s.URL, nil, Falco(a, s.Hostname))
}

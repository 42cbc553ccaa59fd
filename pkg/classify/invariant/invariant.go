package invariant

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Severities, as verdict.Finding carries them.
const (
	Critical = "critical"
	Warning  = "warning"
	Notice   = "notice"
)

// Rule is one invariant.
type Rule struct {
	// ID names the rule in findings and alerts ("credential-store-read").
	ID string
	// Technique and Tactic are the MITRE ATT&CK technique the rule detects
	// and its tactic, in Falco's tag spelling. A rule that covers several
	// techniques reports the one of each hit (hit.technique).
	Technique, Tactic string
	Severity          string
	// Doc says in one sentence what the rule holds to be true.
	Doc   string
	match func(*view) []hit
}

// hit is one violation: the nodes it is about and what happened in words.
// technique and tactic override the rule's when set; path and label name
// the file it is about, if any (exceptions match them).
type hit struct {
	nodes             []int
	text              string
	technique, tactic string
	path, label       string
}

// maxHitsPerRule bounds the words of one finding: a flood of hits of one
// rule is the same evidence many times.
const maxHitsPerRule = 3

// Check returns one finding per rule that g violates, in Rules order.
func Check(g *provenance.Graph) []verdict.Finding { return CheckWith(g, nil) }

// CheckWith is Check with the user's exceptions (nil: none).
func CheckWith(g *provenance.Graph, x *Exceptions) []verdict.Finding {
	if g == nil {
		return nil
	}
	v := newView(g)
	var out []verdict.Finding
	for _, r := range Rules {
		hits := r.match(v)
		if x != nil {
			hits = slices.DeleteFunc(hits, func(h hit) bool { return x.allows(g.Function, r.ID, h.path, h.label) })
		}
		if len(hits) == 0 {
			continue
		}
		f := verdict.Finding{Part: verdict.PartInvariant, Rule: r.ID, Technique: r.Technique,
			Tactic: r.Tactic, Severity: r.Severity}
		if h := hits[0]; h.technique != "" {
			f.Technique, f.Tactic = h.technique, h.tactic
		}
		var texts []string
		for i, h := range hits {
			for _, n := range h.nodes {
				if !slices.Contains(f.Nodes, n) {
					f.Nodes = append(f.Nodes, n)
				}
			}
			if i < maxHitsPerRule && !slices.Contains(texts, h.text) {
				texts = append(texts, h.text)
			}
		}
		f.Text = fmt.Sprintf("%s: %s", g.Function, strings.Join(texts, "; "))
		if extra := len(hits) - maxHitsPerRule; extra > 0 {
			f.Text += fmt.Sprintf(" (and %d more)", extra)
		}
		out = append(out, f)
	}
	return out
}

// view is a graph with the indexes the rules share.
type view struct {
	g *provenance.Graph
	// in and out list edge indexes per node.
	in, out [][]int
	// acc are every touch of a file (edges and acts), exe the execs among
	// them, and run the execs plus the scripts interpreters ran: most
	// rules read one of them, so they are built once per graph.
	acc, exe, run []access
}

func newView(g *provenance.Graph) *view {
	v := &view{g: g, in: make([][]int, len(g.Nodes)), out: make([][]int, len(g.Nodes))}
	for i, e := range g.Edges {
		if e.Src < 0 || e.Src >= len(g.Nodes) || e.Dst < 0 || e.Dst >= len(g.Nodes) {
			continue // an unvalidated graph: skip what points nowhere
		}
		v.out[e.Src] = append(v.out[e.Src], i)
		v.in[e.Dst] = append(v.in[e.Dst], i)
	}
	v.acc = v.accesses()
	for _, a := range v.acc {
		if a.how == "exec" {
			v.exe = append(v.exe, a)
		}
	}
	v.run = append(append([]access(nil), v.exe...), v.scripts()...)
	return v
}

func (v *view) node(i int) *provenance.Node {
	if i < 0 || i >= len(v.g.Nodes) {
		return &provenance.Node{}
	}
	return &v.g.Nodes[i]
}

// proc names a process node for people: its command line, bounded.
func (v *view) proc(i int) string {
	n := v.node(i)
	s := n.Label
	if s == "" {
		s = path.Base(n.Exe)
	}
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// filePath is a file node's path as seen, or its label.
func filePath(n *provenance.Node) string {
	if n.Path != "" {
		return strings.TrimSuffix(n.Path, " (deleted)")
	}
	return n.Label
}

// access is one touch of a file: by which process, how, and whether the
// kernel refused it.
type access struct {
	proc   int
	file   int // file node, -1 for an act without one
	path   string
	how    string // "read", "write", "exec", "unlink", "rename", "chmod", "link", "truncate", "open"
	errno  string
	act    *provenance.Act
	target string // for rename: the new name
}

// accesses lists every touch of a file in the graph: edges and acts.
func (v *view) accesses() []access {
	var out []access
	g := v.g
	for _, e := range g.Edges {
		if e.Src < 0 || e.Src >= len(g.Nodes) || e.Dst < 0 || e.Dst >= len(g.Nodes) {
			continue
		}
		src, dst := &g.Nodes[e.Src], &g.Nodes[e.Dst]
		switch e.Kind {
		case provenance.EdgeOpen:
			if dst.Kind == provenance.NodeFile {
				how := "open"
				if dst.Written {
					how = "write"
				}
				out = append(out, access{proc: e.Src, file: e.Dst, path: filePath(dst), how: how})
			}
		case provenance.EdgeRead:
			if src.Kind == provenance.NodeFile {
				out = append(out, access{proc: e.Dst, file: e.Src, path: filePath(src), how: "read"})
			}
		case provenance.EdgeWrite:
			if dst.Kind == provenance.NodeFile {
				out = append(out, access{proc: e.Src, file: e.Dst, path: filePath(dst), how: "write"})
			}
		case provenance.EdgeExecve:
			out = append(out, access{proc: e.Dst, file: e.Src, path: filePath(src), how: "exec"})
		case provenance.EdgeUnlink:
			out = append(out, access{proc: e.Src, file: e.Dst, path: filePath(dst), how: "unlink"})
		case provenance.EdgeChmod:
			out = append(out, access{proc: e.Src, file: e.Dst, path: filePath(dst), how: "chmod"})
		case provenance.EdgeRename:
			// A rename's edge goes old → new; the process is not on it.
			out = append(out, access{proc: -1, file: e.Src, path: filePath(src), how: "rename", target: filePath(dst)},
				access{proc: -1, file: e.Dst, path: filePath(dst), how: "write"})
		}
	}
	for i := range g.Acts {
		a := &g.Acts[i]
		if a.Path == "" && a.Path2 == "" {
			continue
		}
		how, p := actHow(a), a.Path
		if how == "link" {
			// A link changes its new name (Path2); its target is not
			// touched (ln -sf /dev/null ~/.bash_history changes the
			// history, not /dev/null).
			if a.Path2 == "" {
				continue
			}
			p = a.Path2
		}
		out = append(out, access{proc: a.Proc, file: -1, path: p, how: how, errno: a.Errno, act: a})
	}
	return out
}

// actHow says what an act did, or tried, to its path.
func actHow(a *provenance.Act) string {
	switch a.Syscall {
	case "open", "openat", "openat2", "creat":
		if a.Syscall == "creat" || strings.Contains(a.Arg, "O_WRONLY") || strings.Contains(a.Arg, "O_RDWR") ||
			strings.Contains(a.Arg, "O_CREAT") || strings.Contains(a.Arg, "O_TRUNC") {
			return "write"
		}
		return "read"
	case "execve", "execveat", "mmap":
		// mmap only reaches the graph when it mapped a file executable
		// (the tracer drops the rest): a refused one is an attempt to run
		// that file's code.
		return "exec"
	case "unlink", "unlinkat", "rmdir":
		return "unlink"
	case "rename", "renameat", "renameat2":
		return "rename"
	case "chmod", "fchmodat", "fchmodat2", "fchmod":
		return "chmod"
	case "link", "linkat", "symlink", "symlinkat":
		return "link"
	case "truncate", "ftruncate":
		return "truncate"
	case "mkdir", "mkdirat":
		return "write"
	}
	return "open"
}

// modifies says whether an access changes the file (or tried to).
func (a access) modifies() bool {
	switch a.how {
	case "write", "unlink", "rename", "chmod", "link", "truncate":
		return true
	}
	return false
}

// describe is an access in words: "sh wrote /etc/cron.d/x", "cat tried to
// read /etc/shadow (EACCES)".
func (v *view) describe(a access, past, present string) string {
	who := "a process"
	if a.proc >= 0 {
		who = v.proc(a.proc)
	}
	if a.errno != "" {
		return fmt.Sprintf("%s tried to %s %s (%s)", who, present, a.path, a.errno)
	}
	return fmt.Sprintf("%s %s %s", who, past, a.path)
}

// fileHit is a hit about access a: its nodes and file.
func (v *view) fileHit(a access, text string) hit {
	h := hit{nodes: nodesOf(a), text: text, path: a.path}
	switch {
	case a.file >= 0:
		h.label = v.node(a.file).Label
	case a.act != nil:
		h.label = a.act.Label
	}
	return h
}

func nodesOf(a access) []int {
	var n []int
	if a.proc >= 0 {
		n = append(n, a.proc)
	}
	if a.file >= 0 {
		n = append(n, a.file)
	}
	return n
}

// baseExe is the basename of a process node's executable.
func (v *view) baseExe(i int) string {
	n := v.node(i)
	if n.Exe != "" {
		return path.Base(n.Exe)
	}
	return path.Base(n.Argv0)
}

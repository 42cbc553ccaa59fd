package lab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// Invocation is one call the runner made (one line of invocations.jsonl).
type Invocation struct {
	Scenario string `json:"scenario"`
	Round    int    `json:"round"`
	Step     string `json:"step"`
	// Mixed is true for benign calls drawn from the pool by mix_benign.
	Mixed    bool   `json:"mixed,omitempty"`
	Function string `json:"function"`
	Method   string `json:"method"`
	Label    string `json:"label"`
	Taints   bool   `json:"taints,omitempty"`
	Cold     bool   `json:"cold,omitempty"`
	CallID   string `json:"call_id"`
	// Container is the instance id that served the call, when the
	// provider lists instances (the local stack does).
	Container string    `json:"container,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Status    int       `json:"status"`
	ReqBytes  int       `json:"req_bytes"`
	RespBytes int64     `json:"resp_bytes"`
	Error     string    `json:"error,omitempty"`
}

// Recycle is a container replaced by a fresh one (recycle, or scale to
// zero): what a payload left behind in it is gone from Time on.
type Recycle struct {
	Function  string    `json:"function"`
	Container string    `json:"container,omitempty"` // the instance that was replaced, when known
	Time      time.Time `json:"time"`
	Reason    string    `json:"reason"` // "recycle", "scale-to-zero"
}

// LabelStats counts what labelling did.
type LabelStats struct {
	Read          int `json:"read"`
	Invalid       int `json:"invalid"`
	Invocation    int `json:"invocation"`
	Downstream    int `json:"downstream"` // same call id, a function called by the invoked one
	Background    int `json:"background"`
	BackgroundAtk int `json:"background_attack"`
	// BackgroundIdle counts background graphs of a compromised container
	// that hold none of the attack's processes (labelled benign).
	BackgroundIdle int `json:"background_idle"`
	// TaintedIdle counts calls to a tainted container in which the planted
	// code did nothing the graph shows (labelled benign).
	TaintedIdle     int `json:"tainted_idle"`
	TaintedAtk      int `json:"tainted_attack"`
	Unmatched       int `json:"unmatched"`        // call id not recorded by this run
	OtherFunctions  int `json:"other_functions"`  // not part of the victim app (e.g. faasmon's own)
	OutsideRun      int `json:"outside_run"`      // background windows outside the run's time
	MissingGraphs   int `json:"missing_graphs"`   // recorded invocations without an invocation graph
	DuplicateGraphs int `json:"duplicate_graphs"` // same graph id read twice
}

// clockSlack absorbs the difference between the runner's clock readings
// and the tracer's timestamps (same machine, different moments of reading).
const clockSlack = 50 * time.Millisecond

// Labeler labels graphs from what the runner recorded.
type Labeler struct {
	Invocations []Invocation
	Recycles    []Recycle
	// Functions is the victim app; graphs of other functions are skipped.
	// Empty means every function.
	Functions map[string]bool
	// RunStart and RunEnd bound background windows considered (zero: no bound).
	RunStart, RunEnd time.Time

	byCall map[string][]int // call id → invocation indices
	// ignoreContainers is set by LabelAll when no graph's Container equals
	// any recorded instance id: the two name containers differently, so
	// only time and recycles can tell containers apart.
	ignoreContainers bool
	// Attacker is the attacker host's address (AttackerIP when empty): a
	// tainted call that talks to it is one where the planted code acted.
	Attacker string

	// planted holds, per container, the processes an attack invocation
	// started and their descendants; plantedFiles the files attack
	// invocations wrote (both set by LabelAll).
	planted      map[string]map[int]bool
	plantedFiles map[string]map[string]bool
}

func (l *Labeler) index() {
	if l.byCall != nil {
		return
	}
	l.byCall = map[string][]int{}
	for i, inv := range l.Invocations {
		if inv.CallID != "" {
			l.byCall[inv.CallID] = append(l.byCall[inv.CallID], i)
		}
	}
}

// Label returns the labelled copy of g and true, or false when g does not
// belong to the run. Rules:
//
//   - invocation graphs: the call id names a recorded invocation. The graph
//     of the invoked function takes that invocation's label; graphs of
//     functions it called (the call id is passed on through the gateway)
//     are "benign" unless their container is tainted.
//   - every graph of a container after an attack step with taints: true
//     in it, until that container is recycled, is "attack".
//   - background graphs are "attack" when they start after an attack step
//     in that container and before it was recycled, and (when labelled by
//     LabelAll) hold a process the attack started or one of its
//     descendants; otherwise "benign". Without that last rule, the runtime's
//     own idle activity (Node.js's event-loop pipe) in a compromised
//     container was labelled "attack", and the very same graph in a clean
//     container "benign": identical graphs under both labels.
//     Scenario is the attack's, or that of the last call to the function.
func (l *Labeler) Label(g provenance.Graph, st *LabelStats) (provenance.Graph, bool) {
	l.index()
	if len(l.Functions) > 0 && !l.Functions[g.Function] {
		st.OtherFunctions++
		return g, false
	}
	switch g.Window {
	case provenance.WindowInvocation:
		idx := l.byCall[g.CallID]
		if g.CallID == "" || len(idx) == 0 {
			st.Unmatched++
			return g, false
		}
		inv := l.Invocations[idx[0]]
		for _, i := range idx {
			if l.Invocations[i].Function == g.Function {
				inv = l.Invocations[i]
				break
			}
		}
		g.Scenario = inv.Scenario
		if inv.Function == g.Function {
			g.Label = inv.Label
			st.Invocation++
		} else {
			g.Label = LabelBenign
			st.Downstream++
		}
		if g.Label == LabelBenign {
			if atk, ok := l.taintedBy(g, func(a Invocation) bool { return a.Taints }); ok {
				if l.planted == nil || l.acts(&g) {
					g.Label, g.Scenario = LabelAttack, atk.Scenario
					st.TaintedAtk++
				} else {
					st.TaintedIdle++
				}
			}
		}
		return g, true
	case provenance.WindowBackground:
		if (!l.RunStart.IsZero() && g.End.Before(l.RunStart)) || (!l.RunEnd.IsZero() && g.Start.After(l.RunEnd)) {
			st.OutsideRun++
			return g, false
		}
		st.Background++
		if atk, ok := l.taintedBy(g, func(Invocation) bool { return true }); ok {
			if l.planted == nil || l.holdsPlanted(g) {
				g.Label, g.Scenario = LabelAttack, atk.Scenario
				st.BackgroundAtk++
				return g, true
			}
			st.BackgroundIdle++
		}
		g.Label = LabelBenign
		g.Scenario = l.lastScenario(g.Function, g.Start)
		return g, true
	}
	st.Invalid++
	return g, false
}

func (l *Labeler) containerKey(g *provenance.Graph) string {
	if l.ignoreContainers {
		return g.Function
	}
	return g.Function + "/" + g.Container
}

// indexPlanted finds, in start order, what attacks left in each container:
// the processes that invocations labelled attack forked (in their own
// graph, or in a background window while they ran: a child's activity can
// be cut into the background window next to the call), the descendants of
// those in later background windows, and the files attack invocations
// wrote.
func (l *Labeler) indexPlanted(graphs []provenance.Graph) {
	l.index()
	order := make([]int, len(graphs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return graphs[order[a]].Start.Before(graphs[order[b]].Start) })
	l.planted = map[string]map[int]bool{}
	l.plantedFiles = map[string]map[string]bool{}
	type span struct{ from, to time.Time }
	running := map[string][]span{} // attack invocations by container
	var st LabelStats
	for _, i := range order {
		g := &graphs[i]
		key := l.containerKey(g)
		if l.planted[key] == nil {
			l.planted[key] = map[int]bool{}
			l.plantedFiles[key] = map[string]bool{}
		}
		set := l.planted[key]
		attack := false
		switch g.Window {
		case provenance.WindowInvocation:
			lg, ok := l.Label(*g, &st)
			attack = ok && lg.Label == LabelAttack
			if !attack {
				continue
			}
			running[key] = append(running[key], span{g.Start, g.End.Add(time.Second)})
			for _, e := range g.Edges {
				if e.Kind == provenance.EdgeWrite || e.Kind == provenance.EdgeRename {
					if n := g.Nodes[e.Dst]; n.Kind == provenance.NodeFile {
						l.plantedFiles[key][n.Label] = true
					}
				}
			}
		case provenance.WindowBackground:
		default:
			continue
		}
		for _, e := range g.Edges {
			if e.Kind != provenance.EdgeFork {
				continue
			}
			parent, child := g.Nodes[e.Src].PID, g.Nodes[e.Dst].PID
			during := l.attackRunning(g, e.First)
			for _, sp := range running[key] {
				during = during || (!e.First.Before(sp.from) && !e.First.After(sp.to))
			}
			if child != 0 && (attack || set[parent] || during) {
				set[child] = true
			}
		}
	}
}

// attackRunning reports whether a recorded attack invocation of g's
// function and container ran at t (or had ended less than a second
// before). The runner's records, not graphs: the first call to a container
// can have no invocation graph (the tracer attached after it read the
// request), its activity then lands in a background window.
func (l *Labeler) attackRunning(g *provenance.Graph, t time.Time) bool {
	for _, inv := range l.Invocations {
		if inv.Label != LabelAttack || inv.Function != g.Function || (!l.ignoreContainers && !sameContainer(inv.Container, g.Container)) {
			continue
		}
		if !t.Before(inv.Start.Add(-clockSlack)) && !t.After(inv.End.Add(time.Second)) {
			return true
		}
	}
	return false
}

// acts reports whether g, a call to a tainted container, shows the planted
// code at work: a process forked, the attacker's address, or a file an
// attack wrote.
func (l *Labeler) acts(g *provenance.Graph) bool {
	attacker := l.Attacker
	if attacker == "" {
		attacker = AttackerIP
	}
	files := l.plantedFiles[l.containerKey(g)]
	for _, e := range g.Edges {
		if e.Kind == provenance.EdgeFork {
			return true
		}
	}
	for _, n := range g.Nodes {
		switch n.Kind {
		case provenance.NodeSocket:
			if host, _, err := net.SplitHostPort(n.Label); err == nil && host == attacker {
				return true
			}
		case provenance.NodeFile:
			if files[n.Label] {
				return true
			}
		}
	}
	return false
}

func (l *Labeler) holdsPlanted(g provenance.Graph) bool {
	set := l.planted[l.containerKey(&g)]
	planted := func(i int) bool {
		n := g.Nodes[i]
		return n.Kind == provenance.NodeProcess && n.PID != 0 && set[n.PID]
	}
	// A planted process that only moves bytes through a pipe in this
	// window shows nothing: the same graph comes from any child process's
	// output, so it is not labelled attack.
	for _, e := range g.Edges {
		if !planted(e.Src) && !planted(e.Dst) {
			continue
		}
		if (e.Kind == provenance.EdgeRead || e.Kind == provenance.EdgeWrite) &&
			(g.Nodes[e.Src].Kind == provenance.NodePipe || g.Nodes[e.Dst].Kind == provenance.NodePipe) {
			continue
		}
		return true
	}
	return false
}

// taintedBy finds the latest attack invocation (accepted by which) of g's
// function, in g's container, that started before g and whose container was
// not recycled between it and g's start.
func (l *Labeler) taintedBy(g provenance.Graph, which func(Invocation) bool) (Invocation, bool) {
	var best Invocation
	found := false
	for _, inv := range l.Invocations {
		if inv.Label != LabelAttack || inv.Function != g.Function || !which(inv) {
			continue
		}
		if g.CallID != "" && inv.CallID == g.CallID {
			continue // the attack's own graph is labelled by its call id
		}
		if !l.ignoreContainers && !sameContainer(inv.Container, g.Container) {
			continue
		}
		if !inv.Start.Before(g.Start.Add(clockSlack)) {
			continue
		}
		if l.recycledBetween(g.Function, inv.Container, inv.Start, g.Start) {
			continue
		}
		if !found || inv.Start.After(best.Start) {
			best, found = inv, true
		}
	}
	return best, found
}

// sameContainer: equal ids, or unknown on either side (then time and
// recycles decide).
func sameContainer(a, b string) bool { return a == "" || b == "" || a == b }

func (l *Labeler) recycledBetween(fn, container string, from, to time.Time) bool {
	for _, r := range l.Recycles {
		if r.Function != fn {
			continue
		}
		if !l.ignoreContainers && r.Container != "" && container != "" && r.Container != container {
			continue
		}
		if r.Time.After(from) && r.Time.Before(to) {
			return true
		}
	}
	return false
}

func (l *Labeler) lastScenario(fn string, t time.Time) string {
	var best Invocation
	found := false
	for _, inv := range l.Invocations {
		if inv.Function == fn && inv.Start.Before(t.Add(clockSlack)) && (!found || inv.Start.After(best.Start)) {
			best, found = inv, true
		}
	}
	return best.Scenario
}

// ReadGraphs reads every graph under dir: *.json files holding one graph
// and *.jsonl files holding one per line, recursively. Files that do not
// parse or validate are counted, not fatal (the archive is being written
// while we read it).
func ReadGraphs(dir string) ([]provenance.Graph, int, error) {
	var out []provenance.Graph
	bad := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		switch {
		case strings.HasSuffix(path, ".json"):
			b, err := os.ReadFile(path)
			if err != nil {
				bad++
				return nil
			}
			var g provenance.Graph
			if json.Unmarshal(b, &g) != nil || g.Validate() != nil {
				bad++
				return nil
			}
			out = append(out, g)
		case strings.HasSuffix(path, ".jsonl"):
			f, err := os.Open(path)
			if err != nil {
				bad++
				return nil
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 256<<20)
			for sc.Scan() {
				var g provenance.Graph
				if json.Unmarshal(sc.Bytes(), &g) != nil || g.Validate() != nil {
					bad++
					continue
				}
				out = append(out, g)
			}
		}
		return nil
	})
	return out, bad, err
}

// LabelAll labels graphs (deduplicated by id), sorted by start time.
func (l *Labeler) LabelAll(graphs []provenance.Graph) ([]provenance.Graph, LabelStats) {
	var st LabelStats
	known := map[string]bool{}
	for _, inv := range l.Invocations {
		if inv.Container != "" {
			known[inv.Container] = true
		}
	}
	overlap, anyContainer := false, false
	for _, g := range graphs {
		if g.Container != "" && (len(l.Functions) == 0 || l.Functions[g.Function]) {
			anyContainer = true
			overlap = overlap || known[g.Container]
		}
	}
	l.ignoreContainers = anyContainer && len(known) > 0 && !overlap
	l.indexPlanted(graphs)
	seen := map[string]bool{}
	var out []provenance.Graph
	haveCall := map[string]bool{}
	for _, g := range graphs {
		st.Read++
		if seen[g.ID] {
			st.DuplicateGraphs++
			continue
		}
		seen[g.ID] = true
		if lg, ok := l.Label(g, &st); ok {
			out = append(out, lg)
			if lg.Window == provenance.WindowInvocation {
				haveCall[lg.CallID+"\x00"+lg.Function] = true
			}
		}
	}
	for _, inv := range l.Invocations {
		if inv.CallID != "" && !haveCall[inv.CallID+"\x00"+inv.Function] {
			st.MissingGraphs++
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, st
}

// WriteGraphs writes each graph to dir/<id>.json.
func WriteGraphs(dir string, graphs []provenance.Graph) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, g := range graphs {
		name := safeFileName(g.ID)
		if name == "" {
			return fmt.Errorf("graph with empty id (function %s, call %s)", g.Function, g.CallID)
		}
		b, err := json.Marshal(g)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func safeFileName(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), ".")
	return s
}

// ReadJSONL decodes every line of path into a T.
func ReadJSONL[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// WriteJSONL writes one value per line.
func WriteJSONL[T any](path string, vs []T) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			f.Close()
			return err
		}
	}
	return errors.Join(w.Flush(), f.Close())
}

// Relabel labels a run directory's graphs again from its invocations.jsonl
// and recycles.jsonl, with the current rules, in place: labels are derived
// data, and a rule fixed later should not need the run played again.
func Relabel(dir string) (LabelStats, error) {
	invs, err := ReadJSONL[Invocation](filepath.Join(dir, "invocations.jsonl"))
	if err != nil {
		return LabelStats{}, fmt.Errorf("relabel %s: %w", dir, err)
	}
	recycles, err := ReadJSONL[Recycle](filepath.Join(dir, "recycles.jsonl"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return LabelStats{}, fmt.Errorf("relabel %s: %w", dir, err)
	}
	graphs, bad, err := ReadGraphs(filepath.Join(dir, "graphs"))
	if err != nil {
		return LabelStats{}, fmt.Errorf("relabel %s: %w", dir, err)
	}
	l := &Labeler{Invocations: invs, Recycles: recycles}
	out, st := l.LabelAll(graphs)
	st.Invalid += bad
	if err := WriteGraphs(filepath.Join(dir, "graphs"), out); err != nil {
		return st, err
	}
	writeJSON(filepath.Join(dir, "label-stats.json"), st)
	return st, nil
}

package provenance_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/classify/invariant"
	"github.com/faasmon/faasmon/pkg/classify/profile"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// The tests build their graphs with the real builder from events shaped as
// faasmon-parse emits them for strace lines of the lab's photo-receive
// under flaw (a): the handler (pid 100) reads a request, its shell (pid
// 200) is the injected command.

var c0 = time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)

// queueLimit is chunk.MaxBytes, the body OpenFaaS CE's queue accepts.
const queueLimit = chunk.MaxBytes

// opts are the options faasmon-graph compacts with.
var opts = provenance.CompactOptions{MaxBytes: queueLimit, Keep: invariant.Watched, Template: profile.PathTemplate}

type evs struct {
	ms  int
	out []event.Event
}

func (s *evs) add(pid int, name string, f func(*event.Event)) {
	s.ms++
	e := event.Event{Kind: event.KindSyscall, Time: c0.Add(time.Duration(s.ms) * time.Millisecond), PID: pid, Syscall: name}
	if f != nil {
		f(&e)
	}
	s.out = append(s.out, e)
}

// shape says what the injected shell does before and as its attack.
type shape struct {
	writes   int  // files /tmp/w<i> written by the shell itself
	reads    int  // files /usr/share/doc/pkg<i>/copyright read by the shell
	cached   int  // files /var/cache/app/<letters> read by the shell
	touches  int  // files /tmp/t<i> each written by its own touch process
	finds    int  // directories /srv/<letters>/<letters>/<letters> opened by one find
	denied   int  // directories /root/<letters>/<letters> the shell may not open
	shadow   bool // then tries to read /etc/shadow (refused)
	dropExec bool // then writes /tmp/p.sh, makes it executable and runs it
	beacon   bool // the payload connects out
}

// letters names i without digits ("ba", "bb", ...), so that no template
// folds the names: only a directory or tree glob can.
func letters(i int) string {
	s := ""
	for {
		s = string(rune('a'+i%26)) + s
		i /= 26
		if i == 0 {
			return "x" + s
		}
	}
}

// build plays s through the builder and returns the invocation's graph.
func build(t testing.TB, s shape) provenance.Graph {
	t.Helper()
	const call = "call-1"
	req := func(e *event.Event) { e.Proto, e.Local, e.Remote = "TCP", "10.62.3.2:8080", "10.62.3.1:41000" }
	var x evs
	x.add(100, "read", func(e *event.Event) { req(e); e.Bytes, e.CallID = 300, call })
	x.add(100, "clone", func(e *event.Event) { e.Ret = 200 })
	x.add(200, "execve", func(e *event.Event) {
		e.Path, e.Argv = "/bin/sh", []string{"sh", "-c", "convert -format png$(sh -c ...)"}
	})
	for i := 0; i < s.writes; i++ {
		p := fmt.Sprintf("/tmp/w%d", i)
		x.add(200, "openat", func(e *event.Event) { e.Path, e.Flags, e.Ret = p, "O_WRONLY|O_CREAT|O_TRUNC", 3 })
		x.add(200, "write", func(e *event.Event) { e.Path, e.Bytes = p, 2 })
	}
	for i := 0; i < s.reads; i++ {
		p := fmt.Sprintf("/usr/share/doc/pkg%d/copyright", i)
		x.add(200, "openat", func(e *event.Event) { e.Path, e.Flags, e.Ret = p, "O_RDONLY", 3 })
		x.add(200, "read", func(e *event.Event) { e.Path, e.Bytes = p, 4096 })
	}
	for i := 0; i < s.cached; i++ {
		p := "/var/cache/app/" + letters(i)
		x.add(200, "openat", func(e *event.Event) { e.Path, e.Flags, e.Ret = p, "O_RDONLY", 3 })
		x.add(200, "read", func(e *event.Event) { e.Path, e.Bytes = p, 4096 })
	}
	for i := 0; i < s.touches; i++ {
		pid := 10000 + i
		p := fmt.Sprintf("/tmp/t%d", i)
		x.add(200, "clone", func(e *event.Event) { e.Ret = int64(pid) })
		x.add(pid, "execve", func(e *event.Event) { e.Path, e.Argv = "/usr/bin/touch", []string{"touch", p} })
		x.add(pid, "openat", func(e *event.Event) { e.Path, e.Flags, e.Ret = p, "O_WRONLY|O_CREAT", 3 })
		x.add(pid, "exit", func(e *event.Event) { e.Kind = event.KindExit })
	}
	if s.finds > 0 {
		x.add(200, "clone", func(e *event.Event) { e.Ret = 300 })
		x.add(300, "execve", func(e *event.Event) { e.Path, e.Argv = "/usr/bin/find", []string{"find", "/srv", "-name", "*.conf"} })
		for i := 0; i < s.finds; i++ {
			p := "/srv/" + letters(i/100) + "/" + letters(i/2) + "/" + letters(i)
			x.add(300, "openat", func(e *event.Event) { e.Path, e.Flags, e.Ret = p, "O_RDONLY|O_DIRECTORY", 4 })
		}
	}
	for i := 0; i < s.denied; i++ {
		p := "/root/" + letters(i/50) + "/" + letters(i)
		x.add(200, "openat", func(e *event.Event) { e.Path, e.Flags, e.Errno = p, "O_RDONLY|O_DIRECTORY", "EACCES" })
	}
	if s.shadow {
		x.add(200, "openat", func(e *event.Event) { e.Path, e.Flags, e.Errno = "/etc/shadow", "O_RDONLY", "EACCES" })
	}
	if s.dropExec {
		x.add(200, "openat", func(e *event.Event) { e.Path, e.Flags, e.Ret = "/tmp/p.sh", "O_WRONLY|O_CREAT|O_TRUNC", 3 })
		x.add(200, "write", func(e *event.Event) { e.Path, e.Bytes = "/tmp/p.sh", 120 })
		x.add(200, "chmod", func(e *event.Event) { e.Path, e.Mode = "/tmp/p.sh", 0o755 })
		x.add(200, "clone", func(e *event.Event) { e.Ret = 400 })
		x.add(400, "execve", func(e *event.Event) { e.Path, e.Argv = "/tmp/p.sh", []string{"/tmp/p.sh"} })
		if s.beacon {
			x.add(400, "connect", func(e *event.Event) {
				e.Proto, e.Local, e.Remote, e.Errno = "TCP", "10.62.3.2:51000", "203.0.113.7:4444", "EINPROGRESS"
			})
			x.add(400, "sendto", func(e *event.Event) {
				e.Proto, e.Local, e.Remote, e.Bytes = "TCP", "10.62.3.2:51000", "203.0.113.7:4444", 64
			})
		}
	}
	x.add(100, "writev", func(e *event.Event) { req(e); e.Bytes = 100 })

	h := chunk.Header{Node: "n1", Function: "photo-receive", Container: "c1", PID: 100,
		Kind: chunk.KindStrace, Stream: "s1", Seq: 0, Start: c0, End: c0.Add(time.Minute)}
	st := provenance.NewState(h)
	b := provenance.Builder{Class: provenance.DefaultClassifier()}
	graphs, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: x.out})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range graphs {
		if g.Window == provenance.WindowInvocation {
			return g
		}
	}
	t.Fatalf("no invocation graph among %d", len(graphs))
	return provenance.Graph{}
}

func size(t testing.TB, g *provenance.Graph) int {
	t.Helper()
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func rules(g *provenance.Graph) []string {
	var out []string
	for _, f := range invariant.Check(g) {
		out = append(out, f.Rule)
	}
	return out
}

// kinds counts nodes by kind and edges by kind.
func census(g *provenance.Graph) map[string]int {
	m := map[string]int{}
	for _, n := range g.Nodes {
		m["node "+string(n.Kind)]++
	}
	for _, e := range g.Edges {
		m["edge "+string(e.Kind)] += e.Count
	}
	return m
}

func TestCompactKeepsEvidence(t *testing.T) {
	for _, c := range []struct {
		name  string
		s     shape
		rules []string // invariants raised before and after
		level string   // the coarsest folding needed
	}{
		{"2000 writes then shadow", shape{writes: 2000, shadow: true}, []string{"credential-store-read"}, provenance.LevelTemplate},
		{"2000 writes then drop and exec", shape{writes: 2000, dropExec: true, beacon: true},
			[]string{"drift-exec", "exec-from-writable-dir"}, provenance.LevelTemplate},
		{"3000 reads of numbered dirs then shadow", shape{reads: 3000, shadow: true}, []string{"credential-store-read"}, provenance.LevelTemplate},
		{"3000 reads of named files then shadow", shape{cached: 3000, shadow: true}, []string{"credential-store-read"}, provenance.LevelDir},
		{"1500 touch processes then drop and exec", shape{touches: 1500, dropExec: true},
			[]string{"drift-exec", "exec-from-writable-dir"}, provenance.LevelProcess},
		{"find over 5000 dirs then shadow", shape{finds: 5000, shadow: true}, []string{"credential-store-read"}, provenance.LevelTree},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := build(t, c.s)
			before := size(t, &g)
			if before <= queueLimit {
				t.Fatalf("graph is %d bytes, not over the queue limit: the case tests nothing", before)
			}
			if got := rules(&g); !slices.Equal(got, c.rules) {
				t.Fatalf("before compaction the invariants raise %v, want %v", got, c.rules)
			}
			orig := census(&g)
			acts := slices.Clone(g.Acts)
			if err := provenance.Compact(&g, opts); err != nil {
				t.Fatal(err)
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			after := size(t, &g)
			if after > queueLimit {
				t.Fatalf("compacted graph is %d bytes, over %d", after, queueLimit)
			}
			if g.Compacted == nil || g.Compacted.Bytes != before || g.Compacted.Folded == 0 || g.Compacted.Level != c.level {
				t.Fatalf("compaction record %+v, want bytes %d, level %s", g.Compacted, before, c.level)
			}
			if len(g.Truncated) != 0 {
				t.Errorf("truncated %+v: folding should have been enough", g.Truncated)
			}
			if got := rules(&g); !slices.Equal(got, c.rules) {
				t.Errorf("after compaction the invariants raise %v, want %v", got, c.rules)
			}
			now := census(&g)
			// Edge counts are sums: folding merges edges, never drops a call.
			for k, n := range orig {
				if strings.HasPrefix(k, "edge ") && now[k] != n {
					t.Errorf("%s: %d calls before, %d after", k, n, now[k])
				}
			}
			for _, k := range []string{"node socket", "node pipe"} {
				if now[k] != orig[k] {
					t.Errorf("%s: %d before, %d after", k, orig[k], now[k])
				}
			}
			if c.s.touches == 0 && now["node process"] != orig["node process"] {
				t.Errorf("processes: %d before, %d after", orig["node process"], now["node process"])
			}
			if len(g.Acts) != len(acts) {
				t.Errorf("acts: %d before, %d after", len(acts), len(g.Acts))
			}
			for i := range acts {
				a, b := acts[i], g.Acts[i]
				if g.Nodes[b.Proc].PID != 200 || a.Path != b.Path || a.Errno != b.Errno {
					t.Errorf("act %d changed: %+v → %+v", i, a, b)
				}
			}
			folded := 0
			for _, n := range g.Nodes {
				folded += n.Folded
				if n.Folded > 0 && (len(n.Examples) == 0 || len(n.Examples) > 3) {
					t.Errorf("folded node %q has examples %q", n.Label, n.Examples)
				}
			}
			if folded != g.Compacted.Folded {
				t.Errorf("nodes say %d folded, the record %d", folded, g.Compacted.Folded)
			}
			t.Logf("%d → %d bytes, %d → %d nodes, %s", before, after, g.Compacted.Nodes, len(g.Nodes), c.level)
		})
	}
}

// The 2,000 written files become one written node whose label is the
// template the profiles learn for each of them.
func TestCompactFoldsWritesToTemplate(t *testing.T) {
	g := build(t, shape{writes: 2000})
	if err := provenance.Compact(&g, opts); err != nil {
		t.Fatal(err)
	}
	var w []provenance.Node
	for _, n := range g.Nodes {
		if n.Kind == provenance.NodeFile && strings.HasPrefix(n.Label, "/tmp/") {
			w = append(w, n)
		}
	}
	if len(w) != 1 {
		t.Fatalf("%d /tmp nodes after compaction, want 1: %+v", len(w), w)
	}
	n := w[0]
	if want := "/tmp/wN"; n.Label != want || n.Path != want || !n.Written || n.Folded != 2000 {
		t.Errorf("folded node %+v, want label %q, written, folded 2000", n, want)
	}
	if !slices.Equal(n.Examples, []string{"/tmp/w0", "/tmp/w1", "/tmp/w2"}) {
		t.Errorf("examples %q", n.Examples)
	}
}

// A thousand refused opens of directories (a find over a tree the function
// may not read) fold into a few acts on globs, with their counts summed;
// the refused read of /etc/shadow stays as it was, and the graph is not cut.
func TestCompactFoldsActs(t *testing.T) {
	g := build(t, shape{denied: 1000, shadow: true})
	o := opts
	o.MaxBytes = 60000
	if s := size(t, &g); s <= o.MaxBytes {
		t.Fatalf("graph is %d bytes, within %d: the case tests nothing", s, o.MaxBytes)
	}
	calls := func(g *provenance.Graph) (n int) {
		for _, a := range g.Acts {
			n += a.Count
		}
		return n
	}
	before, n := calls(&g), len(g.Acts)
	if err := provenance.Compact(&g, o); err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if s := size(t, &g); s > o.MaxBytes || len(g.Truncated) != 0 {
		t.Fatalf("%d bytes (limit %d), truncated %+v", s, o.MaxBytes, g.Truncated)
	}
	if calls(&g) != before || g.Compacted == nil || g.Compacted.Acts != n-len(g.Acts) || len(g.Acts) >= n {
		t.Errorf("acts %d → %d, calls %d → %d, record %+v", n, len(g.Acts), before, calls(&g), g.Compacted)
	}
	shadow := false
	for _, a := range g.Acts {
		shadow = shadow || a.Path == "/etc/shadow" && a.Count == 1 && a.Errno == "EACCES"
	}
	if !shadow || !slices.Equal(rules(&g), []string{"credential-store-read"}) {
		t.Errorf("the /etc/shadow act is gone (%v) or the invariants changed: %v", shadow, rules(&g))
	}
}

func TestCompactDeterministicIdempotent(t *testing.T) {
	for _, s := range []shape{{writes: 2000, shadow: true}, {reads: 3000}, {cached: 3000}, {touches: 1500, dropExec: true}, {finds: 5000}, {denied: 1000, writes: 1000}} {
		a, b := build(t, s), build(t, s)
		if err := provenance.Compact(&a, opts); err != nil {
			t.Fatal(err)
		}
		if err := provenance.Compact(&b, opts); err != nil {
			t.Fatal(err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("%+v: two compactions of the same graph differ", s)
		}
		if err := provenance.Compact(&a, opts); err != nil {
			t.Fatal(err)
		}
		if again, _ := json.Marshal(a); string(again) != string(ja) {
			t.Errorf("%+v: compacting a compacted graph changed it", s)
		}
	}
}

func TestCompactLeavesFittingGraph(t *testing.T) {
	g := build(t, shape{writes: 50, shadow: true, dropExec: true})
	want, _ := json.Marshal(g)
	if err := provenance.Compact(&g, opts); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(g); string(got) != string(want) {
		t.Error("a graph under the limit was changed")
	}
	if strings.Contains(string(want), `"compacted"`) || strings.Contains(string(want), `"folded"`) {
		t.Error("an uncompacted graph carries the new fields: they must be omitempty")
	}
}

// A graph of an older faasmon (no compaction fields) decodes, and a
// compacted one decodes into the same schema version.
func TestCompactSchemaCompatible(t *testing.T) {
	old := `{"version":1,"id":"x","function":"f","window":"invocation","start":"2026-12-01T00:00:00Z","end":"2026-12-01T00:00:00Z",
		"nodes":[{"id":0,"kind":"process","label":"sh"},{"id":1,"kind":"file","label":"/tmp/a","path":"/tmp/a"}],
		"edges":[{"src":0,"dst":1,"kind":"write","first":"2026-12-01T00:00:00Z","last":"2026-12-01T00:00:00Z","count":1}]}`
	var g provenance.Graph
	if err := json.Unmarshal([]byte(old), &g); err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil || g.Compacted != nil || g.Truncated != nil {
		t.Fatalf("old graph: %v, %+v", err, g)
	}
	c := build(t, shape{writes: 2000})
	if err := provenance.Compact(&c, opts); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(c)
	var back provenance.Graph
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Version != provenance.SchemaVersion || !reflect.DeepEqual(back.Compacted, c.Compacted) {
		t.Errorf("round trip: version %d, compacted %+v", back.Version, back.Compacted)
	}
}

// When folding cannot bring a graph under the limit (here a limit too small
// for its processes), the graph is cut, marked, and keeps the evidence
// first: the act's process and the dropped payload survive the cut.
func TestCompactCutsLastAndSaysSo(t *testing.T) {
	s := shape{writes: 300, reads: 300, finds: 300, shadow: true, dropExec: true, beacon: true}
	g := build(t, s)
	// Folded as far as it goes this graph is about 3 KB: 2.5 KB cuts.
	o := opts
	o.MaxBytes = 2500
	if err := provenance.Compact(&g, o); err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if s := size(t, &g); s > o.MaxBytes {
		t.Fatalf("%d bytes, over %d", s, o.MaxBytes)
	}
	if len(g.Truncated) != 1 || g.Truncated[0].Reason != provenance.TruncQueueLimit || g.Truncated[0].Nodes == 0 {
		t.Fatalf("truncation record %+v", g.Truncated)
	}
	if got := rules(&g); !slices.Contains(got, "credential-store-read") || !slices.Contains(got, "drift-exec") {
		t.Errorf("after the cut the invariants raise %v", got)
	}
}

func TestCompactRefusesInvalidGraph(t *testing.T) {
	g := provenance.Graph{Version: 1, ID: "bad", Nodes: []provenance.Node{{ID: 0, Kind: provenance.NodeFile}},
		Edges: []provenance.Edge{{Src: 0, Dst: 5, Kind: provenance.EdgeRead, Count: 1}}}
	if err := provenance.Compact(&g, opts); err == nil {
		t.Error("an edge to node 5 of 1 was accepted")
	}
}

func BenchmarkCompact(b *testing.B) {
	g := build(b, shape{writes: 2000, shadow: true})
	b.ReportAllocs()
	for b.Loop() {
		c := g
		c.Nodes, c.Edges, c.Acts = slices.Clone(g.Nodes), slices.Clone(g.Edges), slices.Clone(g.Acts)
		if err := provenance.Compact(&c, opts); err != nil {
			b.Fatal(err)
		}
	}
}

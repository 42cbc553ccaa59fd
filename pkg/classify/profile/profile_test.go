package profile

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

const fn = "node-server"

// nodeServer is the real node_server.js of pkg/parse/strace/testdata: its
// captures with and without -tt, and attached with -p (5 invocations, 3
// background windows), as one function.
func nodeServer(t testing.TB) []provenance.Graph {
	var gs []provenance.Graph
	for _, f := range []string{"node.strace", "node-tt.strace", "attach.strace"} {
		gs = append(gs, traceGraphs(t, f, fn)...)
	}
	return gs
}

// round makes graph g as invocation i of the function would show it: the
// handler's script under a per-call uuid directory and a pid-numbered
// name (the capture wrote /tmp/stcap/node-out.sh every time), and its
// supplier's API reached at a rotating address under one DNS name.
func round(g *provenance.Graph, i int) *provenance.Graph {
	c := rewrite(g, "/tmp/stcap/node-out.sh",
		fmt.Sprintf("/tmp/stcap/job-%08x-4b1e-4c2a-9f3d-%012x/node-out-%d.sh", 0x1a2b3c4d+i*7919, 0x5e6f7a8b9c0d+i*104729, 4000+i*37))
	if g.Window == provenance.WindowInvocation {
		c = withConnect(c, fmt.Sprintf("52.95.%d.%d:443", i%7, 10+i), "api.supplier.test")
	}
	return c
}

// requests are the request lines the invocations served.
func requests(i int) *Extra {
	return &Extra{Requests: []Request{{Method: "POST", Path: "/"}, {Method: "GET", Path: fmt.Sprintf("/items/%d?x=%d", 100+i, i)}}}
}

// learnt is the armed profile of nodeServer after rounds rounds.
func learnt(t testing.TB, rounds int) (*Profile, []provenance.Graph) {
	t.Helper()
	base := nodeServer(t)
	p := New(Key{Function: fn, Version: "sha256:1111"}, Config{})
	for i := 0; i < rounds; i++ {
		for j := range base {
			g := round(&base[j], i)
			var x *Extra
			if g.Window == provenance.WindowInvocation {
				x = requests(i)
			}
			p.LearnBehaviour(Extract(g, x))
		}
	}
	p.Arm(traceT0)
	return p, base
}

func rules(fs []verdict.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func TestCheck(t *testing.T) {
	p, base := learnt(t, 7) // 56 graphs, 21 of them background windows
	for _, d := range []Dimension{DimExe, DimExec, DimArgv, DimBackground, DimWriteDir, DimWrite, DimChmod,
		DimRead, DimOpen, DimEndpoint, DimInbound, DimRequest} {
		if !p.DimArmed(d) {
			x := p.Dims[d]
			_, why := x.armedBy(p.cfg())
			t.Fatalf("dimension %s not armed on a function that repeats itself: %s", d, why)
		}
	}
	inv := invocations(base)[0]
	fresh := round(inv, 99) // a call never seen: new uuid, pid, address
	shell := traceGraphs(t, "shell.strace", fn)[0]

	for _, tc := range []struct {
		name  string
		g     *provenance.Graph
		x     *Extra
		rules []string // the rules of the findings, in order; nil: none
		text  string   // a finding's text must hold this
	}{
		{name: "benign: another call, new uuid, pid and supplier address", g: fresh, x: requests(99)},
		{name: "benign: supplier address known, DNS join missed",
			g: withConnect(round(inv, 3), "52.95.3.13:443", ""), x: requests(5)},
		{name: "benign: learning said nothing about requests (unknown)", g: fresh},
		{name: "benign: a background window", g: round(&base[1], 42)},
		{name: "new executables: download and execute (shell.strace)", g: &shell,
			// Round-robin over the dimensions, capped at 16 with a count.
			rules: []string{"count", "exe", "background", "write-dir", "read", "open-dir", "open", "endpoint",
				"exe", "background", "write-dir", "read", "open-dir", "open", "exe", "more"},
			text: "node-server ran /usr/bin/curl from sh for the first time; it runs: "},
		{name: "reads /etc/shadow", g: withFile(fresh, "/etc/shadow", provenance.EdgeRead), x: requests(1),
			rules: []string{"read"}, text: "node-server read /etc/shadow (etc) for the first time; it reads: "},
		{name: "writes into its own code", g: withFile(fresh, "/home/app/handler.js", provenance.EdgeWrite), x: requests(1),
			rules: []string{"write-dir"}, text: "node-server wrote into $FUNC/ (func_dir) for the first time; it writes into: /tmp/stcap/job-UUID/"},
		{name: "new endpoint", g: withConnect(fresh, "10.66.0.2:4444", ""), x: requests(1),
			rules: []string{"endpoint"}, text: "node-server connected to external 10.66.0.2:4444 for the first time; it connects to: "},
		{name: "new DNS name at a new address", g: withConnect(fresh, "93.184.216.34:443", "exfil.example"), x: requests(1),
			rules: []string{"endpoint"}, text: "connected to dns exfil.example:443 (external 93.184.216.34:443)"},
		{name: "new request line", g: fresh, x: &Extra{Requests: []Request{{Method: "GET", Path: "/admin/debug?cmd=id"}}},
			rules: []string{"request"}, text: "node-server saw the request GET /admin/debug for the first time; its requests: "},
		{name: "count far above: 30 processes in one invocation", g: withChildren(fresh, 30), x: requests(1),
			rules: []string{"count"}, text: "node-server had 32 processes in one invocation window; at most 2 in 35 learnt graphs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := p.CheckBehaviour(Extract(tc.g, tc.x))
			got := rules(fs)
			if strings.Join(got, ",") != strings.Join(tc.rules, ",") {
				for _, f := range fs {
					t.Logf("%s: %s", f.Rule, f.Text)
				}
				t.Fatalf("rules %v, want %v", got, tc.rules)
			}
			found := tc.text == ""
			for _, f := range fs {
				if f.Part != verdict.PartProfile || f.Text == "" {
					t.Errorf("finding %+v", f)
				}
				for _, n := range f.Nodes {
					if n < 0 || n >= len(tc.g.Nodes) {
						t.Errorf("finding names node %d of %d", n, len(tc.g.Nodes))
					}
				}
				found = found || strings.Contains(f.Text, tc.text)
			}
			if !found {
				for _, f := range fs {
					t.Logf("%s: %s", f.Rule, f.Text)
				}
				t.Errorf("no finding says %q", tc.text)
			}
		})
	}
}

// A function that names its files after its callers varies in the file
// dimension: that dimension must not arm, while the directory does.
func TestVaryingDimensionNotArmed(t *testing.T) {
	inv := invocations(nodeServer(t))[0]
	names := strings.Fields("alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert sybil trent victor walter yves zoe")
	p := New(Key{Function: fn}, Config{})
	for _, name := range names {
		p.Learn(rewrite(inv, "/tmp/stcap/node-out.sh", "/tmp/stcap/reports/"+name+".sh"))
	}
	p.Arm(traceT0)
	if p.DimArmed(DimWrite) {
		t.Fatalf("write armed with missing mass %v", p.Dims[DimWrite].MissingMass())
	}
	if got := p.Dims[DimWrite].MissingMass(); got != 1 {
		t.Errorf("missing mass %v, want 1 (every graph wrote a name no other did)", got)
	}
	for _, tc := range []struct {
		path  string
		rules []string
	}{
		{"/tmp/stcap/reports/xavier.sh", nil},
		{"/tmp/stcap/other/xavier.sh", []string{"write-dir"}},
	} {
		fs := p.Check(rewrite(inv, "/tmp/stcap/node-out.sh", tc.path))
		// exe and argv name the script too, and they vary as well.
		var got []string
		for _, r := range rules(fs) {
			if r != string(DimExe) && r != string(DimExec) && r != string(DimArgv) {
				got = append(got, r)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.rules, ",") {
			t.Errorf("%s: rules %v, want %v", tc.path, got, tc.rules)
		}
	}
}

func TestLearningChecksNothing(t *testing.T) {
	p := New(Key{Function: fn}, Config{})
	shell := traceGraphs(t, "shell.strace", fn)[0]
	p.Learn(invocations(nodeServer(t))[0])
	if fs := p.Check(&shell); fs != nil {
		t.Errorf("a learning profile reported %v", fs)
	}
}

// The cap bounds what a profile keeps and counts the rest.
func TestCap(t *testing.T) {
	inv := invocations(nodeServer(t))[0]
	p := New(Key{Function: fn}, Config{MaxValues: 4})
	for i := 0; i < 30; i++ {
		p.Learn(rewrite(inv, "/tmp/stcap/node-out.sh", fmt.Sprintf("/tmp/stcap/d%c/x.sh", 'a'+i%26)))
	}
	for d, x := range p.Dims {
		if len(x.Values) > 4 || len(x.Aliases) > 4 {
			t.Errorf("%s keeps %d values", d, len(x.Values))
		}
	}
	w := p.Dims[DimWrite]
	if w.Overflow == 0 {
		t.Fatal("no overflow counted")
	}
	p.Arm(traceT0)
	if p.DimArmed(DimWrite) {
		t.Error("a dimension over its cap is armed")
	}
}

func TestExtractAttackGraph(t *testing.T) {
	b := Extract(e2eGraph(t), nil)
	want := map[Dimension]string{
		DimExe:      "/usr/bin/nohup",
		DimExec:     "/usr/bin/setsid → /usr/bin/sh",
		DimEndpoint: "external 10.66.0.2:4444",
		DimArgv:     "curl -s -m N telnet://N.N.N.N:N",
		DimWrite:    "/tmp/photos/shot-N.jpg",
	}
	for d, v := range want {
		found := false
		for _, it := range b.Dims[d] {
			found = found || it.Value == v
		}
		if !found {
			t.Errorf("%s lacks %q", d, v)
		}
	}
	if b.Counts["invocation executions"] != 11 {
		t.Errorf("executions %d, want 11", b.Counts["invocation executions"])
	}
}

// A pair whose parent image may be in a lost chunk is no evidence.
func TestExecPairNeedsKnownParent(t *testing.T) {
	inv := invocations(traceGraphs(t, "attach.strace", fn))[0]
	b := Extract(inv, nil)
	if len(b.Dims[DimExec]) != 1 || b.Dims[DimExec][0].Value != "(attached) → /tmp/stcap/node-out.sh" {
		t.Fatalf("exec %+v", b.Dims[DimExec])
	}
	gapped := cloneGraph(inv)
	gapped.Gaps = []provenance.Gap{{Stream: "s", From: 0, To: 0}}
	b = Extract(gapped, nil)
	if len(b.Dims[DimExec]) != 0 || len(b.Dims[DimExe]) != 1 {
		t.Errorf("graph with a gap: exec %+v, exe %+v", b.Dims[DimExec], b.Dims[DimExe])
	}
}

// TestCountsSurviveCompaction: a graph that had to be compacted for the
// queue (2,000 files written by one shell) keeps its per-graph counters:
// folded nodes count as what they stand for.
func TestCountsSurviveCompaction(t *testing.T) {
	g := provenance.Graph{Version: provenance.SchemaVersion, ID: "g1", Function: fn, Window: provenance.WindowInvocation, CallID: "c1",
		Start: time.Unix(1, 0), End: time.Unix(2, 0)}
	g.Nodes = append(g.Nodes, provenance.Node{ID: 0, Kind: provenance.NodeProcess, PID: 10, Exe: "/usr/bin/sh", Label: "sh -c x"})
	for i := 1; i <= 2000; i++ {
		p := fmt.Sprintf("/tmp/bulk/w%d", i)
		g.Nodes = append(g.Nodes, provenance.Node{ID: i, Kind: provenance.NodeFile, Label: p, Path: p, Class: provenance.ClassTmp, Written: true})
		g.Edges = append(g.Edges, provenance.Edge{Src: 0, Dst: i, Kind: provenance.EdgeWrite, Count: 1})
	}
	before := Extract(&g, nil).Counts
	if err := provenance.Compact(&g, provenance.CompactOptions{MaxBytes: 256000}); err != nil {
		t.Fatal(err)
	}
	if g.Compacted == nil || len(g.Nodes) > 100 {
		t.Fatalf("not compacted: %d nodes", len(g.Nodes))
	}
	after := Extract(&g, nil).Counts
	for _, k := range []string{"invocation files", "invocation files written", "invocation processes"} {
		if before[k] != after[k] || before[k] == 0 {
			t.Errorf("%s: %d before compaction, %d after", k, before[k], after[k])
		}
	}
}

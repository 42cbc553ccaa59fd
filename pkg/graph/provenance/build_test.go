package provenance

import (
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func hdr(kind chunk.Kind, stream string, seq uint64) chunk.Header {
	return chunk.Header{Node: "n1", Function: "authorize-cc", Container: "c1", PID: 100,
		Kind: kind, Stream: stream, Seq: seq, Start: t0, End: t0.Add(time.Second)}
}

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// sc is a syscall event of pid at ms, completed by f.
func sc(ms, pid int, name string, f func(*event.Event)) event.Event {
	e := event.Event{Kind: event.KindSyscall, Time: at(ms), PID: pid, Syscall: name}
	f(&e)
	return e
}

const (
	reqLocal  = "10.62.3.2:8080"
	reqRemote = "10.62.3.1:41000"
)

// downloadAndExec is the event sequence of a Node.js handler that fetches a
// payload, writes it into its directory, makes it executable and runs it.
func downloadAndExec(call string, base int) []event.Event {
	step := func(ms int, pid int, name string, f func(*event.Event)) event.Event {
		return sc(base+ms, pid, name, f)
	}
	return []event.Event{
		// 101 is a thread of 100 (the runtime's I/O thread).
		step(0, 100, "clone", func(e *event.Event) { e.Ret, e.Thread = 101, true }),
		step(0, 100, "read", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, reqRemote, 300, call
		}),
		step(1, 101, "connect", func(e *event.Event) { e.Proto, e.Local, e.Remote = "TCP", "10.62.3.2:50000", "10.66.0.2:80" }),
		step(2, 101, "recvfrom", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes = "TCP", "10.62.3.2:50000", "10.66.0.2:80", 512
		}),
		step(3, 100, "openat", func(e *event.Event) { e.Path = "/home/app/p.sh"; e.Ret = 20 }),
		step(4, 100, "write", func(e *event.Event) { e.Path = "/home/app/p.sh"; e.Bytes = 512 }),
		step(5, 100, "chmod", func(e *event.Event) { e.Path = "/home/app/p.sh" }),
		step(6, 100, "clone", func(e *event.Event) { e.Ret = 200 }),
		step(7, 200, "execve", func(e *event.Event) { e.Path = "/home/app/p.sh"; e.Argv = []string{"/home/app/p.sh"} }),
		step(8, 100, "writev", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes = "TCP", reqLocal, reqRemote, 100
		}),
	}
}

func TestApplyInvocationChain(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "s1", 0)
	st := NewState(h)
	evs := downloadAndExec("call-1", 10)
	graphs, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	var inv *Graph
	for i := range graphs {
		if graphs[i].Window == WindowInvocation {
			inv = &graphs[i]
		}
	}
	if inv == nil {
		t.Fatalf("no invocation graph among %d graphs", len(graphs))
	}
	if err := inv.Validate(); err != nil {
		t.Fatal(err)
	}
	if inv.CallID != "call-1" {
		t.Errorf("call id %q", inv.CallID)
	}
	has := func(src, kind, dst string) bool {
		for _, e := range inv.Edges {
			if strings.Contains(inv.Nodes[e.Src].Label, src) && string(e.Kind) == kind && strings.Contains(inv.Nodes[e.Dst].Label, dst) {
				return true
			}
		}
		return false
	}
	for _, want := range [][3]string{
		{"attached process", "connect", "10.66.0.2:80"},
		{"10.66.0.2:80", "recv", "attached process"},
		{"attached process", "write", "$FUNC/p.sh"},
		{"attached process", "chmod", "$FUNC/p.sh"},
		{"attached process", "fork", "attached process"},
		{"$FUNC/p.sh", "execve", "/home/app/p.sh"},
		{"10.62.3.1:*", "recv", "attached process"},
	} {
		if !has(want[0], want[1], want[2]) {
			t.Errorf("missing edge %s -%s-> %s", want[0], want[1], want[2])
		}
	}
	for _, n := range inv.Nodes {
		if n.Addr == "10.66.0.2:80" && n.Class != ClassExternal {
			t.Errorf("attacker endpoint class %s, want external", n.Class)
		}
	}
	if len(st.Calls) != 0 {
		t.Errorf("%d invocations still open after the response", len(st.Calls))
	}
	if len(inv.Chunks) != 1 || inv.Chunks[0].Stream != "s1" {
		t.Errorf("chunks %+v", inv.Chunks)
	}
}

func TestApplySpansChunksAndBackground(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	evs := downloadAndExec("call-2", 0)
	h0 := hdr(chunk.KindStrace, "s1", 0)
	st := NewState(h0)
	// The first chunk ends before the response: nothing is finished yet.
	g, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h0, Events: evs[:6]})
	if err != nil || len(g) != 0 {
		t.Fatalf("first chunk: %d graphs, err %v", len(g), err)
	}
	// The queue redelivers chunk 0: ignored.
	if g, _ := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h0, Events: evs[:6]}); len(g) != 0 || st.Duplicates != 1 {
		t.Fatalf("redelivery: %d graphs, %d duplicates", len(g), st.Duplicates)
	}
	// Chunk 1 is lost; chunk 2 carries the rest and a background action of
	// the payload after the response.
	h2 := hdr(chunk.KindStrace, "s1", 2)
	rest := append(evs[6:], event.Event{Kind: event.KindSyscall, Time: at(500), PID: 200, Syscall: "connect",
		Proto: "TCP", Local: "10.62.3.2:50002", Remote: "10.66.0.2:4444"})
	g, err = b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h2, Events: rest})
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 2 {
		t.Fatalf("got %d graphs, want invocation and background", len(g))
	}
	inv, bg := g[0], g[1]
	if inv.Window != WindowInvocation || bg.Window != WindowBackground {
		t.Fatalf("windows %s, %s", inv.Window, bg.Window)
	}
	if len(inv.Gaps) != 1 || inv.Gaps[0].From != 1 || inv.Gaps[0].To != 1 {
		t.Errorf("gaps %+v, want chunk 1 missing", inv.Gaps)
	}
	if len(inv.Chunks) != 2 {
		t.Errorf("invocation built from %d chunks, want 2", len(inv.Chunks))
	}
	found := false
	for _, n := range bg.Nodes {
		if n.Addr == "10.66.0.2:4444" {
			found = true
		}
	}
	if !found {
		t.Errorf("background graph lacks the payload's connection: %+v", bg.Nodes)
	}
	// The late chunk 1 fills the gap and is applied, once.
	h1 := hdr(chunk.KindStrace, "s1", 1)
	b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h1})
	b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h1})
	if st.Duplicates != 2 || len(st.Streams["s1"].Gaps) != 0 {
		t.Errorf("late chunk: duplicates %d gaps %+v", st.Duplicates, st.Streams["s1"].Gaps)
	}
}

func TestApplyRejects(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "s1", 0)
	st := NewState(h)
	if _, err := b.Apply(st, event.Batch{Version: 99, Chunk: h}); err == nil {
		t.Error("wrong version accepted")
	}
	other := h
	other.Container = "c2"
	if _, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: other}); err == nil {
		t.Error("batch of another container accepted")
	}
}

func TestClassifier(t *testing.T) {
	c := DefaultClassifier()
	for _, tc := range []struct {
		in    string
		class PathClass
		label string
	}{
		{"/home/app/index.js", ClassFuncDir, "$FUNC/index.js"},
		{"/tmp/faasmon-stack/run/hello-3f2a/handler.js", ClassFuncDir, "$FUNC/handler.js"},
		{"/tmp/p.sh", ClassTmp, "/tmp/p.sh"},
		{"/proc/1234/status", ClassProc, "/proc/N/status"},
		{"/var/openfaas/secrets/db-password", ClassSecrets, "/var/openfaas/secrets/db-password"},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", ClassSysLib, "/usr/lib/x86_64-linux-gnu/libc.so.6"},
		{"/usr/bin/curl", ClassSysBin, "/usr/bin/curl"},
		{"/etc/hosts (deleted)", ClassEtc, "/etc/hosts"},
		{"node_modules/x.js", ClassFuncDir, "$FUNC/node_modules/x.js"},
	} {
		class, label := c.File(tc.in)
		if class != tc.class || label != tc.label {
			t.Errorf("File(%q) = %s %q, want %s %q", tc.in, class, label, tc.class, tc.label)
		}
	}
	for _, tc := range []struct {
		in    string
		class PathClass
		label string
	}{
		{"10.62.1.1:8080", ClassInternal, "10.62.1.1:8080"},
		{"10.62.1.1:45123", ClassInternal, "10.62.1.1:*"},
		{"10.66.0.2:4444", ClassExternal, "10.66.0.2:4444"},
		{"127.0.0.1:53", ClassLoopback, "127.0.0.1:53"},
		{"[::1]:80", ClassLoopback, "[::1]:80"},
		{"[::ffff:10.62.6.1]:41000", ClassInternal, "10.62.6.1:*"},
		{"garbage", ClassOther, "garbage"},
	} {
		class, label := c.Addr(tc.in)
		if class != tc.class || label != tc.label {
			t.Errorf("Addr(%q) = %s %q, want %s %q", tc.in, class, label, tc.class, tc.label)
		}
	}
}

func TestFileStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b := Builder{Class: DefaultClassifier()}
	evs := downloadAndExec("call-3", 0)
	h0 := hdr(chunk.KindStrace, "s1", 0)
	apply := func(h chunk.Header, evs []event.Event) (out []Graph) {
		err := FileStore{Dir: dir}.Update(StateKey(h), func(st *State) (*State, error) {
			if st == nil {
				st = NewState(h)
			}
			g, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
			out = g
			return st, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if g := apply(h0, evs[:5]); len(g) != 0 {
		t.Fatalf("%d graphs from half an invocation", len(g))
	}
	// A new FileStore value stands for a restarted function process.
	g := apply(hdr(chunk.KindStrace, "s1", 1), evs[5:])
	if len(g) != 1 || g[0].CallID != "call-3" || len(g[0].Chunks) != 2 {
		t.Fatalf("after restart: %+v", g)
	}
	if len(g[0].Gaps) != 0 {
		t.Errorf("gaps %+v", g[0].Gaps)
	}
}

func TestDOTQuotesHostileLabels(t *testing.T) {
	g := &Graph{Version: SchemaVersion, Nodes: []Node{{ID: 0, Kind: NodeFile, Label: "/tmp/\"];evil\n\\x"}}}
	var sb strings.Builder
	if err := DOT(&sb, g, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sb.String(), `"];evil`) && !strings.Contains(sb.String(), `\"];evil`) {
		t.Errorf("label not escaped: %s", sb.String())
	}
}

// A read cut in two by a chunk boundary: the unfinished half (flushed with
// an unknown result) names the socket, the resumed half in the next chunk
// carries the data and the X-Call-Id. The invocation must still know its
// connection, and a file write must not be taken for the response.
func TestApplyReadSplitAcrossChunks(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h0 := hdr(chunk.KindStrace, "s1", 0)
	st := NewState(h0)
	first := []event.Event{{Kind: event.KindSyscall, Time: at(0), PID: 100, Syscall: "read", Errno: "?",
		Proto: "TCP", Local: reqLocal, Remote: reqRemote}}
	if g, _ := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h0, Events: first}); len(g) != 0 {
		t.Fatalf("half a read made %d graphs", len(g))
	}
	second := []event.Event{
		{Kind: event.KindSyscall, Time: at(1), PID: 100, Syscall: "read", Bytes: 300, CallID: "call-9"},
		{Kind: event.KindSyscall, Time: at(2), PID: 100, Syscall: "write", Path: "/tmp/photo.jpg", Bytes: 10},
		{Kind: event.KindSyscall, Time: at(3), PID: 100, Syscall: "connect", Proto: "TCP", Local: "10.62.3.2:50000", Remote: "10.65.0.2:80"},
		{Kind: event.KindSyscall, Time: at(4), PID: 100, Syscall: "writev", Proto: "TCP", Local: reqLocal, Remote: reqRemote, Bytes: 90},
	}
	g, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: hdr(chunk.KindStrace, "s1", 1), Events: second})
	if err != nil || len(g) != 1 {
		t.Fatalf("%d graphs, err %v", len(g), err)
	}
	kinds := map[EdgeKind]bool{}
	for _, e := range g[0].Edges {
		kinds[e.Kind] = true
	}
	for _, k := range []EdgeKind{EdgeRecv, EdgeWrite, EdgeConnect, EdgeSend} {
		if !kinds[k] {
			t.Errorf("invocation lacks a %s edge: %+v", k, g[0].Edges)
		}
	}
}

// Threads that ran before strace attached arrive in the chunk header; their
// syscalls belong to their process, not to "attached process" nodes of
// their own. A header's stale thread id reused by a later fork is a process.
func TestApplyFoldsPreAttachThreads(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "s1", 0)
	h.Threads = map[int]int{105: 100, 106: 100}
	st := NewState(h)
	evs := []event.Event{
		sc(0, 105, "write", func(e *event.Event) { e.Path, e.Bytes = "pipe:[77]", 8 }),
		sc(1, 100, "read", func(e *event.Event) { e.Path, e.Bytes = "pipe:[77]", 8 }),
		sc(2, 106, "write", func(e *event.Event) { e.Path, e.Bytes = "pipe:[77]", 8 }),
	}
	g, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	h.Seq, h.Threads = 1, map[int]int{105: 100} // a later chunk repeats the list
	exit := event.Event{Kind: event.KindExit, Time: at(3), PID: 106}
	fork := sc(4, 100, "clone", func(e *event.Event) { e.Ret = 106 })
	more, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: []event.Event{exit, fork}})
	if err != nil {
		t.Fatal(err)
	}
	g = append(g, more...)
	procs := map[int]bool{}
	for _, gr := range g {
		for _, n := range gr.Nodes {
			if n.Kind == NodeProcess {
				procs[n.PID] = true
			}
		}
	}
	if procs[105] || !procs[100] || !procs[106] {
		t.Errorf("process nodes %v: want 100, and 106 only as the forked child", procs)
	}
	if st.pid(106) != 106 {
		t.Errorf("reused id 106 still folds into %d", st.pid(106))
	}
}

// Two requests served concurrently by one process: each response ends its
// own invocation, so both finish in the same chunk, each with its own
// connection (before, call-a's response was booked to call-b and call-a
// waited for MaxOpenFor).
func TestApplyConcurrentCallsInOneProcess(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "s1", 0)
	st := NewState(h)
	io := func(ms int, name, remote, call string) event.Event {
		return event.Event{Kind: event.KindSyscall, Time: at(ms), PID: 100, Syscall: name, Proto: "TCP",
			Local: reqLocal, Remote: remote, Bytes: 100, CallID: call}
	}
	const connA, connB = "10.62.3.1:41000", "10.62.3.1:41001"
	evs := []event.Event{
		io(0, "read", connA, "call-a"),
		io(1, "read", connB, "call-b"),
		{Kind: event.KindSyscall, Time: at(2), PID: 100, Syscall: "openat", Path: "/tmp/catalog.json", Ret: 20},
		io(3, "writev", connA, ""), // call-a's response, while call-b was read last
		io(4, "writev", connB, ""),
	}
	g, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, gr := range g {
		if gr.Window != WindowInvocation {
			continue
		}
		for _, n := range gr.Nodes {
			if n.Kind == NodeSocket {
				got[gr.CallID] = append(got[gr.CallID], n.Label)
			}
		}
	}
	// (Labels mask the client's ephemeral port: both read "10.62.3.1:*".)
	if len(got) != 2 || len(got["call-a"]) != 1 || len(got["call-b"]) != 1 {
		t.Errorf("invocation graphs and their sockets: %v; want call-a and call-b finished, one connection each", got)
	}
}

// strace prints a clone that the child's output interrupted in two halves
// and the parser emits it at its "<... resumed>" half, after the child's
// first syscalls (seen in the lab: photo-receive's `sh convert-sim.sh`
// execve came before its parent's clone). The child still belongs to its
// parent's invocation and keeps its new image.
func TestApplyChildBeforeItsClone(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "s1", 0)
	st := NewState(h)
	evs := []event.Event{
		sc(0, 100, "read", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, reqRemote, 300, "call-1"
		}),
		sc(2, 200, "execve", func(e *event.Event) {
			e.Path, e.Argv = "/usr/bin/sh", []string{"sh", "/home/app/function/convert-sim.sh"}
		}),
		sc(3, 200, "openat", func(e *event.Event) { e.Path = "/tmp/photos/a.jpg"; e.Ret = 3 }),
		sc(1, 100, "clone", func(e *event.Event) { e.Ret = 200 }), // started at 1 ms, resumed here
		sc(4, 100, "writev", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes = "TCP", reqLocal, reqRemote, 100
		}),
	}
	g, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 1 || g[0].Window != WindowInvocation {
		for _, gr := range g {
			t.Logf("graph %s (%s): %d nodes", gr.ID, gr.Window, len(gr.Nodes))
		}
		t.Fatalf("got %d graphs, want the invocation alone", len(g))
	}
	inv := g[0]
	has := func(src, kind, dst string) bool {
		for _, e := range inv.Edges {
			if inv.Nodes[e.Src].Label == src && string(e.Kind) == kind && inv.Nodes[e.Dst].Label == dst {
				return true
			}
		}
		return false
	}
	const child = "sh /home/app/function/convert-sim.sh"
	for _, want := range [][3]string{
		{"attached process", "fork", "attached process"},
		{"/usr/bin/sh", "execve", child},
		{child, "open", "/tmp/photos/a.jpg"},
	} {
		if !has(want[0], want[1], want[2]) {
			t.Errorf("missing edge %s -%s-> %s", want[0], want[1], want[2])
		}
	}
	if p := st.Procs[200]; p == nil || p.Exe != "/usr/bin/sh" {
		t.Errorf("child state %+v: the clone overwrote its new image", p)
	}
}

// TestAdmitForgedGaps reproduces issue 14's blinding: 65 forged chunks
// one slot apart fill the stream's gap list, then one jumps ahead. Every
// real chunk that then arrives late into a gap must still be applied once
// (and a redelivery of it refused); a chunk claiming to be far ahead is
// refused; one far behind is counted stale.
func TestAdmitForgedGaps(t *testing.T) {
	st := NewState(hdr(chunk.KindStrace, "s1", 0))
	admit := func(seq uint64) bool { return st.admit(hdr(chunk.KindStrace, "s1", seq)) }
	for i := uint64(0); i < 65; i++ {
		if !admit(2 * i) {
			t.Fatalf("forged chunk %d refused", 2*i)
		}
	}
	if !admit(400) {
		t.Fatal("jump refused")
	}
	applied := 0
	for seq := uint64(1); seq < 400; seq++ {
		if seq < 130 && seq%2 == 0 {
			if admit(seq) {
				t.Fatalf("chunk %d applied twice", seq)
			}
			continue
		}
		if admit(seq) {
			applied++
		}
		if admit(seq) {
			t.Fatalf("redelivered chunk %d applied twice", seq)
		}
	}
	if want := 399 - 64; applied != want {
		t.Fatalf("%d late real chunks applied, want %d", applied, want)
	}
	if admit(400 + maxSeqJump + 2) {
		t.Fatal("a chunk far ahead of the stream was applied")
	}
	if st.Refused != 1 {
		t.Fatalf("refused %d, want 1", st.Refused)
	}
	for seq := uint64(401); seq < 401+seqWindow+10; seq++ {
		admit(seq)
	}
	if admit(3) || st.Stale != 1 {
		t.Fatalf("chunk far behind: stale %d", st.Stale)
	}
}

// TestApplyCrashedHandlerSealsAtOnce: the process that read the request
// exits without a response; the invocation's graph comes out with that
// batch, not two minutes later. A child's exit does not end it.
func TestApplyCrashedHandlerSealsAtOnce(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "s1", 0)
	st := NewState(h)
	evs := []event.Event{
		sc(0, 100, "read", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, reqRemote, 300, "crash-1"
		}),
		sc(1, 100, "clone", func(e *event.Event) { e.Ret = 200 }),
		sc(2, 200, "execve", func(e *event.Event) { e.Path = "/bin/sh"; e.Argv = []string{"sh"} }),
		{Kind: event.KindExit, Time: at(3), PID: 200},
	}
	gs, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Window == WindowInvocation {
			t.Fatalf("a child's exit sealed the invocation")
		}
	}
	h1 := hdr(chunk.KindStrace, "s1", 1)
	gs, err = b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h1,
		Events: []event.Event{{Kind: event.KindExit, Time: at(5), PID: 100, Signal: "SIGSEGV"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].CallID != "crash-1" {
		t.Fatalf("after the handler's exit got %d graphs %+v, want the invocation", len(gs), gs)
	}
}

// TestSealJoinsRequestLines: an invocation's graph carries its own request
// line and the function's outbound ones from the pcap stream, not another
// call's, nor a health probe's.
func TestSealJoinsRequestLines(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	st := NewState(hdr(chunk.KindStrace, "s1", 0))
	pc := hdr(chunk.KindPcap, "p1", 0)
	http := func(ms int, call, method, path string) event.Event {
		return event.Event{Kind: event.KindHTTP, Time: at(ms), HTTP: &event.HTTPRequest{Src: "10.62.3.1:41000", Dst: reqLocal, Method: method, Path: path, CallID: call}}
	}
	out := event.Event{Kind: event.KindHTTP, Time: at(2), HTTP: &event.HTTPRequest{Src: "10.62.3.2:50000", Dst: "10.65.0.2:80", Method: "GET", Path: "/rules/velocity-v2.js"}}
	flow := event.Event{Kind: event.KindFlow, Time: at(2), Flow: &event.Flow{Proto: "TCP", Src: "10.62.3.2:50000", Dst: "10.65.0.2:80", First: at(2), Last: at(3), Outbound: true, SawSYN: true}}
	probe := http(3, "", "GET", "/") // the platform's health probe: inbound, no call id
	if _, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: pc, Events: []event.Event{
		http(0, "c1", "POST", "/"), http(1, "other", "GET", "/x"), out, flow, probe,
	}}); err != nil {
		t.Fatal(err)
	}
	gs, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: hdr(chunk.KindStrace, "s1", 0), Events: []event.Event{
		sc(0, 100, "read", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, reqRemote, 300, "c1"
		}),
		sc(5, 100, "writev", func(e *event.Event) { e.Proto, e.Local, e.Remote, e.Bytes = "TCP", reqLocal, reqRemote, 100 }),
	}})
	if err != nil || len(gs) != 1 {
		t.Fatalf("%d graphs, %v", len(gs), err)
	}
	want := []Request{{Method: "POST", Path: "/"}, {Method: "GET", Path: "/rules/velocity-v2.js", Outbound: true}}
	if len(gs[0].Requests) != 2 || gs[0].Requests[0] != want[0] || gs[0].Requests[1] != want[1] {
		t.Fatalf("requests %+v, want %+v", gs[0].Requests, want)
	}
}

// TestStartupExecs: a container the sensor saw from its creation (the eBPF
// sensor following the pods' cgroup: chunk.Header.Born) begins with its
// runtime setting it up (setns, mounts) and its server starting, which
// strace, attached later, never sees: until its first request, what the
// container's own processes do is kept out of the graphs (their lineage
// only), so that graphs, profiles and invariants do not depend on the
// sensor. A process entering from outside (kubectl exec) is still seen,
// everything after the first request is, and nothing changes for a
// container the sensor attached to later.
func TestStartupExecs(t *testing.T) {
	exec := func(ms, pid int, path string) event.Event {
		return sc(ms, pid, "execve", func(e *event.Event) { e.Path = path; e.Argv = []string{path} })
	}
	evs := []event.Event{
		exec(0, 100, "/usr/sbin/ip"), // the runtime setting up
		sc(1, 100, "setns", func(e *event.Event) { e.Flags = "CLONE_NEWNET" }), // …
		exec(2, 100, "/usr/bin/node"),                                          // the server starting
		sc(3, 100, "clone", func(e *event.Event) { e.Ret = 101 }),
		exec(4, 101, "/usr/bin/uname"), // its start-up child
		exec(5, 300, "/usr/bin/curl"),  // kubectl exec: not the container's child
		sc(10, 100, "read", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, reqRemote, 300, "call-1"
		}),
		sc(11, 100, "clone", func(e *event.Event) { e.Ret = 102 }),
		exec(12, 102, "/usr/bin/sh"), // the handler's child, serving
		sc(13, 100, "writev", func(e *event.Event) { e.Proto, e.Local, e.Remote, e.Bytes = "TCP", reqLocal, reqRemote, 100 }),
	}
	for _, tc := range []struct {
		name  string
		born  bool
		lost  uint64          // X-Faasmon-Lost of the chunk
		execs map[string]bool // image → exec'd in the graphs
	}{
		// Records lost before the first request (a flood that expired a
		// new container's held records, the request among them): the
		// start is over, or nothing after it would be graphed.
		{"followed from creation, records lost", true, 5, map[string]bool{"/usr/sbin/ip": true, "/usr/bin/node": true, "/usr/bin/uname": true, "/usr/bin/curl": true, "/usr/bin/sh": true}},
		{"followed from creation", true, 0, map[string]bool{"/usr/sbin/ip": false, "/usr/bin/node": false, "/usr/bin/uname": false, "/usr/bin/curl": true, "/usr/bin/sh": true}},
		{"attached later", false, 0, map[string]bool{"/usr/sbin/ip": true, "/usr/bin/node": true, "/usr/bin/uname": true, "/usr/bin/curl": true, "/usr/bin/sh": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Builder{Class: DefaultClassifier()}
			h := hdr(chunk.KindStrace, "s1", 0) // the container's first process: 100
			h.Born, h.Lost = tc.born, tc.lost
			filtered := tc.born && tc.lost == 0 // the start kept out
			gs, err := b.Apply(NewState(h), batchOf(h, evs...))
			if err != nil {
				t.Fatal(err)
			}
			execs := map[string]bool{}
			setns := false
			for _, g := range gs {
				for _, e := range g.Edges {
					if e.Kind == EdgeExecve {
						execs[g.Nodes[e.Src].Label] = true
					}
				}
				for _, n := range g.Nodes {
					if n.Kind == NodeProcess && (strings.Contains(n.Label, "node") || strings.Contains(n.Label, "uname")) && filtered {
						t.Errorf("a start-up process is labelled %q, want attached process", n.Label)
					}
				}
				for _, a := range g.Acts {
					setns = setns || a.Syscall == "setns"
				}
			}
			for image, want := range tc.execs {
				if execs[image] != want {
					t.Errorf("exec of %s in the graphs: %v, want %v", image, execs[image], want)
				}
			}
			if setns == filtered {
				t.Errorf("the runtime's setns in a graph: %v, want %v", setns, !filtered)
			}
		})
	}
}

// TestChildExitsBeforeItsClone: a shell vforks cat, and the whole life of
// the child — exec, reads, exit — comes before the parent's vfork returns
// (the parent is suspended until the child execs, and scheduled again only
// after it exited). The order recorded through eBPF in a lab run, where
// the cat went to a background window the GNN flagged: it belongs to the
// invocation.
func TestChildExitsBeforeItsClone(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "s1", 0)
	evs := []event.Event{
		sc(10, 100, "read", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, reqRemote, 300, "call-1"
		}),
		sc(11, 100, "clone", func(e *event.Event) { e.Ret = 200 }),
		sc(12, 200, "execve", func(e *event.Event) { e.Path = "/usr/bin/sh"; e.Argv = []string{"sh"} }),
		sc(16, 300, "execve", func(e *event.Event) { e.Path = "/usr/bin/cat"; e.Argv = []string{"cat", "/tmp/photos/x.jpg"} }),
		sc(16, 300, "openat", func(e *event.Event) { e.Path = "/tmp/photos/x.jpg"; e.Ret = 3 }),
		{Kind: event.KindExit, Time: at(17), PID: 300},
		sc(17, 200, "vfork", func(e *event.Event) { e.Ret = 300 }),
		sc(23, 100, "writev", func(e *event.Event) { e.Proto, e.Local, e.Remote, e.Bytes = "TCP", reqLocal, reqRemote, 100 }),
		sc(30, 100, "write", func(e *event.Event) { e.Path = "/tmp/y"; e.Bytes = 1 }),
	}
	gs, err := b.Apply(NewState(h), batchOf(h, evs...))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		for _, e := range g.Edges {
			if e.Kind == EdgeExecve && strings.HasPrefix(g.Nodes[e.Dst].Label, "cat") && g.Window != WindowInvocation {
				t.Errorf("the child's exec is in %s window %s, want the invocation's", g.Window, g.ID)
			}
		}
	}
	var inv *Graph
	for i := range gs {
		if gs[i].CallID == "call-1" {
			inv = &gs[i]
		}
	}
	if inv == nil {
		t.Fatal("no invocation graph")
	}
	found := false
	for _, e := range inv.Edges {
		found = found || e.Kind == EdgeExecve && strings.HasPrefix(inv.Nodes[e.Dst].Label, "cat")
	}
	if !found {
		t.Error("the invocation graph lacks the child's exec")
	}
}

// TestVforkedChildAcrossBatches: a shell vforks 300, which forks 301 before
// the vfork returns; the batch ends there, and in the next one 301 execs wc
// and exits before the parent's vfork finally returns. The order recorded
// through eBPF in a lab run (the wc went to a background window the GNN
// flagged): 300 and its child belong to the invocation.
func TestVforkedChildAcrossBatches(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	st := NewState(hdr(chunk.KindStrace, "s1", 0))
	first := []event.Event{
		sc(10, 100, "read", func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, reqRemote, 300, "call-1"
		}),
		sc(11, 100, "clone", func(e *event.Event) { e.Ret = 200 }),
		sc(12, 200, "execve", func(e *event.Event) { e.Path = "/usr/bin/sh"; e.Argv = []string{"sh"} }),
		sc(13, 300, "clone", func(e *event.Event) { e.Ret = 301 }), // 300: vforked by 200, not returned yet
	}
	second := []event.Event{
		sc(20, 301, "execve", func(e *event.Event) { e.Path = "/usr/bin/wc"; e.Argv = []string{"wc", "-c"} }),
		sc(21, 301, "openat", func(e *event.Event) { e.Path = "/usr/lib/locale/C.utf8/LC_CTYPE"; e.Ret = 3 }),
		{Kind: event.KindExit, Time: at(22), PID: 301},
		sc(23, 200, "vfork", func(e *event.Event) { e.Ret = 300 }),
		sc(30, 100, "writev", func(e *event.Event) { e.Proto, e.Local, e.Remote, e.Bytes = "TCP", reqLocal, reqRemote, 100 }),
		sc(40, 100, "write", func(e *event.Event) { e.Path = "/tmp/y"; e.Bytes = 1 }),
	}
	var gs []Graph
	for i, evs := range [][]event.Event{first, second} {
		h := hdr(chunk.KindStrace, "s1", uint64(i))
		g, err := b.Apply(st, batchOf(h, evs...))
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g...)
	}
	found := false
	for _, g := range gs {
		for _, e := range g.Edges {
			if e.Kind != EdgeExecve || !strings.HasPrefix(g.Nodes[e.Dst].Label, "wc") {
				continue
			}
			if g.CallID != "call-1" {
				t.Errorf("wc's exec is in %s window %s, want call-1's", g.Window, g.ID)
			}
			found = true
		}
	}
	if !found {
		t.Error("no graph holds wc's exec")
	}
}

// A Node.js server reads two requests, then forks a pipeline for the
// first: the fork comes after the second read, so the child takes the
// second call. When the second call answers first, the pipeline is still
// running for the first: it must go on in the first call's graph, not in
// a background window (recorded in the lab through eBPF: photo-receive's
// conversion for one of two concurrent calls landed in a background
// window the GNN flagged as a process left running). Once every call it
// may belong to has answered, a process still acting is background.
func TestForkBetweenConcurrentCalls(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindStrace, "s1", 0)
	st := NewState(h)
	const connA, connB = "10.62.3.1:41000", "10.62.3.1:41001"
	io := func(ms int, name, remote, call string) event.Event {
		return sc(ms, 100, name, func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, remote, 100, call
		})
	}
	evs := []event.Event{
		io(0, "read", connA, "call-a"),
		io(1, "read", connB, "call-b"),
		sc(2, 100, "clone", func(e *event.Event) { e.Ret = 200 }), // call-a's pipeline
		sc(3, 200, "execve", func(e *event.Event) { e.Path = "/usr/bin/sh"; e.Argv = []string{"sh", "convert-sim.sh"} }),
		io(4, "writev", connB, ""), // call-b answers first
		sc(5, 200, "clone", func(e *event.Event) { e.Ret = 201 }),
		sc(6, 201, "execve", func(e *event.Event) { e.Path = "/usr/bin/cat"; e.Argv = []string{"cat", "/tmp/photos/a.jpg"} }),
		{Kind: event.KindExit, Time: at(7), PID: 201},
		io(8, "writev", connA, ""), // then call-a
		sc(9, 200, "openat", func(e *event.Event) { e.Path = "/tmp/left-running"; e.Ret = 3 }),
	}
	gs, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	gs = append(gs, b.finish(st, h)...)
	where := map[string]string{} // label prefix → window or call id
	for _, g := range gs {
		for _, e := range g.Edges {
			w := g.CallID
			if g.Window == WindowBackground {
				w = "background"
			}
			switch n := g.Nodes[e.Dst]; {
			case e.Kind == EdgeExecve && strings.HasPrefix(n.Label, "cat"):
				where["cat"] = w
			case n.Label == "/tmp/left-running":
				where["left-running"] = w
			}
		}
	}
	want := map[string]string{"cat": "call-a", "left-running": "background"}
	for k, v := range want {
		if where[k] != v {
			t.Errorf("%s went to %q, want %q (all: %v)", k, where[k], v, where)
		}
	}
}

// A Node.js server with two calls in flight forks each call's pipeline in
// the callback of that call's download: the download's connection, opened
// while the process acted for the call, says whose work follows (the lab
// through eBPF: the first call's pipeline was booked to the second,
// because the second request had been read last).
func TestForkFollowsTheCallsConnection(t *testing.T) {
	b := Builder{Class: DefaultClassifier()}
	h := hdr(chunk.KindEBPF, "s1", 0)
	st := NewState(h)
	const connA, connB, supplier = "10.62.3.1:41000", "10.62.3.1:41001", "10.65.0.2:80"
	in := func(ms int, name, remote, call string) event.Event {
		return sc(ms, 100, name, func(e *event.Event) {
			e.Proto, e.Local, e.Remote, e.Bytes, e.CallID, e.FD = "TCP", reqLocal, remote, 100, call, 20
		})
	}
	out := func(ms int, name string, fd int) event.Event {
		return sc(ms, 100, name, func(e *event.Event) {
			e.Proto, e.Remote, e.Bytes, e.FD = "TCP", supplier, 100, fd // no local: the eBPF sensor does not know it
			if name == "connect" {
				e.Bytes, e.Errno, e.Ret = 0, "EINPROGRESS", -1
			}
		})
	}
	exec := func(ms, pid int, argv ...string) event.Event {
		return sc(ms, pid, "execve", func(e *event.Event) { e.Path, e.Argv = "/usr/bin/"+argv[0], argv })
	}
	evs := []event.Event{
		in(0, "read", connA, "call-a"),
		out(1, "connect", 30),
		in(2, "read", connB, "call-b"),
		out(3, "connect", 31),
		out(4, "recvfrom", 30), // call-a's download
		sc(5, 100, "clone", func(e *event.Event) { e.Ret = 200 }),
		exec(6, 200, "sh", "convert-sim.sh", "a.jpg"),
		out(7, "recvfrom", 31), // call-b's download
		sc(8, 100, "clone", func(e *event.Event) { e.Ret = 300 }),
		exec(9, 300, "sh", "convert-sim.sh", "b.jpg"),
		in(10, "writev", connB, ""),
		sc(11, 200, "clone", func(e *event.Event) { e.Ret = 201 }),
		exec(12, 201, "cat", "a.jpg"),
		in(13, "writev", connA, ""),
	}
	gs, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	gs = append(gs, b.finish(st, h)...)
	got := map[string]string{} // exec'd command → call id or "background"
	for _, g := range gs {
		for _, e := range g.Edges {
			if e.Kind != EdgeExecve {
				continue
			}
			w := g.CallID
			if g.Window == WindowBackground {
				w = "background"
			}
			got[g.Nodes[e.Dst].Label] = w
		}
	}
	want := map[string]string{
		"sh convert-sim.sh a.jpg": "call-a",
		"sh convert-sim.sh b.jpg": "call-b",
		"cat a.jpg":               "call-a",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s went to %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

package ebpf_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/proctest"
	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/backend/backendtest"
	"github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
	stracebe "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
)

// parityWorkload does what a function does to files, processes and the
// network: read and fail to read files, fork and exec, connect, write a
// file, rename, chmod and remove it.
const parityWorkload = `read go
cd "$W"
cat "$DIR/readable" >/dev/null
cat "$DIR/missing" 2>/dev/null
/bin/true
exec 5<>/dev/tcp/127.0.0.1/$PORT
echo hi >a
mv a b
chmod 600 b
rm -f b
exit 0
`

// TestParityWithStrace traces one run of a workload with strace (the
// tracer's own arguments) and with the eBPF sensor at once, parses both
// through faasmon-parse's ingest.Chunk, folds each into a provenance graph
// and compares what the graphs are made of: the same node kinds, and the
// same (source kind, edge kind, destination kind) triples.
func TestParityWithStrace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	straceBin, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("no strace")
	}
	b := ebpf.New(ebpf.Config{})
	if _, err := b.Probe(); err != nil {
		t.Skipf("BPF refused: %v", err)
	}
	defer b.Close()
	root, err := ebpf.CgroupRoot("/proc")
	if err != nil {
		t.Skip(err)
	}
	cg := filepath.Join(root, fmt.Sprintf("faasmon-ebpf-parity-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	defer func() {
		for i := 0; i < 50 && os.Remove(cg) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}()
	dir := t.TempDir()
	w := filepath.Join(dir, "w")
	if err := os.Mkdir(w, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "readable"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	cmd := exec.Command("/bin/bash", "-c", parityWorkload)
	cmd.Env = append(os.Environ(), "DIR="+dir, "W="+w, "PORT="+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	in, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		// A container without a writable cgroup tree (CI): no place
		// to put the workload where the filter singles it out.
		t.Skipf("cannot move pid %d into a cgroup: %v", pid, err)
	}
	// The container's long-lived process: the workload is over before its
	// last records are decoded, and paths are resolved in the mount
	// namespace of a process still there. Moved in once started, before
	// the sensor attaches, so that its own start is not in the trace.
	anchor := exec.Command("sleep", "60")
	if err := anchor.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = anchor.Process.Kill(); _ = anchor.Wait() }()
	anchorPid := anchor.Process.Pid
	time.Sleep(200 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(anchorPid)), 0); err != nil {
		// A container without a writable cgroup tree (CI): no place
		// to put the workload where the filter singles it out.
		t.Skipf("cannot move pid %d into a cgroup: %v", anchorPid, err)
	}
	var st syscallStat
	if err := st.of(cg); err != nil {
		t.Fatal(err)
	}
	stream, err := b.AttachCgroup(t.Context(), st.ino, 0)
	if err != nil {
		t.Fatal(err)
	}
	stream.SetAnchor(anchorPid)
	// Decode while the workload runs, as the tracer does: an fd open
	// before the sensor attached is named from /proc while its process
	// lives.
	var (
		bodyMu   sync.Mutex
		ebpfBody bytes.Buffer
	)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			u, _, err := stream.Next()
			if err != nil {
				return
			}
			bodyMu.Lock()
			ebpfBody.Write(u.Data)
			bodyMu.Unlock()
		}
	}()
	var straceOut bytes.Buffer
	tracer := exec.Command(straceBin, stracebe.Args(pid)...)
	tracer.Stdout = &straceOut
	if err := tracer.Start(); err != nil {
		t.Fatal(err)
	}
	backendtest.WaitFor(t, "strace attached", 10*time.Second, func() bool { return proctest.Traced(pid) })
	_, _ = io.WriteString(in, "go\n")
	in.Close()
	_ = cmd.Wait()
	_ = tracer.Wait() // strace ends with its tracee
	// The workload's last record is its shell's exit_group: wait for it
	// to be decoded rather than for a fixed time (on a loaded machine the
	// reader lagged behind a fixed wait and the last commands were missing).
	last := []byte(fmt.Sprintf(`"pid":%d,"sc":"exit_group"`, pid))
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(ebpf.PollInterval) {
		bodyMu.Lock()
		done := bytes.Contains(ebpfBody.Bytes(), last)
		bodyMu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workload's exit_group (pid %d) not decoded within 20 s", pid)
		}
	}
	stream.Close()
	<-drained

	now := time.Now()
	hdr := func(k chunk.Kind) chunk.Header {
		return chunk.Header{Node: "n1", Function: "parity", Container: "c1", PID: pid, Kind: k,
			Stream: backend.StreamID("c1", k, now), Start: now, End: now}
	}
	graph := func(k chunk.Kind, body []byte) provenance.Graph {
		t.Helper()
		batch, err := ingest.Chunk(hdr(k), body)
		if err != nil {
			t.Fatalf("%s chunk: %v", k, err)
		}
		if batch.Unparsed > 0 {
			t.Errorf("%s: %d unparsed: %v", k, batch.Unparsed, batch.Errors)
		}
		bld := provenance.Builder{Class: provenance.DefaultClassifier()}
		gs, err := bld.Apply(provenance.NewState(batch.Chunk), batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(gs) != 1 {
			t.Fatalf("%s: %d graphs, want the one background graph", k, len(gs))
		}
		return gs[0]
	}
	gs := graph(chunk.KindStrace, straceOut.Bytes())
	ge := graph(ebpf.Kind, ebpfBody.Bytes())
	ks, ke := kinds(gs), kinds(ge)
	t.Logf("strace: %d nodes %d edges; ebpf: %d nodes %d edges", len(gs.Nodes), len(gs.Edges), len(ge.Nodes), len(ge.Edges))
	if strings.Join(ks, "\n") != strings.Join(ke, "\n") {
		t.Errorf("graphs differ in kinds:\nstrace only: %v\nebpf only:   %v", minus(ks, ke), minus(ke, ks))
	}
	if len(gs.Nodes) != len(ge.Nodes) || len(gs.Edges) != len(ge.Edges) {
		t.Errorf("strace graph %d nodes %d edges, ebpf graph %d nodes %d edges", len(gs.Nodes), len(gs.Edges), len(ge.Nodes), len(ge.Edges))
	}
	// Finer: the labelled edges (a process by its argv, a file by its
	// normalised path with symlinks resolved, an endpoint by its address).
	ls, le := labelled(gs), labelled(ge)
	if d1, d2 := minus(ls, le), minus(le, ls); len(d1)+len(d2) > 0 {
		t.Errorf("labelled edges differ:\nstrace only: %q\nebpf only:   %q", d1, d2)
	}
	t.Logf("labelled edges: %d strace, %d ebpf, %d in both", len(ls), len(le), len(ls)-len(minus(ls, le)))
}

// kinds lists a graph's node kinds and edge triples, sorted, unique.
func kinds(g provenance.Graph) []string {
	set := map[string]bool{}
	for _, n := range g.Nodes {
		set["node "+string(n.Kind)] = true
	}
	for _, e := range g.Edges {
		set[fmt.Sprintf("edge %s -%s-> %s", g.Nodes[e.Src].Kind, e.Kind, g.Nodes[e.Dst].Kind)] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// labelled lists "src -kind-> dst" by node labels, sorted, unique.
func labelled(g provenance.Graph) []string {
	set := map[string]bool{}
	for _, e := range g.Edges {
		set[fmt.Sprintf("%s -%s-> %s", g.Nodes[e.Src].Label, e.Kind, g.Nodes[e.Dst].Label)] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

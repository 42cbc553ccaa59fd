package provenance

import (
	"fmt"
	"testing"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
)

// The node cap is enforced where nodes are made: an invocation that touches
// more files than MaxNodes still yields one valid graph, with the files past
// the cap on an overflow node, the truncation recorded, and what came after
// the cap (here an exec of a file the container wrote, and an act) still in
// the graph.
func TestBuilderNodeCap(t *testing.T) {
	for _, c := range []struct {
		name  string
		files int
		trunc bool
	}{
		{"under the cap", MaxNodes / 2, false},
		{"over the cap", MaxNodes + 500, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := Builder{Class: DefaultClassifier()}
			h := hdr(chunk.KindStrace, "s1", 0)
			st := NewState(h)
			var evs []event.Event
			ms := 0
			add := func(pid int, name string, f func(*event.Event)) {
				ms++
				evs = append(evs, sc(ms, pid, name, f))
			}
			add(100, "read", func(e *event.Event) {
				e.Proto, e.Local, e.Remote, e.Bytes, e.CallID = "TCP", reqLocal, reqRemote, 300, "call-1"
			})
			add(100, "openat", func(e *event.Event) { e.Path, e.Flags = "/tmp/p.sh", "O_WRONLY|O_CREAT" })
			for i := 0; i < c.files; i++ {
				p := fmt.Sprintf("/tmp/w%d", i)
				add(100, "openat", func(e *event.Event) { e.Path, e.Flags = p, "O_WRONLY|O_CREAT|O_TRUNC" })
			}
			add(100, "openat", func(e *event.Event) { e.Path, e.Flags = "/tmp/late-written", "O_WRONLY|O_CREAT" })
			add(100, "clone", func(e *event.Event) { e.Ret = 200 })
			add(200, "execve", func(e *event.Event) { e.Path, e.Argv = "/tmp/p.sh", []string{"/tmp/p.sh"} })
			add(200, "execve", func(e *event.Event) { e.Path, e.Argv = "/tmp/never-written", []string{"x"} })
			add(200, "openat", func(e *event.Event) { e.Path, e.Errno = "/etc/shadow", "EACCES" })
			add(100, "writev", func(e *event.Event) { e.Proto, e.Local, e.Remote, e.Bytes = "TCP", reqLocal, reqRemote, 100 })
			graphs, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
			if err != nil {
				t.Fatal(err)
			}
			var g *Graph
			for i := range graphs {
				if graphs[i].Window == WindowInvocation {
					g = &graphs[i]
				}
			}
			if g == nil {
				t.Fatal("no invocation graph")
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			if len(g.Nodes) > MaxNodes {
				t.Fatalf("%d nodes, cap %d", len(g.Nodes), MaxNodes)
			}
			if got := len(g.Truncated) > 0; got != c.trunc {
				t.Fatalf("truncated %+v, want %v", g.Truncated, c.trunc)
			}
			if len(g.Acts) != 1 {
				t.Errorf("acts %+v: the refused open after the cap is lost", g.Acts)
			}
			// p.sh was made before the cap: its exec is drift, after it.
			var execWritten, execOverflowWritten bool
			for _, e := range g.Edges {
				if e.Kind != EdgeExecve {
					continue
				}
				n := g.Nodes[e.Src]
				if n.Label == "/tmp/p.sh" && n.Written {
					execWritten = true
				}
				if n.Label == OverflowLabel && n.Written {
					execOverflowWritten = true
				}
			}
			if !execWritten {
				t.Error("the exec of the written /tmp/p.sh is not in the graph")
			}
			if execOverflowWritten {
				t.Error("the overflow node is marked written: an exec landing on it looks like drift")
			}
			if !c.trunc {
				return
			}
			tr := g.Truncated[0]
			if tr.Reason != TruncNodeCap || tr.Limit != MaxNodes || tr.Nodes < c.files-MaxNodes {
				t.Errorf("truncation %+v, want node-cap at %d with at least %d nodes", tr, MaxNodes, c.files-MaxNodes)
			}
		})
	}
}

package function

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/classify/invariant"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// A graph over the queue's body limit is compacted before it is queued to
// classify, instead of being refused by the gateway and lost: an invocation
// that writes 2,000 files and then tries to read /etc/shadow fits, and still
// breaks the credential-store invariant.
func TestFitCompactsOverTheQueueLimit(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)
	h := chunk.Header{Node: "n", Function: "photo-receive", Container: "c", PID: 7, Kind: chunk.KindStrace, Stream: "s", Start: t0, End: t0}
	conn := func(e event.Event) event.Event {
		e.Kind, e.PID, e.Time, e.Proto, e.Local, e.Remote = event.KindSyscall, 7, t0, "TCP", "10.62.1.2:8080", "10.62.1.1:40000"
		return e
	}
	evs := []event.Event{conn(event.Event{Syscall: "read", Bytes: 100, CallID: "abc"})}
	for i := 0; i < 2000; i++ {
		p := fmt.Sprintf("/tmp/faasmon-e2e-%d", i)
		evs = append(evs, event.Event{Kind: event.KindSyscall, PID: 7, Time: t0, Syscall: "openat", Path: p, Flags: "O_WRONLY|O_CREAT|O_TRUNC"},
			event.Event{Kind: event.KindSyscall, PID: 7, Time: t0, Syscall: "write", Path: p, Bytes: 2})
	}
	evs = append(evs, event.Event{Kind: event.KindSyscall, PID: 7, Time: t0, Syscall: "openat", Path: "/etc/shadow", Errno: "EACCES"},
		conn(event.Event{Syscall: "write", Bytes: 50}))
	st := provenance.NewState(h)
	graphs, err := builder.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
	if err != nil || len(graphs) != 1 {
		t.Fatalf("%d graphs, %v", len(graphs), err)
	}
	g := &graphs[0]
	if b, _ := json.Marshal(g); len(b) <= chunk.MaxBytes {
		t.Fatalf("the graph is %d bytes, under the limit: the test tests nothing", len(b))
	}
	before := fitStats.Compacted.Load()
	fit(g)
	b, _ := json.Marshal(g)
	if len(b) > chunk.MaxBytes {
		t.Fatalf("after fit the graph is %d bytes, over %d", len(b), chunk.MaxBytes)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if g.Compacted == nil || fitStats.Compacted.Load() != before+1 {
		t.Errorf("compaction not recorded: %+v, count %d", g.Compacted, fitStats.Compacted.Load()-before)
	}
	if f := invariant.Check(g); len(f) != 1 || f[0].Rule != "credential-store-read" {
		t.Errorf("findings after fit: %+v", f)
	}
}

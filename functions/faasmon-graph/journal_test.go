package function

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/heartbeat"
	"github.com/faasmon/faasmon/pkg/hopauth/hoptest"
)

// journaled is the store as Handle's package sets it up: cached, batches
// journaled and replayed with the package's builder. A new value stands
// for a new process (an empty cache).
func journaled(dir string) provenance.FileStore { return newStore(dir, 64<<20) }

// TestJournalRestartForwardsOnce: batches answered 202 are journaled, not
// rewritten into the state, and a process killed at any point after an
// answer goes on, in a new process, from the journal: every graph is
// forwarded once (the replay forwards none again) and no batch is taken
// for a duplicate or lost.
func TestJournalRestartForwardsOnce(t *testing.T) {
	fnhttp.DefaultHop.Keys = hoptest.Source()
	oldNext, oldOutbox, oldStore := next, outbox, store
	defer func() { next, outbox, store = oldNext, oldOutbox, oldStore }()
	next = "faasmon-classify"
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	const n = 8
	for kill := 1; kill < n; kill++ {
		dir := t.TempDir()
		store = journaled(dir)
		nodes = heartbeat.Tracker{Dir: t.TempDir()}
		f := &forwarder{got: map[string]int{}}
		outbox = pending{Dir: filepath.Join(dir, "outbox"), Max: 100, Send: f.send}
		for i := 0; i < n; i++ {
			if i == kill {
				store = journaled(dir) // the new process
			}
			code, body := post(t, invocationBatch(t0.Add(time.Duration(i)*time.Second), uint64(i), fmt.Sprintf("call-%d", i)))
			if code != 202 || strings.Contains(body, `"duplicate":true`) {
				t.Fatalf("kill at %d, batch %d: %d %s", kill, i, code, body)
			}
		}
		for i := 0; i < n; i++ {
			if id := fmt.Sprintf("openfaas-fn.f.c/call-%d", i); f.got[id] != 1 {
				t.Errorf("kill at %d: %s forwarded %d times (%v)", kill, id, f.got[id], f.got)
			}
		}
		if len(f.got) != n {
			t.Errorf("kill at %d: %d graphs forwarded, want %d", kill, len(f.got), n)
		}
		// The last batches went to the journal.
		ents, _ := os.ReadDir(dir)
		journals := 0
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".journal") {
				journals++
			}
		}
		if kill < n-1 && journals != 1 {
			t.Errorf("kill at %d: %d journals in the state dir", kill, journals)
		}
	}
}

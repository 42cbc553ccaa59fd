package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faasmon/faasmon/pkg/envconf"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/heartbeat"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/invoke"
	natsoutbox "github.com/faasmon/faasmon/pkg/outbox"
	"github.com/faasmon/faasmon/pkg/verdict"
)

const name = "faasmon-graph"

// maxBatchBytes bounds one batch: a 256 KB chunk gives at most a few MB of
// events as JSON.
const maxBatchBytes = 16 << 20

// config is faasmon-graph's whole configuration (stack.yml's environment).
type config struct {
	StateDir   string // state_dir: the open graphs between batches
	ArchiveDir string // archive_dir: every finished graph; empty: none
	ArchiveMax int    // archive_max: graphs the archive keeps (positive)
	// Next is the stage that gets finished graphs (faasmon_next); empty
	// answers them instead.
	Next string
	// Callback is where the queue posts Next's answer (faasmon_callback).
	Callback string
	// FuncDirs are extra function directories (func_dirs, comma-separated)
	// on top of provenance.DefaultClassifier's.
	FuncDirs []string
	// StateMaxBytes bounds one container's stored state (state_max_bytes);
	// a bigger one is discarded and reported as a blind spot.
	StateMaxBytes int
	// StateKeep is how long the state of a container that sends nothing
	// more is kept (state_keep_hours): then it is collected with its lock.
	StateKeep time.Duration
	// OutboxMax bounds the graphs waiting to be forwarded (outbox_max):
	// they live in <state_dir>/outbox.
	OutboxMax int
	// SilenceAfter is how long a node's tracer may go unheard before a
	// blind-spot alert (silence_after_seconds); Alert is the function that
	// gets it (faasmon_alert; empty: logged only).
	SilenceAfter time.Duration
	Alert        string
}

func loadConfig(env envconf.Lookup) config {
	c := config{
		StateDir:   env.String("state_dir", "/tmp/faasmon-graph-state"),
		ArchiveDir: env.String("archive_dir", ""),
		ArchiveMax: env.PositiveInt("archive_max", 200000),
		Next:       env.String("faasmon_next", "faasmon-classify"),
		Callback:   env.String("faasmon_callback", ""),

		StateMaxBytes: env.PositiveInt("state_max_bytes", 64<<20),
		StateKeep:     time.Duration(env.PositiveInt("state_keep_hours", 72)) * time.Hour,
		OutboxMax:     env.PositiveInt("outbox_max", 10000),
		SilenceAfter:  time.Duration(env.PositiveInt("silence_after_seconds", 60)) * time.Second,
		Alert:         env.String("faasmon_alert", "faasmon-alert"),
	}
	dirs, _ := env("func_dirs")
	for _, d := range strings.Split(dirs, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.FuncDirs = append(c.FuncDirs, d)
		}
	}
	return c
}

var (
	cfg   = loadConfig(os.LookupEnv)
	store = newStore(cfg.StateDir, cfg.StateMaxBytes)
	// outbox holds the finished graphs until classify's queue took them
	// (pending.go); nodes is the silence watch's record of when each
	// node's tracer was last heard of (silence.go).
	outbox     = pending{Dir: filepath.Join(cfg.StateDir, "outbox"), Max: cfg.OutboxMax, Send: sendGraph}
	nodes      = heartbeat.Tracker{Dir: filepath.Join(cfg.StateDir, "nodes")}
	archiveDir = cfg.ArchiveDir
	// archived counts archive writes; every archivePruneEvery-th prunes the
	// archive to its newest archiveMax graphs (archive_max).
	archived   atomic.Uint64
	archiveMax = cfg.ArchiveMax
	next       = cfg.Next
	// callback is where the queue posts faasmon-classify's answer.
	callback   = cfg.Callback
	builder    = provenance.Builder{Class: classifier(cfg.FuncDirs)}
	clientOnce sync.Once
	client     *invoke.Client
	clientErr  error
)

// newStore is the containers' state store: it journals each batch (the
// request body, as it came) instead of rewriting the container's whole
// state (provenance/journal.go); replaying the journal in a new process
// rebuilds the state with the same builder and drops the graphs, which
// are in the outbox already.
func newStore(dir string, maxBytes int) provenance.FileStore {
	return provenance.FileStore{Dir: dir, MaxBytes: int64(maxBytes), Cache: &provenance.StateCache{},
		Replay: func(st *provenance.State, rec []byte) error { return provenance.ReplayBatch(builder)(st, rec) }}
}

// Handle serves the function.
func Handle(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		fnhttp.Health(w, name, map[string]any{"next": next, "archive": archiveDir != "", "fit": fitHealth(), "hop_auth": fnhttp.DefaultHop.Stats.Snapshot()})
		return
	}
	body, err := fnhttp.ReadBody(w, r, maxBatchBytes)
	if err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	// Event batches come from faasmon-parse only: a forged batch could
	// blind a stream (sequence numbers) or plant graphs.
	if !fnhttp.DefaultHop.Authenticate(w, r, name, hopauth.KindEvents, body) {
		return
	}
	// faasmon-parse sends event lines (event.BatchContentType); a body of
	// any other type is the one JSON document it sent before.
	batch, err := event.UnmarshalBatch(r.Header.Get("Content-Type"), body)
	if err != nil {
		fnhttp.Fail(w, name, fnhttp.BadRequest(fmt.Errorf("decode event batch: %w", err)))
		return
	}
	if batch.Version != event.SchemaVersion {
		fnhttp.Fail(w, name, fnhttp.BadRequest(fmt.Errorf("event batch version %d, want %d", batch.Version, event.SchemaVersion)))
		return
	}
	if err := batch.Chunk.Validate(); err != nil {
		fnhttp.Fail(w, name, fnhttp.BadRequest(err))
		return
	}
	if err := nodes.Seen(batch.Chunk.Node, time.Now()); err != nil {
		log.Printf("%s: silence watch: %v", name, err)
	}
	if batch.Chunk.Kind == heartbeat.Kind {
		fnhttp.JSON(w, http.StatusAccepted, map[string]any{"heartbeat": batch.Chunk.Node})
		return
	}
	var graphs []provenance.Graph
	var dups int
	// The batch is journaled as it came (body): Handle answers 202 only
	// once it is on disk, synced.
	err = store.UpdateBatch(provenance.StateKey(batch.Chunk), body, func(st *provenance.State, lost *provenance.Lost) (*provenance.State, error) {
		if st == nil {
			st = provenance.NewState(batch.Chunk)
			if lost != nil {
				st.NoteReset(lost.Reason, lost.OpenCalls)
			}
		}
		before := st.Duplicates
		g, err := builder.Apply(st, batch)
		graphs, dups = g, st.Duplicates-before
		if err != nil {
			return nil, err
		}
		if next == "" {
			return st, nil // answered, not forwarded: nothing to keep
		}
		// The graphs are in the outbox before the state says the batch
		// was applied (pending.go).
		return st, outbox.put(graphs)
	})
	if errors.Is(err, errOutboxFull) {
		fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusServiceUnavailable, Err: err})
		return
	}
	if err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	ids := make([]string, 0, len(graphs))
	unsent := 0
	for i := range graphs {
		g := &graphs[i]
		ids = append(ids, g.ID)
		if archiveDir != "" {
			if _, err := provenance.Archive(archiveDir, g); err != nil {
				log.Printf("%s: %v", name, err)
			}
			if archived.Add(1)%archivePruneEvery == 0 {
				if n, err := provenance.PruneArchive(archiveDir, archiveMax); err != nil || n > 0 {
					log.Printf("%s: pruned %d archived graphs (%v)", name, n, err)
				}
			}
		}
		if next == "" {
			continue
		}
		if err := outbox.send(r.Context(), g); err != nil {
			// Kept in the outbox and retried: the batch itself is done.
			log.Printf("%s: forward %s: %v (kept in the outbox)", name, g.ID, err)
			unsent++
		}
	}
	fnhttp.JSON(w, http.StatusAccepted, map[string]any{"graphs": ids, "duplicate": dups > 0, "unsent": unsent})
}

func init() {
	fnhttp.OnStart(func(ctx context.Context) {
		go outbox.runSweep(ctx, 10*time.Second)
		go collect(ctx, time.Hour)
		watcher{Nodes: nodes, After: cfg.SilenceAfter, Send: sendAlert}.run(ctx)
	})
}

// sendGraph is the outbox's forward to classify (nil with no next stage).
var sendGraph = func(ctx context.Context, g *provenance.Graph) error {
	if next == "" {
		return nil
	}
	return forward(ctx, g)
}

// alertOutbox is the outbox channel faasmon-alert also reads (FAASMON_OUTBOX;
// nil when unset): a silence verdict queued for an alert stage that is down
// at that moment would be lost with the queue-worker's acknowledgement.
var alertOutbox = sync.OnceValue(func() *natsoutbox.Publisher {
	p := natsoutbox.PublisherFromEnv(os.Getenv)
	if p != nil {
		p.Client.Prefix = name
	}
	return p
})

// sendAlert delivers a silence verdict to faasmon-alert, signed as a
// verdict: queued for it (faasmon_alert) and in the outbox, when there is
// one (faasmon-alert's ledger drops the second copy). Delivered by either
// is delivered.
func sendAlert(ctx context.Context, v *verdict.Verdict) error {
	var errs []error
	tried, delivered := false, false
	if cfg.Alert != "" {
		tried = true
		clientOnce.Do(func() { client, clientErr = invoke.FromEnv() })
		err := clientErr
		if err == nil {
			var data []byte
			if data, err = json.Marshal(v); err == nil {
				_, err = client.Async(ctx, cfg.Alert, hopauth.KindVerdict, nil, data, http.Header{"Content-Type": {"application/json"}})
			}
		}
		delivered = err == nil
		errs = append(errs, err)
	}
	if p := alertOutbox(); p != nil {
		tried = true
		err := p.Put(ctx, v)
		delivered = delivered || err == nil
		errs = append(errs, err)
	}
	if !tried || delivered {
		return nil
	}
	return errors.Join(errs...)
}

func forward(ctx context.Context, g *provenance.Graph) error {
	if next == "" {
		return nil
	}
	clientOnce.Do(func() { client, clientErr = invoke.FromEnv() })
	if clientErr != nil {
		return clientErr
	}
	fit(g)
	data, err := json.Marshal(g)
	if err != nil {
		return err
	}
	hdr := http.Header{"Content-Type": {"application/json"}, "X-Faasmon-Graph-Id": {g.ID}}
	if callback != "" {
		hdr.Set("X-Callback-Url", callback)
	}
	// With the graph in the verdict the alert can draw the suspicious
	// subgraph without a store of its own.
	_, err = client.Async(ctx, next, hopauth.KindGraph, url.Values{"graph": {"true"}}, data, hdr)
	return err
}

// classifier is the default classifier with the configured extra function
// directories.
func classifier(funcDirs []string) provenance.Classifier {
	c := provenance.DefaultClassifier()
	c.FuncDirs = append(c.FuncDirs, funcDirs...)
	return c
}

// archivePruneEvery: pruning lists the directory, so not on every write.
const archivePruneEvery = 1000

// collect removes, every interval from the start, the states of containers
// quiet for longer than state_keep_hours, and prunes the archive to
// archive_max: both directories are bounded even when the pipeline is idle.
func collect(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := store.Collect(cfg.StateKeep, time.Now()); err != nil || n > 0 {
			log.Printf("%s: collected %d states quiet for over %v (%v)", name, n, cfg.StateKeep, err)
		}
		if archiveDir != "" {
			if n, err := provenance.PruneArchive(archiveDir, archiveMax); (err != nil && !errors.Is(err, fs.ErrNotExist)) || n > 0 {
				log.Printf("%s: pruned %d archived graphs (%v)", name, n, err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

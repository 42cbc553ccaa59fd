package function

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/faasmon/faasmon/pkg/envconf"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/invoke"
	"github.com/faasmon/faasmon/pkg/provenance"
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
}

func loadConfig(env envconf.Lookup) config {
	c := config{
		StateDir:   env.String("state_dir", "/tmp/faasmon-graph-state"),
		ArchiveDir: env.String("archive_dir", ""),
		ArchiveMax: env.PositiveInt("archive_max", 200000),
		Next:       env.String("faasmon_next", "faasmon-classify"),
		Callback:   env.String("faasmon_callback", ""),
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
	cfg        = loadConfig(os.LookupEnv)
	store      = provenance.FileStore{Dir: cfg.StateDir}
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
	var batch event.Batch
	if err := json.Unmarshal(body, &batch); err != nil {
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
	var graphs []provenance.Graph
	var dups int
	err = store.Update(provenance.StateKey(batch.Chunk), func(st *provenance.State) (*provenance.State, error) {
		if st == nil {
			st = provenance.NewState(batch.Chunk)
		}
		before := st.Duplicates
		g, err := builder.Apply(st, batch)
		graphs, dups = g, st.Duplicates-before
		return st, err
	})
	if err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	ids := make([]string, 0, len(graphs))
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
		if err := forward(r, g); err != nil {
			fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusBadGateway, Err: err})
			return
		}
	}
	fnhttp.JSON(w, http.StatusAccepted, map[string]any{"graphs": ids, "duplicate": dups > 0})
}

func forward(r *http.Request, g *provenance.Graph) error {
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
	_, err = client.Async(r.Context(), next, hopauth.KindGraph, url.Values{"graph": {"true"}}, data, hdr)
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

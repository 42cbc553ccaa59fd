package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	embedded "github.com/faasmon/faasmon/model"
	"github.com/faasmon/faasmon/pkg/classify/detect"
	"github.com/faasmon/faasmon/pkg/classify/gnn"
	"github.com/faasmon/faasmon/pkg/classify/invariant"
	"github.com/faasmon/faasmon/pkg/classify/profile"
	"github.com/faasmon/faasmon/pkg/envconf"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/outbox"
	"github.com/faasmon/faasmon/pkg/verdict"
)

const name = "faasmon-classify"

// Limits of one request. A single invocation's graph is a few hundred
// nodes; 20,000 nodes classify in well under a second on one core, which
// keeps one request from holding the function for long.
//
// Both sizes are checked before the body is decoded (issue 14: a 32 MiB
// body of 1.2 M nodes took this function to 1.4 GiB while decoding): the
// bytes by fnhttp.ReadBody, the nodes and edges by a scan that builds
// nothing (fnhttp.CheckArrays). Over either is a 413.
const (
	maxBodyBytes = 16 << 20
	maxNodes     = provenance.MaxNodes // the builder's own cap: one number
	// maxTotalNodes bounds a batch: 256 graphs of 20,000 nodes would be
	// 5 M nodes in memory at once.
	maxTotalNodes = 4 * maxNodes
	maxEdges      = provenance.MaxEdges
	maxBatch      = 256
)

var (
	modelOnce sync.Once
	model     *gnn.Model
	modelErr  error

	pubOnce sync.Once
	pub     *outbox.Publisher

	detOnce  sync.Once
	detector *detect.Detector
)

// Config is what faasmon-classify reads from its environment (stack.yml's
// environment, snake_case like of-watchdog's own settings).
type Config struct {
	// ModelPath is a mounted model that overrides the built-in one
	// (model_path).
	ModelPath string
	// ProfileDir holds the per-function behaviour profiles (pkg/classify/profile):
	// it must outlive the function process and be shared by its replicas
	// (a volume on Kubernetes). Empty turns the profile part off.
	ProfileDir string
	// ProfileKeepVersions is how many versions of one function keep
	// their profile (profile_keep_versions; profile.FileStore).
	ProfileKeepVersions int
	// Profile is the profiles' learning and arming rule
	// (profile.ConfigFromEnv: profile_learn_graphs, profile_learn_for, ...).
	Profile profile.Config
	// ProfileFlushGraphs and ProfileFlush batch the profiles' writes
	// while they learn (profile_flush_graphs, default 64; profile_flush_ms,
	// default 1000; profile.Learner.FlushGraphs, FlushEvery): a crash
	// loses at most that much learning, which is not evidence.
	ProfileFlushGraphs int
	ProfileFlush       time.Duration
	// InvariantExceptions is the YAML document of reviewed exceptions to
	// the runtime invariants (pkg/classify/invariant.Exceptions) itself, and
	// InvariantExceptionsFile names a file holding one (an OpenFaaS
	// secret mounted under /var/openfaas/secrets, say); at most one may be
	// set. Inline, because a function sees neither the repository nor the
	// host's /tmp: the value travels with the deployment.
	InvariantExceptions     string
	InvariantExceptionsFile string
	// Outbox is the channel attack verdicts of async calls also go to
	// (outbox.EnvChannel, faasmon_outbox; until this release
	// FAASMON_OUTBOX, still read); empty: no outbox.
	Outbox string
}

// LoadConfig reads Config through lookup (os.LookupEnv in the function).
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := envconf.Lookup(lookup).Renamed(map[string]string{outbox.EnvChannel: outbox.LegacyEnvChannel})
	c := Config{ModelPath: env.String("model_path", ""), ProfileDir: env.String(profile.EnvDir, "/var/tmp/faasmon/profiles"),
		InvariantExceptions: env.String("invariant_exceptions", ""), InvariantExceptionsFile: env.String("invariant_exceptions_file", ""),
		Outbox: env.String(outbox.EnvChannel, ""), ProfileKeepVersions: env.PositiveInt("profile_keep_versions", profile.DefaultKeepVersions),
		ProfileFlushGraphs: env.PositiveInt("profile_flush_graphs", 64), ProfileFlush: time.Duration(env.PositiveInt("profile_flush_ms", 1000)) * time.Millisecond}
	if c.InvariantExceptions != "" && c.InvariantExceptionsFile != "" {
		return c, errors.New("invariant_exceptions and invariant_exceptions_file are both set: give one")
	}
	var err error
	c.Profile, err = profile.ConfigFromEnv(env.Getenv())
	return c, err
}

// loadDetector builds the detector once: the model, and the profiles when
// a profile directory is configured.
func loadDetector() (*detect.Detector, error) {
	var err error
	detOnce.Do(func() {
		var m *gnn.Model
		if m, err = loadModel(); err != nil {
			return
		}
		var cfg Config
		if cfg, err = LoadConfig(os.LookupEnv); err != nil {
			return
		}
		d := &detect.Detector{Model: m, Logf: func(f string, a ...any) { log.Printf(name+": "+f, a...) }}
		// Exceptions that do not parse stop the function: running
		// without the exceptions a user wrote would raise the alerts
		// they silenced, running with half of them is worse.
		switch {
		case cfg.InvariantExceptions != "":
			if d.Exceptions, err = invariant.ParseExceptions([]byte(cfg.InvariantExceptions)); err != nil {
				err = fmt.Errorf("invariant_exceptions: %w", err)
				return
			}
		case cfg.InvariantExceptionsFile != "":
			if d.Exceptions, err = invariant.LoadExceptions(cfg.InvariantExceptionsFile); err != nil {
				return
			}
		}
		if cfg.ProfileDir != "" {
			if err = os.MkdirAll(cfg.ProfileDir, 0o700); err != nil {
				err = fmt.Errorf("profile_dir: %w", err)
				return
			}
			l := &profile.Learner{Store: profile.FileStore{Dir: cfg.ProfileDir, KeepVersions: cfg.ProfileKeepVersions}, Config: cfg.Profile,
				FlushGraphs: cfg.ProfileFlushGraphs, FlushEvery: cfg.ProfileFlush}
			d.Profiles = l
			// A function gone quiet has its learnt graphs written after
			// profile_flush_ms; SIGTERM writes what waits (fnhttp.OnStop).
			go l.Run(context.Background(), cfg.ProfileFlush, log.Printf)
			fnhttp.OnStop(func() {
				if err := l.Flush(); err != nil {
					log.Printf("%s: profile flush at shutdown: %v", name, err)
				}
			})
		}
		detector = d
	})
	if detector == nil && err == nil {
		err = errors.New("detector failed to load earlier")
	}
	return detector, err
}

func loadModel() (*gnn.Model, error) {
	modelOnce.Do(func() {
		// A mounted model (model_path) overrides the one built in. A
		// bad profile setting is loadDetector's error: the model loads
		// regardless, and so GET still answers.
		cfg, _ := LoadConfig(os.LookupEnv)
		if p := cfg.ModelPath; p != "" {
			model, modelErr = gnn.LoadFile(p)
			return
		}
		data, err := embedded.Default()
		if err != nil {
			modelErr = err
			return
		}
		model, modelErr = gnn.Unmarshal(data)
	})
	return model, modelErr
}

// Handle serves the function.
func Handle(w http.ResponseWriter, r *http.Request) {
	m, err := loadModel()
	if r.Method == http.MethodGet {
		if err != nil {
			fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusServiceUnavailable, Err: err})
			return
		}
		fnhttp.Health(w, name, map[string]any{"model_version": m.Version(), "hop_auth": fnhttp.DefaultHop.Stats.Snapshot()})
		return
	}
	if err != nil {
		fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusServiceUnavailable, Err: err})
		return
	}
	body, err := fnhttp.ReadBody(w, r, maxBodyBytes)
	if err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	// Two kinds of caller. faasmon-graph signs every graph it queues
	// (pkg/hopauth); classify then signs its verdict, which the
	// queue-worker's callback carries to faasmon-alert, and puts attacks
	// in the outbox. People and scripts also invoke classify directly with
	// a graph of their own (pkg/verdict; README, "Authenticated hops"): an
	// unsigned request is still answered, but its verdict goes out
	// unsigned and never into the outbox, and faasmon-alert refuses
	// unsigned verdicts, so a direct call can see a verdict but never raise
	// an alert or trigger a response, and its graph is never learnt into a
	// function's behaviour profile. Refusing direct calls instead would
	// break a documented use for no gain: the verdict of a graph the caller
	// wrote itself tells the caller nothing it could not compute with the
	// public model. A request that carries a MAC is checked in full: a bad
	// or stale one is refused, never served as unsigned.
	authenticated := hopauth.Signed(r.Header)
	if authenticated {
		if !fnhttp.DefaultHop.Authenticate(w, r, name, hopauth.KindGraph, body) {
			return
		}
	} else {
		fnhttp.DefaultHop.Stats.UnsignedAccepted.Add(1)
	}
	if err := checkSizes(body); err != nil {
		fnhttp.Fail(w, name, err)
		return
	}
	graphs, batch, err := decode(body)
	if err != nil {
		fnhttp.Fail(w, name, fnhttp.BadRequest(err))
		return
	}
	withGraph := r.URL.Query().Get("graph") == "true"
	d, err := loadDetector()
	if err != nil {
		fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusServiceUnavailable, Err: err})
		return
	}
	out := make([]*verdict.Verdict, 0, len(graphs))
	for i := range graphs {
		// An unsigned graph is judged but never learnt into a profile.
		v, err := d.Judge(&graphs[i], gnn.Options{}, authenticated)
		if errors.Is(err, provenance.ErrInvalid) {
			fnhttp.Fail(w, name, fnhttp.BadRequest(fmt.Errorf("graph %d: %w", i, err)))
			return
		}
		if err != nil {
			fnhttp.Fail(w, name, err)
			return
		}
		if withGraph {
			v.Graph = &graphs[i]
		}
		out = append(out, v)
	}
	var answer any = out[0]
	if batch {
		answer = out
	}
	if !authenticated {
		fnhttp.JSON(w, http.StatusOK, answer)
		return
	}
	if r.Header.Get("X-Callback-Url") != "" {
		toOutbox(r.Context(), out)
	}
	if err := fnhttp.DefaultHop.SignedJSON(w, http.StatusOK, hopauth.KindVerdict, answer); err != nil {
		fnhttp.Fail(w, name, &fnhttp.Error{Status: http.StatusServiceUnavailable, Err: fmt.Errorf("sign verdict: %w", err)})
	}
}

// toOutbox puts the attack verdicts of an async call (the queue-worker
// forwards X-Callback-Url) in the outbox before the answer goes to the
// callback, so that they reach faasmon-alert even when the callback does
// not (pkg/outbox). A failure is logged and counted, not the caller's: the
// callback still carries the verdict.
func toOutbox(ctx context.Context, vs []*verdict.Verdict) {
	pubOnce.Do(func() {
		cfg, _ := LoadConfig(os.LookupEnv) // its errors are loadDetector's
		pub = outbox.PublisherOn(cfg.Outbox, os.Getenv)
	})
	if pub == nil {
		return
	}
	for _, v := range vs {
		if err := pub.Put(ctx, v); err != nil {
			log.Printf("%s: %v", name, err)
		}
	}
}

// decode reads one graph or an array of graphs and checks them against the
// contract and this function's limits.
func decode(body []byte) ([]provenance.Graph, bool, error) {
	var graphs []provenance.Graph
	batch := len(bytes.TrimSpace(body)) > 0 && bytes.TrimSpace(body)[0] == '['
	if batch {
		if err := json.Unmarshal(body, &graphs); err != nil {
			return nil, true, fmt.Errorf("decode graphs: %w", err)
		}
		if len(graphs) == 0 || len(graphs) > maxBatch {
			return nil, true, fmt.Errorf("%d graphs in a batch, want 1 to %d", len(graphs), maxBatch)
		}
	} else {
		var g provenance.Graph
		if err := json.Unmarshal(body, &g); err != nil {
			return nil, false, fmt.Errorf("decode graph: %w", err)
		}
		graphs = []provenance.Graph{g}
	}
	for i := range graphs {
		if n := len(graphs[i].Nodes); n > maxNodes {
			return nil, batch, fmt.Errorf("graph %d has %d nodes, limit %d", i, n, maxNodes)
		}
		if err := graphs[i].Validate(); err != nil {
			return nil, batch, fmt.Errorf("graph %d: %w", i, err)
		}
	}
	return graphs, batch, nil
}

// checkSizes refuses, before decoding, a body whose graphs are over the
// node or edge limits.
func checkSizes(body []byte) error {
	if err := fnhttp.CheckArrays(body, "nodes", maxNodes, maxTotalNodes); err != nil {
		return err
	}
	return fnhttp.CheckArrays(body, "edges", maxEdges, 4*maxEdges)
}

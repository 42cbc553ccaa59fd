package tracer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/lab"
	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/tracer"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
	"github.com/faasmon/faasmon/pkg/tracer/sender"
)

const coldFn = "tracer-coldstart-fn"

// TestColdStartFirstInvocationEBPF: with the eBPF sensor following the
// functions' cgroup parent, a function deployed while the tracer runs and
// called once, before discovery names its container (held back here, as
// the Kubernetes API lags a container's start), has that first
// invocation's provenance graph in faasmon-graph's archive; and the
// function's process reads TracerPid 0 while traced.
//
//	flock /tmp/faasmon-dev-stack.lock go test ./tests/tracer -run ColdStart -v
func TestColdStartFirstInvocationEBPF(t *testing.T) {
	s := localstack.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := s.Deploy(ctx, filepath.Join(s.Repo, "stack.yml"), "faasmon-*"); err != nil {
		t.Fatalf("deploy the detector: %v", err)
	}
	client, err := localstack.Client(s.Dirs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range []string{coldFn, "faasmon-parse", "faasmon-graph", "faasmon-classify", "faasmon-alert"} {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = client.DeleteFunction(dctx, n, localstack.DefaultNamespace)
			cancel()
		}
	})

	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ebpf.Default.Configure(ebpf.Config{Adopt: true, FollowParent: localstack.FunctionCgroup})
	m := metrics.New()
	snd, err := sender.New(sender.Config{Gateway: localstack.GatewayURL, Function: "faasmon-parse", SecretDir: s.Dirs.Secrets()}, m)
	if err != nil {
		t.Fatal(err)
	}
	src := &holdBack{src: &discovery.Local{URL: localstack.ProviderURL}, fn: coldFn, release: make(chan struct{})}
	tr := &tracer.Tracer{
		Source:  src,
		Sensor:  backend.RunConfig{Node: "coldstart", Log: log},
		Kinds:   []chunk.Kind{ebpf.Kind},
		Sink:    func(c chunker.Chunk) { snd.Enqueue(c) },
		Metrics: m,
		Log:     log,
		Exclude: tracer.ExcludeList("faasmon-parse,faasmon-graph,faasmon-classify,faasmon-alert", localstack.DefaultNamespace),
	}
	sctx, stopSnd := context.WithCancel(context.Background())
	tctx, stopTr := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { snd.Run(sctx) })
	trErr := make(chan error, 1)
	wg.Go(func() { trErr <- tr.Run(tctx) })
	defer func() {
		stopTr()
		if err := <-trErr; err != nil {
			t.Errorf("tracer: %v", err)
		}
		snd.Close()
		time.Sleep(2 * time.Second)
		stopSnd()
		wg.Wait()
	}()
	for deadline := time.Now().Add(10 * time.Second); !tr.Healthy(time.Second); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("tracer not healthy")
		}
	}

	// Cold start: the container is created now, while the tracer runs.
	started := time.Now()
	deployFn(ctx, t, s, coldFn)
	inst := instanceOf(t, coldFn)
	id := fmt.Sprintf("coldstart-%d", time.Now().UnixNano())
	if err := call(inst.IP, id, nil); err != nil {
		t.Fatal(err)
	}
	if len(tr.Attached()) != 0 {
		t.Fatalf("attached before the call: %v", tr.Attached())
	}
	close(src.release)
	for deadline := time.Now().Add(10 * time.Second); len(tr.Attached()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the tracer never attached to the function")
		}
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", inst.PID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), "\nTracerPid:\t0\n") {
		t.Errorf("the traced function sees a tracer:\n%s", st)
	}

	g, ok := waitGraph(t, id, started, 60*time.Second)
	if !ok {
		t.Fatalf("no graph for the cold start's first invocation %s in %s", id, lab.GraphArchive)
	}
	if g.Function != coldFn || len(g.Nodes) == 0 {
		t.Errorf("graph of %s: function %q, %d nodes", id, g.Function, len(g.Nodes))
	}
	t.Logf("first invocation %s: graph %s with %d nodes, %d edges", id, g.ID, len(g.Nodes), len(g.Edges))
}

// holdBack hides fn's targets from the tracer until release is closed.
type holdBack struct {
	src     discovery.Source
	fn      string
	release chan struct{}
}

func (h *holdBack) Run(ctx context.Context, update func([]discovery.Target)) error {
	return h.src.Run(ctx, func(ts []discovery.Target) {
		select {
		case <-h.release:
			update(ts)
			return
		default:
		}
		var out []discovery.Target
		for _, t := range ts {
			if t.Function != h.fn {
				out = append(out, t)
			}
		}
		update(out)
	})
}

func deployFn(ctx context.Context, t *testing.T, s *localstack.Stack, name string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "stack.yml")
	yml := fmt.Sprintf(`version: 1.0
provider:
  name: openfaas
  gateway: %s
functions:
  %s:
    lang: faasmon-go
    handler: %s
    image: %s:latest
`, localstack.GatewayURL, name, filepath.Join(s.Repo, "tests", "stack", "functions", "gofn"), name)
	if err := os.WriteFile(file, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deploy(ctx, file, ""); err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
}

// waitGraph looks in faasmon-graph's archive for the graph of call id.
func waitGraph(t *testing.T, id string, since time.Time, d time.Duration) (provenance.Graph, bool) {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(lab.GraphArchive, "*"+coldFn+"*.json"))
		for _, f := range files {
			if fi, err := os.Stat(f); err != nil || fi.ModTime().Before(since) {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil || !strings.Contains(string(b), id) {
				continue
			}
			var g provenance.Graph
			if json.Unmarshal(b, &g) == nil && g.CallID == id {
				return g, true
			}
		}
	}
	return provenance.Graph{}, false
}

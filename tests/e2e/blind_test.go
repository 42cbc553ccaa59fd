package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/heartbeat"
	"github.com/faasmon/faasmon/pkg/provider"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
	"github.com/faasmon/faasmon/pkg/tracer/sender"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// graphStateDir is faasmon-graph's state_dir in stack.yml: on the local
// stack the functions' /var/tmp is the host's.
const graphStateDir = "/var/tmp/faasmon/graph-state"

// TestNoSilentLoss deploys faasmon-parse and faasmon-graph from stack.yml,
// streams a real strace trace through the tracer's sender (forward: sync),
// SIGKILLs faasmon-parse and then faasmon-graph mid-stream, and checks in
// faasmon-graph's stored state that every chunk of the stream was applied
// once: the stream's next sequence number is the chunk count and it has no
// gap. Then it stops a node's heartbeats and waits for faasmon-alert's
// blind-spot alert on NATS.
func TestNoSilentLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys the detector on the local stack")
	}
	st := localstack.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	sdk, err := localstack.Client(st.Dirs)
	if err != nil {
		t.Fatal(err)
	}
	stackFile := st.Repo + "/stack.yml"
	deploy := func(fn string, env map[string]string) {
		if _, err := localstack.DeployStack(ctx, localstack.DeployOptions{StackFile: stackFile, Filter: fn, Repo: st.Repo, Dirs: st.Dirs, Log: testWriter{t}, Env: env}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sdk.DeleteFunction(context.Background(), fn, "") })
	}
	// FAASMON_E2E_FORWARD=async runs the stream the old way (queued at the
	// gateway, parse queueing for graph): the loss this test catches.
	async := os.Getenv("FAASMON_E2E_FORWARD") == "async"
	if async {
		deploy("faasmon-parse", map[string]string{"forward": "async"})
	} else {
		deploy("faasmon-parse", nil)
	}
	// No classify: the graphs wait in graph's outbox, which is not what is
	// measured here. A short silence bound for the heartbeat part.
	deploy("faasmon-graph", map[string]string{"faasmon_next": "", "silence_after_seconds": "6"})
	deploy("faasmon-alert", nil)
	waitReady(t, ctx, "faasmon-parse", "faasmon-graph", "faasmon-alert")
	nats := subscribeAlerts(t, fmt.Sprintf("faasmon-e2e-blind-%d", time.Now().UnixNano()))

	m := metrics.New()
	snd, err := sender.New(sender.Config{Gateway: localstack.GatewayURL, SecretDir: st.Dirs.Secrets(), Sync: !async,
		BackoffMin: 50 * time.Millisecond, BackoffMax: time.Second}, m)
	if err != nil {
		t.Fatal(err)
	}
	sendCtx, stopSend := context.WithCancel(ctx)
	defer stopSend()
	go snd.Run(sendCtx)

	t.Run("killing parse and graph mid-stream loses no chunk", func(t *testing.T) {
		trace, err := os.ReadFile("../../pkg/parse/strace/testdata/node.strace")
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.SplitAfter(trace, []byte("\n"))
		const per = 2
		n := (len(lines) + per - 1) / per
		run := fmt.Sprintf("e2eloss%x", time.Now().UnixNano()&0xffffff)
		stream := run + "-strace-" + fmt.Sprint(time.Now().UnixNano())
		hdr := func(seq int) chunk.Header {
			return chunk.Header{Node: "e2e-node", Function: "e2e-fn", Container: run, PID: 8716, Kind: chunk.KindStrace,
				Stream: stream, Seq: uint64(seq), Start: time.Unix(1795430150, 0), End: time.Unix(1795430151, 0)}
		}
		sent := func() int { return int(metrics.Value(m.ChunksSent.WithLabelValues(string(chunk.KindStrace)))) }
		kill := func(fn string) {
			pid := instancePID(t, ctx, fn)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill %s (pid %d): %v", fn, pid, err)
			}
			t.Logf("killed %s (pid %d) after %d of %d chunks", fn, pid, sent(), n)
		}
		go func() {
			for i := range n {
				body := bytes.Join(lines[i*per:min((i+1)*per, len(lines))], nil)
				snd.Enqueue(chunker.Chunk{Header: hdr(i), Body: body})
				time.Sleep(40 * time.Millisecond) // a stream, not a burst
			}
		}()
		// Each stage is killed while the stream flows through it: parse a
		// third of the way, graph two thirds, after parse is back.
		deadline := time.Now().Add(3 * time.Minute)
		for _, k := range []struct {
			at int
			fn string
		}{{n / 3, "faasmon-parse"}, {2 * n / 3, "faasmon-graph"}, {n, ""}} {
			for sent() < k.at && time.Now().Before(deadline) {
				time.Sleep(2 * time.Millisecond)
			}
			if k.fn != "" {
				kill(k.fn)
			}
		}
		if async {
			// Queued, a chunk is sent at the gateway's 202: give the
			// queue-worker time to deliver what it will.
			time.Sleep(10 * time.Second)
		}
		dropped := 0.0
		for _, r := range []string{metrics.ReasonQueueFull, metrics.ReasonRejected, metrics.ReasonShutdown} {
			dropped += metrics.Value(m.ChunksDropped.WithLabelValues(r))
		}
		t.Logf("%d of %d chunks sent, %v retries, %v dropped", sent(), n, metrics.Value(m.Retries), dropped)
		if sent() != n || dropped != 0 {
			t.Fatalf("%d of %d chunks sent, %v dropped", sent(), n, dropped)
		}
		if metrics.Value(m.Retries) == 0 {
			t.Errorf("no retry: the kills did not hit the stream")
		}
		var next uint64
		var gaps []provenance.Gap
		var found bool
		// faasmon-graph journals batches: reading its state replays them
		// (with the default classifier: only the stream's numbers are read).
		err = provenance.FileStore{Dir: graphStateDir, Replay: provenance.ReplayBatch(provenance.Builder{Class: provenance.DefaultClassifier()})}.Update(provenance.StateKey(hdr(0)), func(s *provenance.State) (*provenance.State, error) {
			if s != nil && s.Streams[stream] != nil {
				found, next, gaps = true, s.Streams[stream].Next, s.Streams[stream].Gaps
			}
			return nil, nil // read only
		})
		if err != nil || !found {
			t.Fatalf("graph state of %s: %v (found %v)", run, err, found)
		}
		if next != uint64(n) || len(gaps) != 0 {
			t.Errorf("faasmon-graph applied the stream up to %d of %d, gaps %v", next, n, gaps)
		}
	})

	t.Run("a silent tracer is a blind-spot alert", func(t *testing.T) {
		node := fmt.Sprintf("e2e-silent-%x", time.Now().UnixNano()&0xffffff)
		start := time.Now()
		for i := range 3 {
			h, body := heartbeat.Chunk(node, os.Getpid(), start, uint64(i), time.Now())
			snd.Enqueue(chunker.Chunk{Header: h, Body: body})
			time.Sleep(time.Second)
		}
		stopped := time.Now()
		deadline := stopped.Add(60 * time.Second)
		for time.Now().Before(deadline) {
			for _, a := range nats.all() {
				if a.a.Node != node {
					continue
				}
				if !strings.HasPrefix(a.a.Rule, "faasmon blind spot: "+verdict.BlindSilent) || a.a.Priority != "Warning" {
					t.Fatalf("alert %s %s", a.a.Rule, a.a.Priority)
				}
				t.Logf("blind-spot alert %v after the last heartbeat: %s", a.at.Sub(stopped).Round(time.Millisecond), a.a.Findings[0].Text)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("no blind-spot alert for %s within 60 s of its silence", node)
	})
}

// instancePID is function fn's process, from the provider's instances.
func instancePID(t *testing.T, ctx context.Context, fn string) int {
	t.Helper()
	for {
		insts, err := provider.FetchInstances(ctx, nil, localstack.ProviderURL)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range insts {
			if in.Function == fn && in.PID > 0 {
				return in.PID
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("%s has no instance", fn)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

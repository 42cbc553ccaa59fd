package fnhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/openfaas/faas-provider/types"

	classify "github.com/faasmon/faasmon/functions/faasmon-classify"
	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/internal/dev/stantest"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/hopauth/hoptest"
	"github.com/faasmon/faasmon/pkg/streaming"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// TestQueueCallbackCarriesMAC runs the real OpenFaaS CE queue-worker (the
// binary the local stack runs, built from the pinned
// openfaas/nats-queue-worker) against a real nats-streaming-server: a
// queued graph goes to this handler, and the queue-worker's callback,
// which copies the function's response headers (postResult), must reach
// faasmon-alert with a MAC it accepts (the check faasmon-alert makes,
// fnhttp.Hop.Check). An unsigned graph's callback must carry none. This is
// why classify signs its answer in headers rather than in a body envelope.
func TestQueueCallbackCarriesMAC(t *testing.T) {
	natsURL := stantest.Start(t, "faas-cluster") // also builds the stack's tools
	wd, _ := os.Getwd()
	repo, err := localstack.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	qw := filepath.Join(localstack.BinDir(repo), "nats-queue-worker")
	if _, err := os.Stat(qw); err != nil {
		t.Fatalf("queue-worker binary: %v", err)
	}

	// A real attack graph (the e2e test's), judged by the committed model.
	raw, err := os.ReadFile(filepath.Join(repo, "tests", "e2e", "testdata", "attack3-photo-receive.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g provenance.Graph
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	t.Setenv("profile_dir", t.TempDir())
	t.Setenv("FAASMON_OUTBOX", "") // the outbox has its own tests
	fnhttp.DefaultHop.Keys = hoptest.Source()

	// The "gateway" the queue-worker invokes: /function/faasmon-classify.
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/function/faasmon-classify/" && r.URL.Path != "/function/faasmon-classify" {
			http.NotFound(w, r)
			return
		}
		classify.Handle(w, r)
	}))
	defer gw.Close()
	// faasmon-alert's check on the callback.
	type result struct {
		err  error
		body []byte
	}
	got := make(chan result, 4)
	alertHop := &fnhttp.Hop{Keys: hoptest.Source()}
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- result{alertHop.Check(r, hopauth.KindVerdict, body), body}
	}))
	defer cb.Close()

	_, gwPort, _ := net.SplitHostPort(gw.Listener.Addr().String())
	_, natsPort, _ := net.SplitHostPort(natsURL[len("nats://"):])
	var logs bytes.Buffer
	cmd := exec.Command(qw)
	cmd.Env = append(os.Environ(), "faas_nats_address=127.0.0.1", "faas_nats_port="+natsPort,
		"faas_gateway_address=127.0.0.1", "faas_gateway_port="+gwPort, "max_inflight=1", "basic_auth=false")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("queue-worker log:\n%s", logs.String())
		}
	}()

	body, _ := json.Marshal(g)
	cbURL, _ := url.Parse(cb.URL + "/")
	sc := &streaming.Client{URL: natsURL, ClusterID: "faas-cluster", Prefix: "faasmon-test"}
	defer sc.Close()
	queue := func(way hoptest.Way) {
		// What the CE gateway puts on the queue for /async-function.
		hdr := http.Header{"Content-Type": {"application/json"}, "X-Callback-Url": {cbURL.String()}, "X-Faasmon-Graph-Id": {g.ID}}
		hoptest.Sign(hdr, hopauth.KindGraph, body, way)
		msg, _ := json.Marshal(types.QueueRequest{Header: hdr, Body: body, Method: http.MethodPost, QueryString: "graph=true",
			Function: "faasmon-classify", CallbackURL: cbURL})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sc.Publish(ctx, "faas-request", msg); err != nil {
			t.Fatal(err)
		}
	}
	wait := func() result {
		select {
		case r := <-got:
			return r
		case <-time.After(30 * time.Second):
			t.Fatal("no callback within 30 s")
			return result{}
		}
	}

	queue(hoptest.Good)
	r := wait()
	if r.err != nil {
		t.Fatalf("faasmon-alert would refuse the callback of a signed graph: %v (body %.200s)", r.err, r.body)
	}
	var v verdict.Verdict
	if err := json.Unmarshal(r.body, &v); err != nil || v.GraphID != g.ID {
		t.Errorf("callback body is not the verdict of %s: %v %.200s", g.ID, err, r.body)
	}

	queue(hoptest.Unsigned)
	if r := wait(); !errors.Is(r.err, hopauth.ErrUnsigned) {
		t.Errorf("callback of an unsigned graph: %v, want it unsigned (faasmon-alert refuses it)", r.err)
	}
}

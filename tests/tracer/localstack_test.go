package tracer_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/tracer"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	stracebe "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// TestLocalStackSensors runs the tracer against a running local stack
// (go run ./cmd/faasmon-stack up, functions deployed) and invokes each
// function in FAASMON_TEST_FUNCTIONS (comma-separated) through the gateway.
// Chunks are collected in-process here; the end-to-end variant through the
// queue to faasmon-parse is wired on top of this one.
//
//	FAASMON_TEST_GATEWAY=http://127.0.0.1:8080 FAASMON_TEST_FUNCTIONS=echo-go,echo-node go test ./tests/tracer -run LocalStack -v
func TestLocalStackSensors(t *testing.T) {
	gw, fns := os.Getenv("FAASMON_TEST_GATEWAY"), os.Getenv("FAASMON_TEST_FUNCTIONS")
	if gw == "" || fns == "" || os.Geteuid() != 0 {
		t.Skip("needs root, a running local stack, FAASMON_TEST_GATEWAY and FAASMON_TEST_FUNCTIONS")
	}
	m := metrics.New()
	var mu sync.Mutex
	var got []chunker.Chunk
	stracebe.Default.Configure(stracebe.Config{Pin: stracebe.PinSameCPU})
	tr := &tracer.Tracer{
		Source:  &discovery.Local{URL: "http://127.0.0.1:8083"},
		Sensor:  backend.RunConfig{Node: "local"},
		Sink:    func(c chunker.Chunk) { mu.Lock(); got = append(got, c); mu.Unlock() },
		Metrics: m,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for metrics.Value(m.Sensors.WithLabelValues("strace")) < float64(len(strings.Split(fns, ","))) {
		if time.Now().After(deadline) {
			t.Fatalf("sensors running: %v", metrics.Value(m.Sensors.WithLabelValues("strace")))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)        // strace attached to every thread
	callIDs := map[string]string{} // function → X-Call-Id the gateway gave
	for _, fn := range strings.Split(fns, ",") {
		resp, err := http.Post(gw+"/function/"+fn, "text/plain", strings.NewReader(`{"hello":"world"}`))
		if err != nil {
			t.Fatalf("invoke %s: %v", fn, err)
		}
		_ = resp.Body.Close()
		callIDs[fn] = resp.Header.Get("X-Call-Id")
		if callIDs[fn] == "" {
			t.Fatalf("%s: no X-Call-Id in the gateway's answer", fn)
		}
	}
	time.Sleep(2 * time.Second) // quiet period + time cap
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	seqs := map[string]uint64{}
	seen := map[string]bool{} // function/kind with its call id visible
	for _, c := range got {
		if len(c.Body) > chunk.MaxBytes {
			t.Errorf("chunk of %d bytes", len(c.Body))
		}
		if c.Header.Seq != seqs[c.Header.Stream] {
			t.Errorf("stream %s: seq %d, want %d", c.Header.Stream, c.Header.Seq, seqs[c.Header.Stream])
		}
		seqs[c.Header.Stream] = c.Header.Seq + 1
		if id := callIDs[c.Header.Function]; id != "" && bytes.Contains(c.Body, []byte(id)) {
			seen[c.Header.Function+"/"+string(c.Header.Kind)] = true
		}
	}
	for fn := range callIDs {
		for _, k := range []string{"strace", "pcap"} {
			if !seen[fn+"/"+k] {
				t.Errorf("%s: no %s chunk shows its X-Call-Id %s", fn, k, callIDs[fn])
			}
		}
	}
}

package function

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/heartbeat"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/hopauth/hoptest"
	"github.com/faasmon/faasmon/pkg/invoke"
)

func TestHandleInput(t *testing.T) {
	next = "" // answer the batch instead of queueing it
	fnhttp.DefaultHop.Keys = hoptest.Source()
	node, err := os.ReadFile("../../pkg/parse/strace/testdata/node.strace")
	if err != nil {
		t.Fatal(err)
	}
	good := chunk.Header{Node: "n", Function: "f", Container: "c", PID: 7, Kind: chunk.KindStrace,
		Stream: "s", Start: time.Now(), End: time.Now()}
	hbHeader, hbBody := heartbeat.Chunk("node-1", 9, time.Now(), 0, time.Now())
	for _, tc := range []struct {
		name   string
		method string
		hdr    func(http.Header)
		body   []byte
		status int
		msg    string
	}{
		{"real strace chunk", "POST", good.Set, node, 200, `"events"`},
		// A heartbeat is forwarded as an empty batch (faasmon-graph's
		// silence watch), not parsed: its body is no trace.
		{"heartbeat", "POST", hbHeader.Set, hbBody, 200, `"kind":"heartbeat"`},
		{"health", "GET", func(http.Header) {}, nil, 200, `"ok"`},
		{"no chunk headers", "POST", func(http.Header) {}, node, 400, "X-Faasmon-Node missing"},
		{"bad kind", "POST", func(h http.Header) { good.Set(h); h.Set(chunk.HKind, "dtrace") }, node, 400, "dtrace"}, // ebpf is a registered kind now
		{"bad seq", "POST", func(h http.Header) { good.Set(h); h.Set(chunk.HSeq, "-1") }, node, 400, "X-Faasmon-Seq"},
		{"empty body", "POST", good.Set, nil, 400, "empty body"},
		{"binary garbage", "POST", good.Set, []byte{0, 1, 2, 3, 0xff, 0xfe}, 422, "binary"},
		{"10 MB body", "POST", good.Set, bytes.Repeat([]byte("a"), 10<<20), 413, "body over"},
		{"wrong method", "DELETE", good.Set, node, 405, "POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/", bytes.NewReader(tc.body))
			tc.hdr(req.Header)
			hoptest.Sign(req.Header, hopauth.KindChunk, tc.body, hoptest.Good)
			rec := httptest.NewRecorder()
			Handle(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.msg) {
				t.Errorf("status %d body %.200s; want %d containing %q", rec.Code, rec.Body.String(), tc.status, tc.msg)
			}
		})
	}
}

// TestHandleAuth: only a chunk signed with the current hop key is parsed.
func TestHandleAuth(t *testing.T) {
	next = ""
	fnhttp.DefaultHop.Keys = hoptest.Source()
	node, err := os.ReadFile("../../pkg/parse/strace/testdata/node.strace")
	if err != nil {
		t.Fatal(err)
	}
	h := chunk.Header{Node: "n", Function: "f", Container: "c", PID: 7, Kind: chunk.KindStrace,
		Stream: "s", Start: time.Now(), End: time.Now()}
	for _, way := range append([]hoptest.Way{hoptest.Good}, hoptest.All...) {
		t.Run(string(way), func(t *testing.T) {
			before := fnhttp.DefaultHop.Stats.Snapshot()
			req := httptest.NewRequest("POST", "/", bytes.NewReader(node))
			h.Set(req.Header)
			hoptest.Sign(req.Header, hopauth.KindChunk, node, way)
			rec := httptest.NewRecorder()
			Handle(rec, req)
			if rec.Code != hoptest.Status(way) {
				t.Fatalf("status %d body %.200s; want %d", rec.Code, rec.Body.String(), hoptest.Status(way))
			}
			after := fnhttp.DefaultHop.Stats.Snapshot()
			refused := func(s hopauth.Snapshot) uint64 { return s.Unsigned + s.BadMAC + s.UnknownKey + s.Stale }
			if way == hoptest.Good && after.Accepted != before.Accepted+1 || way != hoptest.Good && refused(after) != refused(before)+1 {
				t.Errorf("not counted: %+v -> %+v", before, after)
			}
		})
	}
}

// TestBatchOverQueueLimit: a chunk whose events would not fit the queue to
// faasmon-graph is refused with a 422 that says so, before any call out
// (the tracer counts it as rejected instead of retrying it for ever).
func TestBatchOverQueueLimit(t *testing.T) {
	old := next
	next = "faasmon-graph"
	defer func() { next = old }()
	line := []byte("1 1700000000.000001 exit_group(0) = ?\n")
	body := bytes.Repeat(line, chunk.MaxBytes/len(line))
	h := chunk.Header{Node: "n", Function: "f", Container: "c", PID: 1, Kind: chunk.KindStrace, Stream: "s", Start: time.Unix(1700000000, 0), End: time.Unix(1700000001, 0)}
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	h.Set(req.Header)
	hoptest.Sign(req.Header, hopauth.KindChunk, body, hoptest.Good)
	w := httptest.NewRecorder()
	Handle(w, req)
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "over the queue") {
		t.Fatalf("status %d %s, want 422 over the queue", w.Code, w.Body.String())
	}
}

// TestForwardSync: with forward "sync" a chunk is answered 200 only once
// faasmon-graph answered 2xx; a failure on the way is a 502 the tracer
// retries, a batch faasmon-graph refuses a 422 it does not.
func TestForwardSync(t *testing.T) {
	fnhttp.DefaultHop.Keys = hoptest.Source()
	oldNext, oldAsync, oldClient := next, async, client
	defer func() { next, async, client = oldNext, oldAsync, oldClient }()
	next, async = "faasmon-graph", false
	clientOnce.Do(func() {}) // the client is set below
	node, err := os.ReadFile("../../pkg/parse/strace/testdata/node.strace")
	if err != nil {
		t.Fatal(err)
	}
	h := chunk.Header{Node: "n", Function: "f", Container: "c", PID: 7, Kind: chunk.KindStrace,
		Stream: "s", Start: time.Now(), End: time.Now()}
	for _, tc := range []struct {
		name  string
		graph int // faasmon-graph's answer; 0: unreachable
		want  int
	}{
		{"graph stored it", 202, 200},
		{"graph failed (killed, disk)", 500, 502},
		{"graph busy", 503, 502},
		{"graph unreachable", 0, 502},
		{"graph refused the batch", 400, 422},
		{"graph refused the MAC (key rotation under way)", 403, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Int64
			gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/function/faasmon-graph.openfaas-fn" {
					t.Errorf("path %s", r.URL.Path)
				}
				body, _ := io.ReadAll(r.Body)
				if err := hoptest.Keys.Verify(hopauth.KindEvents, r.Header, body, time.Now(), 0); err != nil {
					t.Errorf("batch MAC: %v", err)
				}
				// The batch goes as event lines, and is the chunk's.
				b, err := event.UnmarshalBatch(r.Header.Get("Content-Type"), body)
				if ct := r.Header.Get("Content-Type"); ct != event.BatchContentType || err != nil {
					t.Errorf("batch of type %q: %v", ct, err)
				} else if b.Version != event.SchemaVersion || b.Chunk.Stream != h.Stream || len(b.Events) < 100 {
					t.Errorf("batch: version %d, stream %q, %d events", b.Version, b.Chunk.Stream, len(b.Events))
				}
				got.Add(1)
				w.WriteHeader(tc.graph)
				w.Write([]byte(`{"graphs":[]}`))
			}))
			defer gw.Close()
			if tc.graph == 0 {
				gw.Close()
			}
			c, err := invoke.New(gw.URL)
			if err != nil {
				t.Fatal(err)
			}
			c.Keys = hoptest.Source()
			client, clientErr = c, nil
			req := httptest.NewRequest("POST", "/", bytes.NewReader(node))
			h.Set(req.Header)
			hoptest.Sign(req.Header, hopauth.KindChunk, node, hoptest.Good)
			rec := httptest.NewRecorder()
			Handle(rec, req)
			if rec.Code != tc.want {
				t.Errorf("status %d %.300s, want %d", rec.Code, rec.Body.String(), tc.want)
			}
			if tc.graph != 0 && got.Load() != 1 {
				t.Errorf("graph called %d times", got.Load())
			}
		})
	}
}

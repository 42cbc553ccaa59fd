package function

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/heartbeat"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/hopauth/hoptest"
)

func TestHandle(t *testing.T) {
	next = ""
	fnhttp.DefaultHop.Keys = hoptest.Source()
	store = provenance.FileStore{Dir: t.TempDir()}
	nodes = heartbeat.Tracker{Dir: t.TempDir()}
	archiveDir = t.TempDir()
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	h := chunk.Header{Node: "n", Function: "f", Container: "c", PID: 7, Kind: chunk.KindStrace, Stream: "s", Start: t0, End: t0}
	conn := func(e event.Event) event.Event {
		e.Kind, e.PID, e.Time, e.Proto, e.Local, e.Remote = event.KindSyscall, 7, t0, "TCP", "10.62.1.2:8080", "10.62.1.1:40000"
		return e
	}
	batch := event.Batch{Version: event.SchemaVersion, Chunk: h, Events: []event.Event{
		conn(event.Event{Syscall: "read", Bytes: 100, CallID: "abc"}),
		{Kind: event.KindSyscall, PID: 7, Time: t0, Syscall: "openat", Path: "/etc/passwd"},
		conn(event.Event{Syscall: "write", Bytes: 50}),
	}}
	good, _ := json.Marshal(batch)
	wrongVersion := bytes.Replace(good, []byte(`"version":1`), []byte(`"version":7`), 1)
	badHeader := batch
	badHeader.Chunk.Kind = "x"
	bad, _ := json.Marshal(badHeader)
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		msg    string
		way    hoptest.Way
	}{
		// Every refusal first: a refused batch must leave no state behind.
		{"unsigned", good, 401, "not signed", hoptest.Unsigned},
		{"bad MAC", good, 403, "does not match", hoptest.BadMAC},
		{"stale", good, 403, "outside the accepted window", hoptest.Stale},
		{"old key after rotation", good, 403, "unknown key", hoptest.OldKey},
		{"chunk header added", good, 403, "does not match", hoptest.Altered},
		{"MAC of another hop", good, 403, "does not match", hoptest.WrongFor},
		{"one invocation", good, 202, `"openfaas-fn.f.c/abc"`, hoptest.Good},
		{"same batch again (redelivery)", good, 202, `"duplicate":true`, hoptest.Good},
		{"not JSON", []byte("{{{"), 400, "decode event batch", hoptest.Good},
		{"wrong version", wrongVersion, 400, "version 7", hoptest.Good},
		{"bad chunk header", bad, 400, "X-Faasmon-Kind", hoptest.Good},
		{"empty", nil, 400, "empty body", hoptest.Good},
		{"20 MB", bytes.Repeat([]byte(" "), 20<<20), 413, "body over", hoptest.Good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/", bytes.NewReader(tc.body))
			way := tc.way
			if way == "" {
				way = hoptest.Good
			}
			hoptest.Sign(req.Header, hopauth.KindEvents, tc.body, way)
			Handle(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.msg) {
				t.Errorf("status %d body %.200s; want %d containing %q", rec.Code, rec.Body.String(), tc.status, tc.msg)
			}
		})
	}
}

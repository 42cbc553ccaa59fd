package function

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// TestHandleBatchLines: faasmon-graph reads a batch in the form its
// Content-Type names, faasmon-parse's event lines as the JSON document
// posted by hand, and gives the same graph for both; a body of the other
// form than its type says is a 400, and the MAC is over the bytes sent.
func TestHandleBatchLines(t *testing.T) {
	next = ""
	fnhttp.DefaultHop.Keys = hoptest.Source()
	store = provenance.FileStore{Dir: t.TempDir()}
	nodes = heartbeat.Tracker{Dir: t.TempDir()}
	archiveDir = t.TempDir()
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	batch := func(container string, version int) event.Batch {
		h := chunk.Header{Node: "n", Function: "f", Container: container, PID: 7, Kind: chunk.KindStrace, Stream: container + "-s", Start: t0, End: t0}
		conn := func(e event.Event) event.Event {
			e.Kind, e.PID, e.Time, e.Proto, e.Local, e.Remote = event.KindSyscall, 7, t0, "TCP", "10.62.1.2:8080", "10.62.1.1:40000"
			return e
		}
		return event.Batch{Version: version, Chunk: h, Events: []event.Event{
			conn(event.Event{Syscall: "read", Bytes: 100, CallID: "abc"}),
			{Kind: event.KindSyscall, PID: 7, Time: t0, Syscall: "openat", Path: "/etc/passwd"},
			{Kind: event.KindSyscall, PID: 7, Time: t0, Syscall: "execve", Path: "/bin/sh", Argv: []string{"sh", "-c", "id > /tmp/x"}},
			conn(event.Event{Syscall: "write", Bytes: 50}),
		}}
	}
	lines := func(b event.Batch) []byte {
		data, err := event.AppendBatch(nil, &b)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	js := func(b event.Batch) []byte {
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct {
		name, ct string
		body     []byte
		status   int
		msg      string
	}{
		{"lines", event.BatchContentType, lines(batch("c1", event.SchemaVersion)), 202, `"openfaas-fn.f.c1/abc"`},
		{"JSON", "application/json", js(batch("c2", event.SchemaVersion)), 202, `"openfaas-fn.f.c2/abc"`},
		{"lines said to be JSON", "application/json", lines(batch("c3", event.SchemaVersion)), 400, "decode event batch"},
		{"JSON said to be lines", event.BatchContentType, js(batch("c3", event.SchemaVersion)), 400, "decode event batch: no head line"},
		{"lines of another version", event.BatchContentType, lines(batch("c3", 7)), 400, "version 7"},
		{"truncated lines", event.BatchContentType, bytes.TrimSuffix(lines(batch("c3", event.SchemaVersion)), []byte("\n")), 400, "head says 4 events, the body has 3 lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/", bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ct)
			hoptest.Sign(req.Header, hopauth.KindEvents, tc.body, hoptest.Good)
			Handle(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.msg) {
				t.Fatalf("status %d body %.300s; want %d containing %q", rec.Code, rec.Body.String(), tc.status, tc.msg)
			}
		})
	}
	// The same events in either form make the same graph (as archived).
	graph := func(id string) string {
		data, err := os.ReadFile(filepath.Join(archiveDir, provenance.FileName(id)))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	a, b := graph("openfaas-fn.f.c1/abc"), graph("openfaas-fn.f.c2/abc")
	if !strings.Contains(a, "/etc/passwd") || !strings.Contains(a, "sh -c id") {
		t.Errorf("graph from the lines lacks the batch's events:\n%s", a)
	}
	if strings.ReplaceAll(a, "c1", "cX") != strings.ReplaceAll(b, "c2", "cX") {
		t.Errorf("lines and JSON made different graphs:\n%s\n%s", a, b)
	}
}

package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
)

var testHeader = chunk.Header{Node: "n1", Function: "f", Namespace: "openfaas-fn", Container: "c1", PID: 7, Kind: "ebpf",
	Stream: "s<1>", Seq: 42, Start: time.Date(2026, 12, 2, 3, 0, 0, 5, time.UTC), End: time.Date(2026, 12, 2, 3, 0, 1, 0, time.UTC),
	Dropped: 2, DroppedBytes: 300, Threads: map[int]int{8: 7}}

// pcapEvents are events of the tcpdump sensor's kinds.
func pcapEvents() []Event {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 123, time.UTC)
	return []Event{
		{Kind: KindFlow, Time: t0, Flow: &Flow{Proto: "TCP", Src: "10.62.1.2:40000", Dst: "1.2.3.4:443", Packets: 12, Bytes: 4096, First: t0, Last: t0.Add(time.Second), SawSYN: true, Outbound: true}},
		{Kind: KindHTTP, Time: t0, HTTP: &HTTPRequest{Src: "a:1", Dst: "b:8080", Method: "GET", Path: "/x?a=1&b=<2>", CallID: "c-1"}},
		{Kind: KindDNS, Time: t0, DNS: &DNSQuery{Src: "a:5353", Dst: "b:53", Name: "evil.example", Type: "TXT"}},
	}
}

// viaJSON is the batch as faasmon-graph read it before: json.Marshal,
// json.Unmarshal.
func viaJSON(b *Batch) (Batch, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return Batch{}, err
	}
	var out Batch
	err = json.Unmarshal(data, &out)
	return out, err
}

// viaLines is the batch through AppendBatch and DecodeBatch.
func viaLines(b *Batch) (Batch, []byte, error) {
	data, err := AppendBatch(nil, b)
	if err != nil {
		return Batch{}, nil, err
	}
	out, err := DecodeBatch(data)
	return out, data, err
}

// sameBatch compares two batches as faasmon-graph sees them: an empty
// events list is the same whether nil or not (the JSON form keeps
// "events":[] apart from null, the lines cannot and nothing reads the
// difference).
func sameBatch(a, b Batch) bool {
	if len(a.Events) == 0 && len(b.Events) == 0 {
		a.Events, b.Events = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// checkForms holds the line form to the JSON form for one batch: both
// fail, or both give the same Batch.
func checkForms(t *testing.T, b *Batch) {
	t.Helper()
	want, jerr := viaJSON(b)
	got, data, lerr := viaLines(b)
	if jerr != nil {
		if lerr == nil {
			t.Fatalf("encoding/json fails (%v), the lines do not", jerr)
		}
		return
	}
	if lerr != nil {
		t.Fatalf("lines: %v (encoding/json takes the batch)\n%.2000s", lerr, data)
	}
	if !sameBatch(got, want) {
		t.Fatalf("lines give\n%+v\nencoding/json\n%+v\nbody:\n%.2000s", got, want, data)
	}
}

func TestBatchForms(t *testing.T) {
	evs := varied(2000, 3)
	for i := range evs {
		if i%10 == 0 {
			evs[i].Argv = []string{}
		}
	}
	lines := traceLines(t)
	trace := make([]Event, len(lines))
	for i, l := range lines {
		var err error
		if trace[i], err = ParseLine(l); err != nil {
			t.Fatal(err)
		}
	}
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		batch Batch
	}{
		{"varied events", Batch{Version: SchemaVersion, Chunk: testHeader, Events: evs, Unparsed: 3, Errors: []string{"line 1: x", "line <2>: \"y\"\n"}}},
		{"recorded trace", Batch{Version: SchemaVersion, Chunk: testHeader, Events: trace}},
		{"pcap events", Batch{Version: SchemaVersion, Chunk: testHeader, Events: pcapEvents()}},
		{"heartbeat (no events)", Batch{Version: SchemaVersion, Chunk: chunk.Header{Kind: "heartbeat", Node: "n"}}},
		{"empty events, not nil", Batch{Version: SchemaVersion, Chunk: testHeader, Events: []Event{}, Errors: []string{}}},
		{"zero batch", Batch{}},
		{"another version", Batch{Version: 7, Events: evs[:3]}},
		{"event time year 10000", Batch{Version: SchemaVersion, Events: []Event{{Kind: KindExit, Time: far}}}},
		{"flow time year 10000", Batch{Version: SchemaVersion, Events: []Event{{Kind: KindFlow, Flow: &Flow{Last: far}}}}},
		{"chunk time year 10000", Batch{Version: SchemaVersion, Chunk: chunk.Header{Start: far}}},
	} {
		t.Run(tt.name, func(t *testing.T) { checkForms(t, &tt.batch) })
	}
}

func TestDecodeBatchRefuses(t *testing.T) {
	ev := Event{Kind: KindSyscall, Time: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC), PID: 7, Syscall: "openat", Path: "/etc/passwd"}
	line := strings.TrimSuffix(string(AppendLine(nil, &ev)), "\n")
	head := func(n int) string {
		return fmt.Sprintf(`{"version":1,"chunk":{"node":"n","kind":"ebpf","start":"2026-12-02T03:00:00Z","end":"2026-12-02T03:00:00Z"},"n":%d}`, n)
	}
	for _, tt := range []struct{ name, body, msg string }{
		{"empty", "", "no head line"},
		{"no newline", head(0), "no head line"},
		{"head not JSON", "x\n", "head line"},
		{"head not an object", "[1]\n", "head line"},
		{"head with events", `{"version":1,"events":[],"n":0}` + "\n", `unknown field "events"`},
		{"head with an unknown field", `{"version":1,"n":0,"x":1}` + "\n", `unknown field "x"`},
		{"head and trailing data", head(0) + "{}\n", "trailing data"},
		{"negative count", head(-1) + "\n", "head says -1 events"},
		{"count past the body", head(1<<40) + "\n" + line + "\n", "room for at most"},
		{"count past int", `{"n":99999999999999999999}` + "\n", "head line"},
		{"count a string", `{"n":"1"}` + "\n", "head line"},
		{"fewer lines than said", head(3) + "\n" + line + "\n" + line + "\n" + strings.Repeat(" ", 40), "has 2 lines"},
		{"more lines than said", head(1) + "\n" + line + "\n" + line + "\n", "has 2 lines"},
		{"last line unterminated", head(1) + "\n" + line + "\n" + line, "not terminated"},
		{"data after no events", head(0) + "\n" + line, "not terminated"},
		{"blank event line", head(2) + "\n" + line + "\n\n", "event 1 (line 3)"},
		{"event not JSON", head(1) + "\n" + strings.Repeat("x", 40) + "\n", "event 0 (line 2)"},
		{"event with an unknown field", head(1) + "\n" + line[:len(line)-1] + `,"evil":1}` + "\n", `unknown field "evil"`},
		{"two events on a line", head(1) + "\n" + line + line + "\n", "event 0"},
		{"event an array", head(1) + "\n" + `[` + strings.Repeat(`"a",`, 10) + `"a"]` + "\n", "event 0"},
		{"event number too large", head(1) + "\n" + line[:len(line)-1] + `,"pid":99999999999999999999}` + "\n", "event 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBatch([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want one containing %q", err, tt.msg)
			}
		})
	}
}

// TestDecodeBatchMemory: a body of the shortest event lines at
// faasmon-graph's size limit costs a bounded multiple of itself.
func TestDecodeBatchMemory(t *testing.T) {
	const size = 16 << 20
	short := `{"k":"","t":"0001-01-01T00:00:00Z"}` + "\n"
	n := size / len(short)
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"version":1,"n":%d}`+"\n", n)
	b.WriteString(strings.Repeat(short, n))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := DecodeBatch(b.Bytes())
	runtime.ReadMemStats(&after)
	if err != nil || len(got.Events) != n {
		t.Fatalf("%d events, %v", len(got.Events), err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bytes, %d events: %d bytes allocated (%.1fx)", b.Len(), n, alloc, float64(alloc)/float64(b.Len()))
	if limit := uint64(b.Len()) * 10; alloc > limit {
		t.Fatalf("allocated %d bytes for a %d-byte body, over %d", alloc, b.Len(), limit)
	}
}

func TestUnmarshalBatch(t *testing.T) {
	batch := Batch{Version: SchemaVersion, Chunk: testHeader, Events: pcapEvents()}
	lines, err := AppendBatch(nil, &batch)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(batch)
	want, _ := viaJSON(&batch)
	for _, tt := range []struct {
		name, ct string
		body     []byte
		ok       bool
	}{
		{"lines", BatchContentType, lines, true},
		{"lines, parameters and case", "Application/X-NDJSON; charset=utf-8", lines, true},
		{"JSON", "application/json", js, true},
		{"JSON, no content type (curl)", "", js, true},
		{"JSON as a form (curl -d)", "application/x-www-form-urlencoded", js, true},
		{"JSON, bad content type", "a/b; ;", js, true},
		{"lines said to be JSON", "application/json", lines, false},
		{"JSON said to be lines", BatchContentType, js, false},
		{"JSON with a newline said to be lines", BatchContentType, append(append([]byte{}, js...), '\n'), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UnmarshalBatch(tt.ct, tt.body)
			if (err == nil) != tt.ok {
				t.Fatalf("error %v, want ok %v", err, tt.ok)
			}
			if tt.ok && !sameBatch(got, want) {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

// FuzzDecodeBatch: arbitrary bytes never panic DecodeBatch; a body both
// forms read is the same batch in both (so the content type, which the hop
// MAC does not cover, cannot change what a signed body says); and any
// batch read from the fuzzer's bytes, in either form, is the same batch
// through the lines as through encoding/json.
func FuzzDecodeBatch(f *testing.F) {
	seeds := []Batch{
		{Version: SchemaVersion, Chunk: testHeader, Events: varied(3, 9), Unparsed: 1, Errors: []string{"line 1: x"}},
		{Version: SchemaVersion, Chunk: testHeader, Events: pcapEvents()},
		{Version: SchemaVersion, Chunk: chunk.Header{Kind: "heartbeat"}},
	}
	lines := traceLines(f)
	tb := Batch{Version: SchemaVersion, Chunk: testHeader}
	for _, l := range lines[:20] {
		e, err := ParseLine(l)
		if err != nil {
			f.Fatal(err)
		}
		tb.Events = append(tb.Events, e)
	}
	seeds = append(seeds, tb)
	for _, b := range seeds {
		data, err := AppendBatch(nil, &b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		js, _ := json.Marshal(b)
		f.Add(js)
	}
	f.Add([]byte(`{"n":1}` + "\n" + `{"k":"exit","t":"2026-12-01T21:00:00Z","pid":7}` + "\r\n"))
	f.Add([]byte(`{"n":0}` + "\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		lb, lerr := DecodeBatch(body)
		var jb Batch
		jerr := json.Unmarshal(body, &jb)
		if lerr == nil && jerr == nil && !sameBatch(lb, jb) {
			t.Fatalf("one body, two batches:\nlines %+v\njson  %+v", lb, jb)
		}
		if lerr == nil {
			checkForms(t, &lb)
		}
		if jerr == nil {
			checkForms(t, &jb)
		}
	})
}

// BenchmarkDecodeBatchPcap decodes a batch of 300 events with a flow, HTTP
// or DNS part (the tcpdump sensor's kinds, the eBPF sensor's DNS queries)
// in either form: the line form must not cost more than the JSON one for
// them (it did, 1.8×, while ReadLine left those parts to encoding/json).
func BenchmarkDecodeBatchPcap(b *testing.B) {
	var evs []Event
	for i := 0; i < 100; i++ {
		evs = append(evs, pcapEvents()...)
	}
	batch := Batch{Version: SchemaVersion, Chunk: testHeader, Events: evs}
	js, err := json.Marshal(batch)
	if err != nil {
		b.Fatal(err)
	}
	lines, err := AppendBatch(nil, &batch)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out Batch
			if err := json.Unmarshal(js, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lines", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeBatch(lines); err != nil {
				b.Fatal(err)
			}
		}
	})
}

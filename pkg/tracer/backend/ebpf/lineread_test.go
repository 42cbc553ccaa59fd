package ebpf

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
)

// parseReference is Parse as it was before lineread.go (bufio.Scanner,
// encoding/json for every line), kept to hold parseLines to it.
func parseReference(body []byte) (backend.Parsed, error) {
	var out backend.Parsed
	if len(body) == 0 {
		return out, fmt.Errorf("%w: empty body", backend.ErrInput)
	}
	if len(body) > chunk.MaxBytes {
		return out, fmt.Errorf("%w: %d bytes, limit %d", backend.ErrInput, len(body), chunk.MaxBytes)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	fail := func(err error) {
		out.Unparsed++
		if len(out.Errors) < 8 {
			out.Errors = append(out.Errors, fmt.Sprintf("line %d: %v", line, err))
		}
	}
	for sc.Scan() {
		line++
		l := bytes.TrimSpace(sc.Bytes())
		if len(l) == 0 {
			continue
		}
		var ev event.Event
		dec := json.NewDecoder(bytes.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			fail(err)
			continue
		}
		if dec.More() {
			fail(fmt.Errorf("trailing data after the event"))
			continue
		}
		if err := valid(ev); err != nil {
			fail(err)
			continue
		}
		out.Events = append(out.Events, ev)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%w: line %d: %v", backend.ErrInput, line+1, err)
	}
	if len(out.Events) == 0 && out.Unparsed > 0 {
		return out, fmt.Errorf("%w: no event line could be read (%d unparsed; first: %s)", backend.ErrInput, out.Unparsed, out.Errors[0])
	}
	return out, nil
}

// checkLine holds readLine to encoding/json on one line and says whether
// the fast path took it.
func checkLine(t *testing.T, line string) bool {
	t.Helper()
	var want event.Event
	werr := decodeJSON([]byte(line), &want)
	var got event.Event
	if !readLine(line, &got) {
		return false
	}
	if werr != nil {
		t.Fatalf("readLine took %q, encoding/json fails: %v", line, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("readLine(%q):\n got %#v\nwant %#v", line, got, want)
	}
	return true
}

const (
	tz  = `"t":"2026-12-01T21:00:00.123456789Z"`
	sys = `{"k":"syscall",` + tz + `,"pid":7,"sc":"openat"`
)

func TestReadLine(t *testing.T) {
	tests := []struct {
		name, line string
		fast       bool // the fast path takes it (else encoding/json does)
	}{
		{"openat failed", sys + `,"ret":-1,"errno":"EACCES","fd":-1,"path":"/etc/shadow","flags":"O_RDONLY|O_CLOEXEC","mode":420}`, true},
		{"every field", `{"k":"syscall",` + tz + `,"pid":7,"sc":"sendfile","ret":5,"thread":true,"target":9,"errno":"E","fd":3,"path":"/a","path2":"/b","argv":["a"],"flags":"F","mode":1,"proto":"TCP","local":"1.2.3.4:5","remote":"[::1]:80","bytes":5,"sig":"SIGKILL","exit":2,"call_id":"c-1"}`, true},
		{"escapes appendString writes", sys + `,"path":"a\"b\\c\n\t\r\u0001\u001f\u003c\u003e\u0026\u2028\u2029\ufffd"}`, true},
		{"other escapes", sys + `,"path":"\/\b\f\u00E9\u00e9\u0000\uABCD"}`, true},
		{"raw unicode", sys + `,"path":"/tmp/ünï/日本/😀 ` + "\u2028" + `"}`, true},
		{"negative numbers", `{"k":"exit",` + tz + `,"pid":7,"ret":-9223372036854775,"fd":-1,"exit":-3}`, true},
		{"minus zero", sys + `,"ret":-0}`, true},
		{"18 digits", sys + `,"bytes":999999999999999999}`, true},
		{"19 digits", sys + `,"bytes":1000000000000000000}`, false},
		{"largest mode", sys + `,"mode":4294967295}`, true},
		{"mode out of range", sys + `,"mode":4294967296}`, false},
		{"negative mode", sys + `,"mode":-1}`, false},
		{"mode minus zero", sys + `,"mode":-0}`, false},
		{"fraction", sys + `,"ret":1.0}`, false},
		{"exponent", sys + `,"ret":1e3}`, false},
		{"leading zero", sys + `,"ret":01}`, false},
		{"lone minus", sys + `,"ret":-}`, false},
		{"string for a number", sys + `,"ret":"1"}`, false},
		{"empty argv", `{"k":"syscall",` + tz + `,"pid":7,"sc":"execve","argv":[]}`, true},
		{"argv", `{"k":"syscall",` + tz + `,"pid":7,"sc":"execve","path":"/bin/sh","argv":["sh","-c","echo \"x\" \u003e /tmp/y",""]}`, true},
		{"argv trailing comma", `{"k":"syscall",` + tz + `,"pid":7,"sc":"execve","argv":["sh",]}`, false},
		{"argv of a number", `{"k":"syscall",` + tz + `,"pid":7,"sc":"execve","argv":[1]}`, false},
		{"argv null", `{"k":"syscall",` + tz + `,"pid":7,"sc":"execve","argv":null}`, false},
		{"thread", `{"k":"syscall",` + tz + `,"pid":7,"sc":"clone","ret":9,"thread":true}`, true},
		{"thread false", `{"k":"syscall",` + tz + `,"pid":7,"sc":"clone","thread":false}`, false},
		{"exit", `{"k":"exit",` + tz + `,"pid":7,"exit":3}`, true},
		{"killed", `{"k":"exit",` + tz + `,"pid":7,"sig":"SIGKILL"}`, true},
		{"signal kind", `{"k":"signal",` + tz + `,"pid":7,"sig":"SIGCHLD"}`, true},
		{"flow kind, no flow", `{"k":"flow",` + tz + `,"pid":7}`, true},
		{"flow", `{"k":"flow",` + tz + `,"flow":{"proto":"TCP","src":"a:1","dst":"b:2","packets":3,"bytes":4,"first":"2026-12-01T21:00:00Z","last":"2026-12-01T21:00:01Z","syn":true}}`, false},
		{"http", `{"k":"http",` + tz + `,"http":{"src":"a","dst":"b","method":"GET","path":"/","call_id":"x"}}`, false},
		{"dns", `{"k":"dns",` + tz + `,"dns":{"src":"a","dst":"b","name":"x.example","type":"A"}}`, false},
		{"fields in another order", `{"pid":7,"sc":"openat",` + tz + `,"k":"syscall"}`, true},
		{"empty object", `{}`, true},
		{"time with an offset", `{"k":"exit","t":"2026-12-01T23:00:00.5+02:00","pid":7}`, true},
		{"time without fraction", `{"k":"exit","t":"2026-12-01T21:00:00Z","pid":7}`, true},
		{"time not RFC 3339", `{"k":"exit","t":"2026-12-01 21:00:00","pid":7}`, false},
		// time.Time.UnmarshalJSON (Go 1.26) takes a 1-digit hour; the
		// fast path calls it as encoding/json does, so it takes it too.
		{"time with hour 1 digit", `{"k":"exit","t":"2026-12-01T1:00:00Z","pid":7}`, true},
		{"time with month 13", `{"k":"exit","t":"2026-13-01T21:00:00Z","pid":7}`, false},
		{"time with an escape", `{"k":"exit","t":"2026-12-01T21:00:00\u005a","pid":7}`, false},
		{"time null", `{"k":"exit","t":null,"pid":7}`, false},
		{"time a number", `{"k":"exit","t":1,"pid":7}`, false},
		{"unknown field", sys + `,"fdx":3}`, false},
		{"key in another case", sys + `,"PATH":"/x"}`, false},
		{"key with an escape", sys + `,"p\u0061th":"/x"}`, false},
		{"duplicate key", sys + `,"path":"/x","path":"/y"}`, false},
		{"duplicate kind", `{"k":"exit","k":"syscall",` + tz + `,"pid":7}`, false},
		{"null string", sys + `,"path":null}`, false},
		{"whitespace", `{"k": "exit",` + tz + `,"pid":7}`, false},
		{"invalid UTF-8", sys + `,"path":"a` + "\xff" + `b"}`, false},
		{"UTF-8 surrogate bytes", sys + `,"path":"a` + "\xed\xa0\x80" + `"}`, false},
		{"surrogate pair escape", sys + `,"path":"\ud83d\ude00"}`, false},
		{"lone surrogate escape", sys + `,"path":"\ud83d"}`, false},
		{"bad escape", sys + `,"path":"\x"}`, false},
		{"short \\u escape", sys + `,"path":"\u12"}`, false},
		{"raw control byte", sys + `,"path":"a` + "\t" + `b"}`, false},
		{"two documents", sys + `}` + sys + `}`, false},
		{"trailing brace", sys + `}}`, false},
		{"truncated", sys, false},
		{"unterminated string", `{"k":"exit`, false},
		{"not an object", `["k"]`, false},
		{"empty key", sys + `,"":1}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if fast := checkLine(t, tt.line); fast != tt.fast {
				t.Errorf("fast path took it: %v, want %v", fast, tt.fast)
			}
		})
	}
}

// varied returns n events of every kind and field this sensor writes, with
// strings drawn from what appendString has to escape.
func varied(n int, seed uint64) []event.Event {
	r := rand.New(rand.NewPCG(seed, 1))
	pieces := []string{"", "a", "/etc/passwd", "ünï", "日本", "😀", "\"", "\\", "\n", "\t", "\r", "\x00", "\x1f", "<", ">", "&", "\u2028", "\u2029", "\xff", "\xed\xa0\x80", " ", "O_RDONLY|O_CLOEXEC", "TCP:[1.2.3.4:80]", "\x7f", "\ufffd"}
	str := func() string {
		var b strings.Builder
		for k := r.IntN(4); k > 0; k-- {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	num := func() int64 {
		switch r.IntN(12) {
		case 0, 1:
			return 0
		case 2, 3:
			return -int64(r.IntN(200))
		case 4:
			return int64(r.Uint64() >> 8) // up to 17 digits
		case 5:
			return -int64(r.Uint64() >> 8)
		case 6: // 19 digits (or fewer) now and then: encoding/json's
			return int64(r.Uint64())
		}
		return int64(r.IntN(1 << 20))
	}
	locs := []*time.Location{time.UTC, time.Local, time.FixedZone("", 2*3600), time.FixedZone("X", -(5*3600 + 30*60))}
	out := make([]event.Event, n)
	for i := range out {
		ev := event.Event{
			Kind: []event.Kind{event.KindSyscall, event.KindExit, event.KindSignal}[r.IntN(3)],
			Time: time.Unix(1764600000+int64(r.IntN(1e6)), int64(r.IntN(1e9))).In(locs[r.IntN(len(locs))]),
			PID:  int(num()), Syscall: str(), Ret: num(), Thread: r.IntN(2) == 0, Target: int(num()),
			Errno: str(), FD: int(num()), Path: str(), Path2: str(), Flags: str(), Mode: uint32(r.Uint64()),
			Proto: str(), Local: str(), Remote: str(), Bytes: num(), Signal: str(), ExitCode: int(num()),
			CallID: str(),
		}
		for k := r.IntN(4); k > 0; k-- {
			ev.Argv = append(ev.Argv, str())
		}
		if r.IntN(3) == 0 {
			ev.Syscall = Covered()[r.IntN(len(Covered()))]
		}
		out[i] = ev
	}
	return out
}

// TestReadLineAppendLine: every line appendLine writes is the fast path's
// and reads back as encoding/json reads it.
func TestReadLineAppendLine(t *testing.T) {
	fast := 0
	for i, ev := range varied(5000, 15) {
		line := strings.TrimSpace(string(appendLine(nil, &ev)))
		if checkLine(t, line) {
			fast++
		} else {
			// Only 19-digit numbers are left to encoding/json.
			if !has19Digits(line) {
				t.Fatalf("event %d: fast path refused appendLine's %q", i, line)
			}
		}
	}
	t.Logf("%d of 5000 lines read by the fast path (the rest hold a 19-digit number)", fast)
}

func has19Digits(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			if run >= 19 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// traceChunks reads the recorded chunk bodies in testdata/trace.
func traceChunks(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob("testdata/trace/*.ndjson")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no recorded chunks in testdata/trace: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestReadLineTrace: every line of the recorded trace is the fast path's.
func TestReadLineTrace(t *testing.T) {
	n := 0
	for _, body := range traceChunks(t) {
		for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			if !checkLine(t, l) {
				t.Errorf("fast path refused %q", l)
			}
			n++
		}
	}
	t.Logf("%d lines", n)
}

// checkParse holds parseLines to parseReference on one body.
func checkParse(t *testing.T, body []byte) {
	t.Helper()
	got, gerr := parseLines(body)
	want, werr := parseReference(body)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("error %v, want %v", gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseLines:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseLinesMatchesReference(t *testing.T) {
	ok := sys + `,"ret":3,"fd":3,"path":"/etc/hosts","flags":"O_RDONLY"}`
	long := func(n int) string { // a valid line of n bytes
		s := sys + `,"path":"`
		return s + strings.Repeat("a", n-len(s)-2) + `"}`
	}
	tests := []struct{ name, body string }{
		{"empty", ""},
		{"one line", ok},
		{"newline", ok + "\n"},
		{"CRLF", ok + "\r\n" + ok + "\r\n"},
		{"CR at the end", ok + "\r"},
		{"CRCRLF", ok + "\r\r\n" + ok},
		{"blank lines", "\n\n" + ok + "\n\n\n" + ok + "\n \t\n"},
		{"only blank lines", "\n \n\r\n"},
		{"unicode spaces", "\u00a0" + ok + "\u0085\n\u2028" + ok},
		{"bad lines", "x\n" + ok + "\n{}\n" + strings.Replace(ok, "openat", "mmap", 1)},
		{"nothing readable", "x\ny\n"},
		{"more than 8 errors", strings.Repeat("x\n", 12) + ok},
		{"json fallback", strings.Replace(ok, `"pid":7`, `"pid": 7`, 1) + "\n" + ok},
		{"pcap fields", `{"k":"syscall",` + tz + `,"pid":7,"sc":"openat","dns":{"src":"a","dst":"b","name":"x","type":"A"}}` + "\n" + ok},
		{"line of maxLine-1", long(maxLine-1) + "\n" + ok},
		{"line of maxLine-1 at the end", ok + "\n" + long(maxLine-1)},
		{"line of maxLine", ok + "\n" + long(maxLine) + "\n" + ok},
		{"line of maxLine at the end", ok + "\n" + long(maxLine)},
		{"line of maxLine+1", ok + "\n" + long(maxLine+1)},
		{"line of maxLine-1 and CR", ok + "\n" + long(maxLine-1) + "\r\n" + ok},
		{"largest body", strings.Repeat(ok+"\n", chunk.MaxBytes/(len(ok)+1))},
		{"too large", strings.Repeat(ok+"\n", chunk.MaxBytes/(len(ok)+1)+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkParse(t, []byte(tt.body)) })
	}
	for i, body := range traceChunks(t) {
		t.Run(fmt.Sprintf("trace %d", i), func(t *testing.T) { checkParse(t, body) })
	}
}

// seedLines are lines for the fuzz targets' corpus: the recorded trace (one
// of each syscall and shape), appendLine over varied events, TestReadLine's.
func seedLines(tb testing.TB) []string {
	var out []string
	seen := map[string]bool{}
	for _, body := range traceChunks(tb) {
		for _, l := range strings.Split(string(body), "\n") {
			var ev event.Event
			if !readLine(l, &ev) {
				continue
			}
			shape := fmt.Sprint(ev.Kind, ev.Syscall, ev.Errno != "", len(ev.Argv) > 0, ev.CallID != "", ev.Proto)
			if !seen[shape] {
				seen[shape] = true
				out = append(out, l)
			}
		}
	}
	for _, ev := range varied(40, 7) {
		out = append(out, string(appendLine(nil, &ev)))
	}
	return append(out,
		sys+`,"path":"a\"b\\c\n\t\r\u0001\u003c\u003e\u0026\u2028\ufffd\/\b\f\u00E9"}`,
		`{"k":"syscall",`+tz+`,"pid":7,"sc":"execve","argv":[]}`,
		`{"pid":7,"sc":"openat",`+tz+`,"k":"syscall","mode":4294967295}`,
		`{"k":"exit","t":"2026-12-01T23:00:00.5+02:00","pid":-7,"exit":-1}`,
		`{"k":"dns",`+tz+`,"dns":{"src":"a","dst":"b","name":"x.example","type":"A"}}`,
		sys+`,"path":"\ud83d\ude00"}`,
	)
}

// FuzzReadLine: for any line, the fast path either leaves it to
// encoding/json or gives exactly encoding/json's Event (and then
// encoding/json must not fail).
func FuzzReadLine(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		checkLine(t, line)
		checkLine(t, strings.TrimSpace(line))
	})
}

// FuzzParseLines: for any body, parseLines gives what Parse gave before
// lineread.go (events, counts, messages, errors).
func FuzzParseLines(f *testing.F) {
	lines := seedLines(f)
	for i := 0; i+2 < len(lines); i += 3 {
		f.Add([]byte(lines[i] + "\n" + lines[i+1] + "\r\n\n" + lines[i+2]))
	}
	f.Add([]byte("x\n\u00a0\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkParse(t, body)
	})
}

// CPUTime is the process's user+system CPU time so far. Benchmarks report
// it per op beside ns/op: on the shared VM (2 vCPU, load often above 10)
// wall time per op swings 2-3x between runs; the CPU an op burns (GC
// included) is what issue 15 counts and moves much less.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkParseLines parses the recorded chunks (testdata/trace) with the
// Parse before lineread.go (encoding/json for every line) and with the
// fast path.
func BenchmarkParseLines(b *testing.B) {
	chunks := traceChunks(b)
	size := 0
	for _, c := range chunks {
		size += len(c)
	}
	for _, bc := range []struct {
		name  string
		parse func([]byte) (backend.Parsed, error)
	}{{"json", parseReference}, {"fast", parseLines}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			cpu := CPUTime()
			for b.Loop() {
				for _, c := range chunks {
					if _, err := bc.parse(c); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

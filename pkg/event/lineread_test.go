package event

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// checkLine holds readLine to encoding/json on one line and says whether
// the fast path took it.
func checkLine(t *testing.T, line string) bool {
	t.Helper()
	var want Event
	werr := UnmarshalLine([]byte(line), &want)
	var got Event
	if !ReadLine(line, &got) {
		return false
	}
	if werr != nil {
		t.Fatalf("readLine took %q, encoding/json fails: %v", line, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadLine(%q):\n got %#v\nwant %#v", line, got, want)
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
		{"flow", `{"k":"flow",` + tz + `,"flow":{"proto":"TCP","src":"a:1","dst":"b:2","packets":3,"bytes":4,"first":"2026-12-01T21:00:00Z","last":"2026-12-01T21:00:01Z","syn":true,"outbound":true}}`, true},
		{"flow, keys in another order", `{"k":"flow",` + tz + `,"flow":{"last":"2026-12-01T21:00:01Z","bytes":-4,"packets":0,"src":"a\u003c1","proto":"UDP"}}`, true},
		{"flow empty", `{"k":"flow",` + tz + `,"flow":{}}`, true},
		{"flow null", `{"k":"flow",` + tz + `,"flow":null}`, false},
		{"flow syn false", `{"k":"flow",` + tz + `,"flow":{"syn":false}}`, false},
		{"flow unknown key", `{"k":"flow",` + tz + `,"flow":{"proto":"TCP","evil":1}}`, false},
		{"flow key twice", `{"k":"flow",` + tz + `,"flow":{"src":"a","src":"b"}}`, false},
		{"flow key in another case", `{"k":"flow",` + tz + `,"flow":{"Src":"a"}}`, false},
		{"flow packets fraction", `{"k":"flow",` + tz + `,"flow":{"packets":1.5}}`, false},
		{"flow first a number", `{"k":"flow",` + tz + `,"flow":{"first":1}}`, false},
		{"flow whitespace", `{"k":"flow",` + tz + `,"flow":{ "src":"a"}}`, false},
		{"flow not closed", `{"k":"flow",` + tz + `,"flow":{"src":"a"}`, false},
		{"flow twice", `{"k":"flow",` + tz + `,"flow":{"src":"a"},"flow":{"dst":"b"}}`, false},
		{"flow an array", `{"k":"flow",` + tz + `,"flow":[]}`, false},
		{"http", `{"k":"http",` + tz + `,"http":{"src":"a","dst":"b","method":"GET","path":"/","call_id":"x"}}`, true},
		{"http with host and escapes", `{"k":"http",` + tz + `,"http":{"src":"a","dst":"b","method":"GET","host":"h\u0026","path":"/a?b=c\u0026d","call_id":""}}`, true},
		{"http number for a string", `{"k":"http",` + tz + `,"http":{"src":1}}`, false},
		{"http unknown key", `{"k":"http",` + tz + `,"http":{"query":"x"}}`, false},
		{"dns", `{"k":"dns",` + tz + `,"dns":{"src":"a","dst":"b","name":"x.example","type":"A"}}`, true},
		{"dns from the eBPF sensor", `{"k":"dns",` + tz + `,"pid":7,"dns":{"src":"10.62.1.2:40000","dst":"127.0.0.53:53","name":"example.com","type":"AAAA"}}`, true},
		{"dns null name", `{"k":"dns",` + tz + `,"dns":{"name":null}}`, false},
		{"all three", `{"k":"dns",` + tz + `,"flow":{},"http":{},"dns":{}}`, true},
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

// varied returns n events of every kind and syscall field the eBPF sensor writes, with
// strings drawn from what appendString has to escape.
func varied(n int, seed uint64) []Event {
	r := rand.New(rand.NewPCG(seed, 1))
	pieces := []string{"", "a", "/etc/passwd", "ünï", "日本", "😀", "\"", "\\", "\n", "\t", "\r", "\x00", "\x1f", "<", ">", "&", "\u2028", "\u2029", "\b", "\f", "\xff", "\xed\xa0\x80", " ", "O_RDONLY|O_CLOEXEC", "TCP:[1.2.3.4:80]", "\x7f", "\ufffd"}
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
	out := make([]Event, n)
	for i := range out {
		ev := Event{
			Kind: []Kind{KindSyscall, KindExit, KindSignal}[r.IntN(3)],
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
			ev.Syscall = syscalls[r.IntN(len(syscalls))]
		}
		out[i] = ev
	}
	return out
}

// syscalls are names the eBPF sensor records (a few of its Covered()).
var syscalls = []string{"openat", "execve", "clone", "connect", "accept4", "read", "write", "unlinkat", "renameat2", "kill", "exit_group", "sendto", "recvfrom"}

// TestReadLineAppendLine: every line appendLine writes is the fast path's
// and reads back as encoding/json reads it.
func TestReadLineAppendLine(t *testing.T) {
	fast := 0
	for i, ev := range varied(5000, 15) {
		line := strings.TrimSpace(string(AppendLine(nil, &ev)))
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

// traceLines reads the lines of the eBPF sensor's recorded chunks
// (pkg/tracer/backend/ebpf/testdata/trace, see its README): real event
// lines of every syscall and shape that sensor writes.
func traceLines(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob("../tracer/backend/ebpf/testdata/trace/*.ndjson")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no recorded chunks in ../tracer/backend/ebpf/testdata/trace: %v", err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	return out
}

// TestReadLineTrace: every line of the recorded trace is the fast path's.
func TestReadLineTrace(t *testing.T) {
	lines := traceLines(t)
	for _, l := range lines {
		if !checkLine(t, l) {
			t.Errorf("fast path refused %q", l)
		}
	}
	t.Logf("%d lines", len(lines))
}

// seedLines are lines for the fuzz targets' corpus: the recorded trace (one
// of each syscall and shape), appendLine over varied events, TestReadLine's.
func seedLines(tb testing.TB) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range traceLines(tb) {
		{
			var ev Event
			if !ReadLine(l, &ev) {
				continue
			}
			shape := fmt.Sprint(ev.Kind, ev.Syscall, ev.Errno != "", len(ev.Argv) > 0, ev.CallID != "", ev.Proto)
			if !seen[shape] {
				seen[shape] = true
				out = append(out, l)
			}
		}
	}
	for _, ev := range append(varied(40, 7), pcapEvents()...) {
		out = append(out, string(AppendLine(nil, &ev)))
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

package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestAppendLineMatches holds the hand-written encoder to encoding/json.
func TestAppendLineMatches(t *testing.T) {
	base := time.Date(2026, 12, 1, 21, 0, 0, 123456789, time.UTC)
	for i, ev := range []Event{
		{Kind: KindSyscall, Time: base, PID: 7, Syscall: "openat", Ret: -1, Errno: "EACCES", FD: -1, Path: "/etc/shadow", Flags: "O_RDONLY|O_CLOEXEC", Mode: 0o644},
		{Kind: KindSyscall, Time: base.Add(time.Nanosecond * 877), PID: 7, Syscall: "clone", Ret: 9, Thread: true},
		{Kind: KindSyscall, Time: base, PID: 7, Syscall: "connect", FD: 3, Proto: "TCP", Remote: "[::1]:80", Local: "x"},
		{Kind: KindSyscall, Time: base, PID: 7, Syscall: "rename", Path: "a\"b\\c\n\t\r\x01<>&", Path2: "\xff\xfe ünï \u2028\u2029"},
		{Kind: KindSyscall, Time: base, PID: 7, Syscall: "kill", Target: 1, Signal: "SIGKILL", Bytes: 5},
		{Kind: KindSyscall, Time: base, PID: 7, Syscall: "execve", Path: "/bin/sh", Argv: []string{"sh", "-c", "echo \"x\" > /tmp/y"}},
		{Kind: KindSyscall, Time: base, PID: 7, Syscall: "execve", Argv: []string{}},
		{Kind: KindExit, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), PID: 7, FD: -1, ExitCode: 3},
		{},
		{Kind: KindExit, Time: base.In(time.FixedZone("", -(5*3600 + 30*60 + 7))), PID: 7},
		{Kind: KindExit, Time: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Kind: KindExit, Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", 23*3600+59*60))},
		// The tcpdump sensor's events.
		{Kind: KindFlow, Time: base, Flow: &Flow{Proto: "TCP", Src: "10.62.1.2:40000", Dst: "1.2.3.4:443", Packets: 12, Bytes: 4096, First: base, Last: base.Add(time.Second), SawSYN: true, Outbound: true}},
		{Kind: KindFlow, Time: base, Flow: &Flow{}},
		{Kind: KindHTTP, Time: base, HTTP: &HTTPRequest{Src: "a:1", Dst: "b:8080", Method: "GET", Host: "x<y>", Path: "/a?b=c&d", CallID: "c-1"}},
		{Kind: KindHTTP, Time: base, HTTP: &HTTPRequest{}},
		{Kind: KindDNS, Time: base, DNS: &DNSQuery{Src: "a:53", Dst: "b:53", Name: "evil.example", Type: "TXT"}},
		{Kind: KindDNS, Time: base, PID: 3, CallID: "x", Flow: &Flow{}, HTTP: &HTTPRequest{}, DNS: &DNSQuery{}},
	} {
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if TimeErr(&ev) {
			t.Errorf("event %d: TimeErr, but json.Marshal takes it", i)
		}
		if got := AppendLine(nil, &ev); string(got) != string(want)+"\n" {
			t.Errorf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestTimeErr: the times json.Marshal refuses are the ones TimeErr names.
func TestTimeErr(t *testing.T) {
	base := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		ev   Event
		bad  bool
	}{
		{"ordinary", Event{Time: base}, false},
		{"zero", Event{}, false},
		{"year 10000", Event{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, true},
		{"year -1", Event{Time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}, true},
		{"year 0 by the offset", Event{Time: time.Date(0, 1, 1, 0, 30, 0, 0, time.UTC).In(time.FixedZone("", -3600))}, true},
		{"offset 23:59:59", Event{Time: base.In(time.FixedZone("", 24*3600-1))}, false},
		{"offset 24h", Event{Time: base.In(time.FixedZone("", 24*3600))}, true},
		{"offset -24h", Event{Time: base.In(time.FixedZone("", -24*3600))}, true},
		{"offset -23:59:59", Event{Time: base.In(time.FixedZone("", -(24*3600 - 1)))}, false},
		{"flow first", Event{Time: base, Flow: &Flow{First: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, true},
		{"flow last", Event{Time: base, Flow: &Flow{Last: base.In(time.FixedZone("", 100*3600))}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := json.Marshal(tt.ev)
			if (err != nil) != tt.bad || TimeErr(&tt.ev) != tt.bad {
				t.Errorf("json.Marshal: %v; TimeErr %v; want bad %v", err, TimeErr(&tt.ev), tt.bad)
			}
		})
	}
}

// FuzzAppendLine: for any event, AppendLine writes what json.Marshal
// writes, or json.Marshal fails and TimeErr says so.
func FuzzAppendLine(f *testing.F) {
	f.Add("syscall", int64(1764600000), int64(5), 0, "openat", int64(-1), "/etc/passwd", "ünï\xff<>&\u2028", "TCP", uint8(0))
	f.Add("flow", int64(-62135596800), int64(0), 3600, "", int64(0), "", "", "", uint8(7))
	f.Add("exit", int64(253402300800), int64(0), -86400, "", int64(0), "", "", "", uint8(1))
	f.Fuzz(func(t *testing.T, kind string, sec, nsec int64, off int, sc string, ret int64, path, s, proto string, parts uint8) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("", off))
		ev := Event{Kind: Kind(kind), Time: tm, PID: int(ret >> 3), Syscall: sc, Ret: ret, Thread: ret&1 == 1,
			Errno: s, FD: int(ret), Path: path, Path2: s, Flags: s, Mode: uint32(ret), Proto: proto,
			Local: s, Remote: path, Bytes: -ret, Signal: sc, ExitCode: int(ret), CallID: s}
		if parts&8 != 0 {
			ev.Argv = strings.Split(s, ",")
		}
		if parts&1 != 0 {
			ev.Flow = &Flow{Proto: proto, Src: s, Dst: path, Packets: int(ret), Bytes: ret, First: tm, Last: tm.Add(time.Duration(ret)), SawSYN: ret&2 != 0, Outbound: ret&4 != 0}
		}
		if parts&2 != 0 {
			ev.HTTP = &HTTPRequest{Src: s, Dst: path, Method: sc, Host: proto, Path: path, CallID: s}
		}
		if parts&4 != 0 {
			ev.DNS = &DNSQuery{Src: s, Dst: path, Name: sc, Type: proto}
		}
		want, err := json.Marshal(ev)
		if err != nil {
			if !TimeErr(&ev) {
				t.Fatalf("json.Marshal: %v; TimeErr false", err)
			}
			return
		}
		if TimeErr(&ev) {
			t.Fatalf("TimeErr, but json.Marshal takes it")
		}
		if got := AppendLine(nil, &ev); string(got) != string(want)+"\n" {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

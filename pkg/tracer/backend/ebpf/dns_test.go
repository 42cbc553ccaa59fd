package ebpf

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faasmon/faasmon/pkg/event"
)

// dnsQuery builds a query as a stub resolver sends it: a header with one
// question, recursion desired.
func dnsQuery(id uint16, name string, qtype uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, 1)
}

func TestDNSQuestion(t *testing.T) {
	q := dnsQuery(7, "api.example.com", 1)
	long := strings.Repeat("a", 63)
	name253 := strings.Join([]string{long, long, long, strings.Repeat("b", 61)}, ".")
	tcp := append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)
	resp := slices.Clone(q)
	resp[2] |= 0x80
	notQuery := slices.Clone(q)
	notQuery[2] |= 5 << 3 // UPDATE
	noQD := slices.Clone(q)
	noQD[5] = 0
	ptr := append(slices.Clone(q[:12]), 0xc0, 12, 0, 1, 0, 1)
	reserved := append(slices.Clone(q[:12]), 0x40, 'a', 0, 0, 1, 0, 1)
	over63 := append(slices.Clone(q[:12]), 64)
	over63 = append(over63, strings.Repeat("a", 64)...)
	over63 = append(over63, 0, 0, 1, 0, 1)
	ctl := dnsQuery(7, "a\x01b.example", 1)
	dot := append(slices.Clone(q[:12]), 3, 'a', '.', 'b', 0, 0, 1, 0, 1)
	for _, tc := range []struct {
		name     string
		msg      []byte
		tcp      bool
		want     string
		wantType string
	}{
		{"A", q, false, "api.example.com", "A"},
		{"AAAA", dnsQuery(8, "api.example.com", 28), false, "api.example.com", "AAAA"},
		{"TXT", dnsQuery(8, "_dmarc.example.com", 16), false, "_dmarc.example.com", "TXT"},
		{"over TCP: behind its length", tcp, true, "api.example.com", "A"},
		{"TCP length cuts the question", append(binary.BigEndian.AppendUint16(nil, 14), q...), true, "", ""},
		{"253 bytes", dnsQuery(1, name253, 1), false, name253, "A"},
		{"254 bytes", dnsQuery(1, name253+"c", 1), false, "", ""},
		{"response", resp, false, "", ""},
		{"not QUERY", notQuery, false, "", ""},
		{"no question", noQD, false, "", ""},
		{"compression pointer", ptr, false, "", ""},
		{"reserved label type", reserved, false, "", ""},
		{"label over 63", over63, false, "", ""},
		{"control byte", ctl, false, "", ""},
		{"dot in a label", dot, false, "", ""},
		{"root", dnsQuery(1, "", 2), false, "", ""},
		{"no type", q[:len(q)-4], false, "", ""},
		{"cut in the name", q[:20], false, "", ""},
		{"header only", q[:12], false, "", ""},
		{"empty", nil, false, "", ""},
		{"TCP without length", []byte{0}, true, "", ""},
	} {
		name, typ, ok := dnsQuestion(tc.msg, tc.tcp)
		if ok != (tc.want != "") || name != tc.want || typ != tc.wantType {
			t.Errorf("%s: %q %q %v, want %q %q", tc.name, name, typ, ok, tc.want, tc.wantType)
		}
	}
}

func FuzzDNSQuestion(f *testing.F) {
	f.Add(dnsQuery(1, "example.com", 1), false)
	f.Add(append([]byte{0, 29}, dnsQuery(1, "example.com", 28)...), true)
	f.Add(append(dnsQuery(1, "a", 1)[:12], 0xc0, 12, 0, 1, 0, 1), false)
	f.Fuzz(func(t *testing.T, msg []byte, tcp bool) {
		name, typ, ok := dnsQuestion(msg, tcp)
		if !ok {
			if name != "" || typ != "" {
				t.Fatalf("not ok but %q %q", name, typ)
			}
			return
		}
		if name == "" || len(name) > maxDNSName || typ == "" {
			t.Fatalf("name %q type %q from %x", name, typ, msg)
		}
		for _, l := range strings.Split(name, ".") {
			if l == "" || len(l) > 63 {
				t.Fatalf("label %q of %q", l, name)
			}
		}
		for _, c := range []byte(name) {
			if c <= ' ' || c > '~' {
				t.Fatalf("byte %#x in %q", c, name)
			}
		}
	})
}

func sockaddrIn6(ip [16]byte, port uint16) []byte {
	b := make([]byte, 28)
	le.PutUint16(b, unix.AF_INET6)
	b[2], b[3] = byte(port>>8), byte(port)
	copy(b[8:], ip[:])
	return b
}

// TestDecodeDNS: the records the kernel writes for DNS queries (shapeDNS)
// decode into the send's event and a KindDNS event with the question, the
// resolver's address from the fd table or the sockaddr the call named.
func TestDecodeDNS(t *testing.T) {
	resolver := sockaddrIn([4]byte{10, 96, 0, 10}, 53)
	q := dnsQuery(1, "db.internal", 1)
	connected := []rec{
		{nr: 41, pid: 10, ret: 4, args: [6]uint64{unix.AF_INET, unix.SOCK_DGRAM | unix.SOCK_CLOEXEC}},
		{nr: 42, pid: 10, args: [6]uint64{4, 0, 16}, bytes1: resolver},
	}
	dnsEv := func(dst, name, typ string) event.Event {
		return event.Event{Kind: event.KindDNS, PID: 10, DNS: &event.DNSQuery{Dst: dst, Name: name, Type: typ}}
	}
	tests := []struct {
		name string
		recs []rec
		want []event.Event
	}{
		{"write on a socket connected to 53 (Go)", append(slices.Clone(connected),
			rec{nr: 1, pid: 10, ret: int64(len(q)), args: [6]uint64{4}, dns: q}),
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "write", Ret: int64(len(q)), FD: 4, Proto: "UDP", Remote: "10.96.0.10:53", Bytes: int64(len(q))},
				dnsEv("10.96.0.10:53", "db.internal", "A")}},
		{"sendmmsg (glibc): the query alone", append(slices.Clone(connected),
			rec{nr: 307, pid: 10, ret: 2, args: [6]uint64{4}, dns: q}),
			[]event.Event{dnsEv("10.96.0.10:53", "db.internal", "A")}},
		{"sendto naming the resolver (musl) names the call's remote too", []rec{
			{nr: 41, pid: 10, ret: 5, args: [6]uint64{unix.AF_INET6, unix.SOCK_DGRAM}},
			{nr: 44, pid: 10, ret: int64(len(q)), args: [6]uint64{5}, dns: q, dnsAddr: sockaddrIn6([16]byte{15: 1}, 53)}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "sendto", Ret: int64(len(q)), FD: 5, Proto: "UDP", Remote: "[::1]:53", Bytes: int64(len(q))},
				dnsEv("[::1]:53", "db.internal", "A")}},
		{"TCP: behind its length", []rec{
			{nr: 41, pid: 10, ret: 4, args: [6]uint64{unix.AF_INET, unix.SOCK_STREAM}},
			{nr: 42, pid: 10, args: [6]uint64{4, 0, 16}, bytes1: resolver},
			{nr: 1, pid: 10, ret: int64(len(q) + 2), args: [6]uint64{4}, dns: append([]byte{0, byte(len(q))}, q...)}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "write", Ret: int64(len(q) + 2), FD: 4, Proto: "TCP", Remote: "10.96.0.10:53", Bytes: int64(len(q) + 2)},
				dnsEv("10.96.0.10:53", "db.internal", "A")}},
		{"a mark that outlived its socket: the fd is a file now", []rec{
			{nr: 257, pid: 10, ret: 4, args: [6]uint64{atFDCWD, 0, unix.O_WRONLY}, s1: "/tmp/out"},
			{nr: 1, pid: 10, ret: int64(len(q)), args: [6]uint64{4}, dns: q}},
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "write", Ret: int64(len(q)), FD: 4, Path: "/tmp/out", Bytes: int64(len(q))}}},
		{"not a query: the call alone", append(slices.Clone(connected),
			rec{nr: 1, pid: 10, ret: 20, args: [6]uint64{4}, dns: []byte("GET / HTTP/1.1\r\n\r\nxx")}),
			[]event.Event{{Kind: event.KindSyscall, PID: 10, Syscall: "write", Ret: 20, FD: 4, Proto: "UDP", Remote: "10.96.0.10:53", Bytes: 20}}},
		{"sendmmsg without a query: nothing", append(slices.Clone(connected),
			rec{nr: 307, pid: 10, ret: 1, args: [6]uint64{4}}),
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &Decoder{}
			var got []event.Event
			for _, r := range tc.recs {
				evs, err := d.Decode(r.bytes())
				if err != nil {
					t.Fatal(err)
				}
				got = evs
			}
			for i := range got {
				got[i].Time = time.Time{}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d events %+v, want %+v", len(got), got, tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if !same(g, w) || (g.DNS == nil) != (w.DNS == nil) || g.DNS != nil && *g.DNS != *w.DNS {
					t.Errorf("event %d:\n got %+v %+v\nwant %+v %+v", i, g, g.DNS, w, w.DNS)
				}
			}
			for _, e := range got {
				line, _ := appendLine(nil, e, 0)
				p, err := Parse(line)
				if err != nil || len(p.Events) != 1 {
					t.Fatalf("%s does not parse back: %v", line, err)
				}
			}
		})
	}
}

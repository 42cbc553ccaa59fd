package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/event"
)

// The call ids capture.sh sends.
const (
	cid1 = "1b2c3d4e-0000-4000-8000-000000000001" // inbound IPv4, query string on the URL
	cid2 = "1b2c3d4e-0000-4000-8000-000000000002" // inbound IPv6
	cid3 = "1b2c3d4e-0000-4000-8000-000000000003" // loopback hop inside the namespace
	cid4 = "1b2c3d4e-0000-4000-8000-000000000004" // after a long cookie: cut by the snap length
)

var localAddrs = []netip.Addr{netip.MustParseAddr("10.99.0.2"), netip.MustParseAddr("fd99::2")}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type wantFlow struct {
	proto, src, dst string
	packets         int
	syn, outbound   bool
}

type wantHTTP struct {
	method, host, path, callID string
}

func TestParseRealCaptures(t *testing.T) {
	inbound4 := wantFlow{"TCP", "10.99.0.1:55750", "10.99.0.2:8080", 12, true, false}
	inbound6 := wantFlow{"TCP", "[fd99::1]:38302", "[fd99::2]:8080", 12, true, false}
	loop := wantFlow{"TCP", "127.0.0.1:38656", "127.0.0.1:8080", 12, true, false}
	download := wantFlow{"TCP", "10.99.0.2:33628", "10.99.0.1:8081", 12, true, true}
	dnsA := wantFlow{"UDP", "10.99.0.2:38341", "10.99.0.1:53", 2, false, true}
	dnsLoop := wantFlow{"UDP", "127.0.0.1:58992", "127.0.0.1:53", 2, false, false}

	h1 := wantHTTP{"GET", "10.99.0.2:8080", "/index.html", cid1}
	h2 := wantHTTP{"GET", "[fd99::2]:8080", "/v6/index.html", cid2}
	h3 := wantHTTP{"GET", "127.0.0.1:8080", "/index.html", cid3}
	hDown := wantHTTP{"GET", "10.99.0.1:8081", "/payload.sh", ""}
	hPost := wantHTTP{"POST", "10.99.0.1:8081", "/exfil", ""}
	hCut := wantHTTP{"GET", "10.99.0.2:8080", "/index.html", ""}

	tests := []struct {
		file     string
		linkType string
		packets  int
		flows    []wantFlow
		http     []wantHTTP
		dns      []string // "name type"
	}{
		{"sll2_any.pcap", "Linux SLL2", 88,
			[]wantFlow{inbound4, inbound6, loop, download, dnsA, dnsLoop},
			[]wantHTTP{h1, h2, h3, hDown, hPost, hCut},
			[]string{"evil.faasmon.test A", "evil.faasmon.test AAAA", "local.faasmon.test A"}},
		{"sll1_any.pcap", "Linux SLL", 88,
			[]wantFlow{inbound4, inbound6, loop, download, dnsA, dnsLoop},
			[]wantHTTP{h1, h2, h3, hDown, hPost, hCut},
			[]string{"evil.faasmon.test A", "evil.faasmon.test AAAA", "local.faasmon.test A"}},
		{"eth_veth.pcap", "Ethernet", 74,
			[]wantFlow{inbound4, inbound6, download, dnsA},
			[]wantHTTP{h1, h2, hDown, hPost, hCut},
			[]string{"evil.faasmon.test A", "evil.faasmon.test AAAA"}},
		{"lo.pcap", "Ethernet", 14,
			[]wantFlow{loop, dnsLoop},
			[]wantHTTP{h3},
			[]string{"local.faasmon.test A"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b := readTestdata(t, tc.file)
			evs, st, err := ParseBytes(b, Options{Local: localAddrs})
			if err != nil {
				t.Fatal(err)
			}
			// The streaming reader gives the same result.
			evs2, st2, err := Parse(bytes.NewReader(b), Options{Local: localAddrs})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs2) != len(evs) || st2.Packets != st.Packets {
				t.Errorf("Parse and ParseBytes differ: %d/%d events, %d/%d packets", len(evs2), len(evs), st2.Packets, st.Packets)
			}
			if st.LinkType != tc.linkType || st.Packets != tc.packets || st.Undecodable != 0 {
				t.Errorf("stats = %+v, want link %q, %d packets, 0 undecodable", st, tc.linkType, tc.packets)
			}
			flows := map[string]*event.Flow{}
			var https []*event.HTTPRequest
			var dns []string
			for i, e := range evs {
				if i > 0 && e.Time.Before(evs[i-1].Time) {
					t.Errorf("event %d out of time order", i)
				}
				switch e.Kind {
				case event.KindFlow:
					flows[e.Flow.Proto+" "+e.Flow.Src+" "+e.Flow.Dst] = e.Flow
					if !e.Time.Equal(e.Flow.First) || e.Flow.Last.Before(e.Flow.First) || e.Flow.Bytes <= 0 {
						t.Errorf("flow %+v: bad times or bytes", e.Flow)
					}
				case event.KindHTTP:
					https = append(https, e.HTTP)
					if e.CallID != e.HTTP.CallID {
						t.Errorf("event CallID %q != HTTP.CallID %q", e.CallID, e.HTTP.CallID)
					}
				case event.KindDNS:
					dns = append(dns, e.DNS.Name+" "+e.DNS.Type)
				default:
					t.Errorf("unexpected kind %q", e.Kind)
				}
			}
			for _, w := range tc.flows {
				f := flows[w.proto+" "+w.src+" "+w.dst]
				if f == nil {
					t.Errorf("flow %s %s -> %s missing", w.proto, w.src, w.dst)
					continue
				}
				if f.Packets != w.packets || f.SawSYN != w.syn || f.Outbound != w.outbound {
					t.Errorf("flow %s -> %s = %d packets syn=%v outbound=%v, want %d %v %v",
						w.src, w.dst, f.Packets, f.SawSYN, f.Outbound, w.packets, w.syn, w.outbound)
				}
			}
			if len(https) != len(tc.http) {
				t.Fatalf("%d HTTP events, want %d: %+v", len(https), len(tc.http), https)
			}
			for i, w := range tc.http {
				g := https[i]
				if g.Method != w.method || g.Host != w.host || g.Path != w.path || g.CallID != w.callID {
					t.Errorf("http %d = %+v, want %+v", i, *g, w)
				}
			}
			if strings.Join(dns, ",") != strings.Join(tc.dns, ",") {
				t.Errorf("dns = %v, want %v", dns, tc.dns)
			}
		})
	}
}

// Nothing secret from the captures reaches the events: not the query string,
// not the Authorization header, not the POST body, not the cookie.
func TestNoSecretsInEvents(t *testing.T) {
	for _, f := range []string{"sll2_any.pcap", "sll1_any.pcap", "eth_veth.pcap"} {
		b := readTestdata(t, f)
		for _, secret := range []string{"s3cret", "TOPSECRET", "hunter2", "aaaaaaaa"} {
			if !bytes.Contains(b, []byte(secret)) && secret != "hunter2" {
				t.Fatalf("%s: capture no longer holds %q, test is void", f, secret)
			}
		}
		evs, _, err := ParseBytes(b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			s := strings.Join([]string{e.CallID, e.Path, fmtHTTP(e.HTTP)}, " ")
			for _, secret := range []string{"s3cret", "token", "TOPSECRET", "Bearer", "hunter2", "aaaaaaaa", "k=v"} {
				if strings.Contains(s, secret) {
					t.Errorf("%s: event %+v holds %q", f, e, secret)
				}
			}
		}
	}
}

func fmtHTTP(h *event.HTTPRequest) string {
	if h == nil {
		return ""
	}
	return h.Method + " " + h.Host + " " + h.Path + " " + h.CallID
}

func TestBadInput(t *testing.T) {
	good := readTestdata(t, "sll2_any.pcap")
	hdr := good[:24]
	rec := func(capLen, origLen uint32) []byte {
		r := make([]byte, 16)
		binary.LittleEndian.PutUint32(r[8:], capLen)
		binary.LittleEndian.PutUint32(r[12:], origLen)
		return r
	}
	otherLink := append([]byte(nil), hdr...)
	binary.LittleEndian.PutUint32(otherLink[20:], 147) // USER0
	pcapng := []byte{0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

	tests := []struct {
		name   string
		in     []byte
		want   error  // errors.Is target, or nil to only require an error
		substr string // in the message
		events bool   // some events come back with the error
	}{
		{"empty", nil, io.ErrUnexpectedEOF, "pcap header", false},
		{"short header", good[:10], io.ErrUnexpectedEOF, "pcap header", false},
		{"garbage", readTestdata(t, "garbage.bin"), ErrNotPcap, "unknown magic", false},
		{"pcapng", pcapng, ErrNotPcap, "pcapng", false},
		{"link type", otherLink, ErrLinkType, "pcap header", false},
		{"truncated", readTestdata(t, "truncated.pcap"), io.ErrUnexpectedEOF, "pcap packet ", true},
		{"header and random records", readTestdata(t, "header_garbage.pcap"), nil, "pcap packet 1:", false},
		{"record header cut", append(append([]byte(nil), hdr...), 1, 2, 3), io.ErrUnexpectedEOF, "pcap packet 1: record header", false},
		{"huge capture length", append(append([]byte(nil), hdr...), rec(1<<31, 1<<31)...), nil, "above the limit", false},
		{"caplen above origlen", append(append([]byte(nil), hdr...), rec(100, 50)...), nil, "above the original length", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []string{"bytes", "stream"} {
				var (
					evs []event.Event
					err error
				)
				if mode == "bytes" {
					evs, _, err = ParseBytes(tc.in, Options{})
				} else {
					evs, _, err = Parse(bytes.NewReader(tc.in), Options{})
				}
				if err == nil {
					t.Fatalf("%s: no error", mode)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("%s: error %v is not %v", mode, err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.substr) {
					t.Errorf("%s: error %q does not contain %q", mode, err, tc.substr)
				}
				if tc.events && len(evs) == 0 {
					t.Errorf("%s: no events from the packets before the error", mode)
				}
			}
		})
	}
}

func TestLimits(t *testing.T) {
	b := readTestdata(t, "sll2_any.pcap")
	_, st, err := ParseBytes(b, Options{MaxPackets: 10})
	if !errors.Is(err, ErrTooManyPackets) || st.Packets != 10 || !strings.Contains(err.Error(), "pcap packet 11") {
		t.Errorf("MaxPackets: err=%v packets=%d", err, st.Packets)
	}
	evs, st, err := ParseBytes(b, Options{MaxFlows: 2, MaxEvents: 1})
	if err != nil {
		t.Fatal(err)
	}
	var flows, others int
	for _, e := range evs {
		if e.Kind == event.KindFlow {
			flows++
		} else {
			others++
		}
	}
	if flows != 2 || others != 1 || st.FlowsDropped == 0 || st.EventsDropped == 0 {
		t.Errorf("MaxFlows/MaxEvents: %d flows, %d others, stats %+v", flows, others, st)
	}
}

// A SYN-ACK without its SYN still names the initiator as Src.
func TestSynAckOnly(t *testing.T) {
	b := readTestdata(t, "lo.pcap")
	// lo.pcap: packet 1 is the SYN of the HTTP flow; drop it.
	out := append([]byte(nil), b[:24]...)
	src, _ := newBytesSource(b)
	n := 0
	for {
		rec, data, err := src.next()
		if err != nil {
			break
		}
		n++
		if n == 1 {
			continue
		}
		out = append(out, b[src.off-len(data)-16:src.off]...)
		_ = rec
	}
	evs, _, err := ParseBytes(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == event.KindFlow && e.Flow.Proto == "TCP" {
			if e.Flow.Src != "127.0.0.1:38656" || e.Flow.SawSYN || e.Flow.Packets != 11 {
				t.Errorf("flow = %+v, want Src the client, no SYN, 11 packets", e.Flow)
			}
			return
		}
	}
	t.Fatal("no TCP flow")
}

func TestParseManualHTTP(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want event.HTTPRequest
	}{
		{"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Call-Id: abc\r\nCookie: z", true, event.HTTPRequest{Method: "GET", Host: "h", Path: "/a/b", CallID: "abc"}},
		{"GET /a HTTP/1.1\r\nx-call-id: abc\r\nHost: h\r\n\r\n", true, event.HTTPRequest{Method: "GET", Host: "h", Path: "/a", CallID: "abc"}},
		{"POST /a HTTP/1.1\r\nHost: h\r\nX-Call-Id: ab", true, event.HTTPRequest{Method: "POST", Host: "h", Path: "/a"}},
		{"GET http://evil.example:8080/x?q HTTP/1.1\r\n", true, event.HTTPRequest{Method: "GET", Host: "evil.example:8080", Path: "/x"}},
		{"CONNECT evil.example:443 HTTP/1.1\r\n", true, event.HTTPRequest{Method: "CONNECT", Host: "evil.example:443"}},
		{"GET /very/long/pa", true, event.HTTPRequest{Method: "GET", Path: "/very/long/pa"}},
		{"GET /x HTT", true, event.HTTPRequest{Method: "GET", Path: "/x"}},
		{"GET /x HTTP/2.0\r\n", false, event.HTTPRequest{}},
		{"GET /x\r\n", false, event.HTTPRequest{}},
		{"GET  HTTP/1.1\r\n", false, event.HTTPRequest{}},
	}
	var h httpParser
	for _, tc := range tests {
		got, _, ok := h.parse([]byte(tc.in))
		if ok != tc.ok {
			t.Errorf("%q: ok=%v", tc.in, ok)
			continue
		}
		if ok && *got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.in, *got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"sll2_any.pcap", "sll1_any.pcap", "eth_veth.pcap", "lo.pcap", "truncated.pcap", "garbage.bin", "header_garbage.pcap"} {
		b := readTestdata(f, name)
		f.Add(b)
		// Each packet alone too: small inputs mutate into new paths faster.
		if src, err := newBytesSource(b); err == nil {
			for {
				start := src.off
				if _, _, err := src.next(); err != nil {
					break
				}
				f.Add(append(append([]byte(nil), b[:globalHeaderLen]...), b[start:src.off]...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		opt := Options{Local: localAddrs, MaxPackets: 4096, MaxFlows: 256, MaxEvents: 256}
		evs, st, err := ParseBytes(b, opt)
		evs2, st2, err2 := Parse(bytes.NewReader(b), opt)
		if (err == nil) != (err2 == nil) || len(evs) != len(evs2) || st.Packets != st2.Packets {
			t.Fatalf("ParseBytes and Parse differ: %v/%v, %d/%d events", err, err2, len(evs), len(evs2))
		}
		if st.Packets > opt.MaxPackets || len(evs) > opt.MaxFlows+opt.MaxEvents {
			t.Fatalf("limits exceeded: %d packets, %d events", st.Packets, len(evs))
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data := readTestdata(b, "sll2_any.pcap")
	// A larger chunk: the capture's packets repeated, as one pcap.
	big := append([]byte(nil), data...)
	for len(big) < 1<<20 {
		big = append(big, data[24:]...)
	}
	_, st, err := ParseBytes(big, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		parse func() error
	}{
		{"bytes", func() error { _, _, err := ParseBytes(big, Options{Local: localAddrs}); return err }},
		{"reader", func() error { _, _, err := Parse(bytes.NewReader(big), Options{Local: localAddrs}); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(big)))
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.parse(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(st.Packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}

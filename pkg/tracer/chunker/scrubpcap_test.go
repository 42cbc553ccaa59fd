package chunker

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/parse/pcap"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func frame(t *testing.T, udp bool, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.IP{10, 62, 3, 1}, DstIP: net.IP{10, 62, 3, 2}}
	var l4 gopacket.SerializableLayer
	if udp {
		ip.Protocol = layers.IPProtocolUDP
		u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		u.SetNetworkLayerForChecksum(ip)
		l4 = u
	} else {
		ip.Protocol = layers.IPProtocolTCP
		tc := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), PSH: true, ACK: true, Window: 512}
		tc.SetNetworkLayerForChecksum(ip)
		l4 = tc
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, l4, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestScrubPacket plants credentials in a request's head and body, in a
// response and in a non-DNS datagram, scrubs the frames as the tracer's
// PcapReader does, and checks with pkg/parse/pcap (faasmon-parse's parser) that
// the request line, Host, X-Call-Id and the DNS name are still read.
func TestScrubPacket(t *testing.T) {
	req := "POST /charge?card=1&password=CANARY-Q HTTP/1.1\r\nHost: fn.local:8080\r\nAuthorization: Bearer CANARY-A\r\nX-Vault-Token: CANARY-V\r\nX-Call-Id: pc-1\r\nContent-Type: application/json\r\n\r\n{\"password\":\"CANARY-J\"}"
	dnsq := &layers.DNS{ID: 7, RD: true, QDCount: 1, Questions: []layers.DNSQuestion{{Name: []byte("api.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	db := gopacket.NewSerializeBuffer()
	if err := dnsq.SerializeTo(db, gopacket.SerializeOptions{}); err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{
		frame(t, false, 41000, 8080, []byte(req)),
		frame(t, false, 8080, 41000, []byte("HTTP/1.1 200 OK\r\nSet-Cookie: s=CANARY-R\r\n\r\nCANARY-R")),
		frame(t, true, 5353, 53, db.Bytes()),
		frame(t, true, 5000, 9999, []byte("token=CANARY-U")),
	}
	var capture bytes.Buffer
	w := pcapgo.NewWriter(&capture)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		ScrubPacket(linkEthernet, f)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(f), Length: len(f)}, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"CANARY-Q", "CANARY-A", "CANARY-V", "CANARY-J", "CANARY-R", "CANARY-U"} {
		if bytes.Contains(capture.Bytes(), []byte(c)) {
			t.Errorf("%s left in the capture", c)
		}
	}
	evs, _, err := pcap.ParseBytes(capture.Bytes(), pcap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var h *event.HTTPRequest
	var d *event.DNSQuery
	for _, e := range evs {
		if e.HTTP != nil {
			h = e.HTTP
		}
		if e.DNS != nil {
			d = e.DNS
		}
	}
	if h == nil || h.Method != "POST" || h.Host != "fn.local:8080" || h.CallID != "pc-1" || !strings.HasPrefix(h.Path, "/charge") {
		t.Errorf("HTTP event after scrubbing: %+v", h)
	}
	if d == nil || d.Name != "api.example.com" {
		t.Errorf("DNS event after scrubbing: %+v", d)
	}
}

func FuzzScrubPacket(f *testing.F) {
	f.Add(uint32(linkEthernet), []byte("\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00E\x00\x00\x28\x00\x00\x00\x00\x40\x06\x00\x00\x0a\x3e\x03\x01\x0a\x3e\x03\x02\xa0\x28\x1f\x90\x00\x00\x00\x00\x00\x00\x00\x00\x50\x18\x02\x00\x00\x00\x00\x00GET /?token=x HTTP/1.1\r\nA: b\r\n\r\nbody"))
	f.Add(uint32(linkSLL2), []byte{})
	f.Fuzz(func(t *testing.T, link uint32, b []byte) {
		n := len(b)
		ScrubPacket(link, b)
		if len(b) != n {
			t.Fatal("length changed")
		}
	})
}

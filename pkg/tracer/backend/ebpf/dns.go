package ebpf

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket/layers"

	"github.com/faasmon/faasmon/pkg/event"
)

// isDNSCall says whether records of syscall nr may carry a DNS query
// (shapeDNS).
func isDNSCall(nr uint64) bool {
	switch nr {
	case nrWrite, nrSendto, nrSendmsg, nrSendmmsg:
		return true
	}
	return false
}

// maxDNSName bounds a question's name (RFC 1035: 255 bytes on the wire,
// 253 written out without the final dot).
const maxDNSName = 253

// dnsEvent turns the query a send carried (r.dns) into the KindDNS event
// the pcap parser would have made of its packet: the question's name and
// type, the sender's address (when the fd table knows it) and the
// resolver's (the sockaddr the call named, else the fd's remote end). A
// destination that is not port 53 (the kernel's mark of a connected
// socket outlived it: an fd reused after exec) or data that is not a
// query with a readable question gives nothing.
func dnsEvent(ev *event.Event, r *raw) (event.Event, bool) {
	dst := ev.Remote
	if a, _ := sockaddr(r.dnsAddr, int32(len(r.dnsAddr))); a != "" {
		dst = a
	}
	ap, err := netip.ParseAddrPort(dst)
	if err != nil || ap.Port() != 53 {
		return event.Event{}, false
	}
	// Over TCP a message is behind its 2-byte length; a sendto naming
	// port 53 is UDP.
	name, typ, ok := dnsQuestion(r.dns, ev.Proto == "TCP" && len(r.dnsAddr) == 0)
	if !ok {
		return event.Event{}, false
	}
	return event.Event{Kind: event.KindDNS, Time: ev.Time, PID: ev.PID, DNS: &event.DNSQuery{
		Src: ev.Local, Dst: dst, Name: name, Type: typ,
	}}, true
}

// dnsQuestion reads the first question of the DNS query msg (at most
// dnsMax bytes, from a process: hostile). A response, another opcode
// than QUERY, no question, a compression pointer or reserved label type,
// a label over 63 bytes, a name over maxDNSName, a byte that is not
// printable ASCII (or a dot inside a label), a name or question cut short:
// ok is false. It reads each byte at most once and allocates only the
// name.
func dnsQuestion(msg []byte, tcp bool) (name, qtype string, ok bool) {
	if tcp {
		if len(msg) < 2 {
			return "", "", false
		}
		n := int(binary.BigEndian.Uint16(msg))
		msg = msg[2:]
		if n < len(msg) {
			msg = msg[:n]
		}
	}
	if len(msg) < dnsMin {
		return "", "", false
	}
	if msg[2]&0x80 != 0 || (msg[2]>>3)&0xf != 0 || binary.BigEndian.Uint16(msg[4:]) == 0 {
		return "", "", false
	}
	var buf [maxDNSName]byte
	n := 0
	i := 12
	for {
		if i >= len(msg) {
			return "", "", false
		}
		l := int(msg[i])
		i++
		if l == 0 {
			break
		}
		// 0xC0 is a compression pointer (nothing precedes the first
		// name for it to point at), 0x40 and 0x80 are reserved.
		if l > 63 || i+l > len(msg) {
			return "", "", false
		}
		if n > 0 {
			if n == maxDNSName {
				return "", "", false
			}
			buf[n] = '.'
			n++
		}
		if n+l > maxDNSName {
			return "", "", false
		}
		for _, c := range msg[i : i+l] {
			if c <= ' ' || c > '~' || c == '.' {
				return "", "", false
			}
			buf[n] = c
			n++
		}
		i += l
	}
	if n == 0 || i+4 > len(msg) {
		return "", "", false // the root, or no type and class
	}
	return string(buf[:n]), layers.DNSType(binary.BigEndian.Uint16(msg[i:])).String(), true
}

package chunker

import (
	"bytes"
	"encoding/binary"

	"github.com/faasmon/faasmon/pkg/parse/strace"
)

// Packets keep, like strace lines (pkg/parse/strace/scrub.go), only what
// detection needs: tcpdump's snap length still holds the first bytes of
// every payload — a request's header block with its tokens, the start of
// bodies, responses. ScrubPacket runs on each record before it joins a
// chunk, in place and keeping every length so that the record stays a
// valid capture: an HTTP request keeps its request line (credentials
// masked), Host and X-Call-Id; every other header value, the body and all
// other TCP payloads are overwritten, except DNS (port 53, UDP or TCP);
// UDP loses every payload but DNS. Headers, ports and lengths — the flows — stay.

// ScrubPacket scrubs one captured frame of link type link in place.
func ScrubPacket(link uint32, frame []byte) {
	proto, sport, dport, payload := transport(link, frame)
	switch {
	case len(payload) == 0:
	case proto == 6 && requestStart(payload):
		scrubRequest(payload)
	case sport == 53 || dport == 53:
		// DNS (UDP, or TCP for long answers): names are what detection reads.
	case proto == 6 || proto == 17:
		clear(payload)
	}
}

func requestStart(p []byte) bool {
	for _, m := range httpMethods {
		if bytes.HasPrefix(p, m) {
			return true
		}
	}
	return false
}

// scrubRequest masks an HTTP request head in place.
func scrubRequest(p []byte) {
	first := true
	for off := 0; off < len(p); {
		end := bytes.IndexByte(p[off:], '\n')
		complete := end >= 0
		if !complete {
			end = len(p) - off
		}
		line := p[off : off+end]
		switch {
		case first:
			strace.MaskURLInPlace(line)
			first = false
		case len(bytes.TrimRight(line, "\r")) == 0:
			// End of the head: the body goes.
			for k := off + end + 1; k < len(p); k++ {
				p[k] = '*'
			}
			return
		default:
			name, _, found := bytes.Cut(line, []byte(":"))
			keep := found && complete && (bytes.EqualFold(bytes.TrimSpace(name), []byte("Host")) || bytes.EqualFold(bytes.TrimSpace(name), []byte("X-Call-Id")))
			if !keep {
				start := len(name) + 1
				if !found {
					start = 0
				}
				for k := start; k < len(line); k++ {
					if line[k] != '\r' {
						line[k] = '*'
					}
				}
			}
		}
		off += end + 1
	}
}

// transport finds the IP protocol, ports and payload of a captured frame.
func transport(link uint32, b []byte) (proto byte, sport, dport uint16, payload []byte) {
	var ether uint16
	switch link {
	case linkSLL2:
		if len(b) < 20 {
			return
		}
		ether, b = binary.BigEndian.Uint16(b[0:2]), b[20:]
	case linkSLL:
		if len(b) < 16 {
			return
		}
		ether, b = binary.BigEndian.Uint16(b[14:16]), b[16:]
	case linkEthernet:
		if len(b) < 14 {
			return
		}
		ether, b = binary.BigEndian.Uint16(b[12:14]), b[14:]
	case linkRaw:
		if len(b) == 0 {
			return
		}
		ether = 0x0800
		if b[0]>>4 == 6 {
			ether = 0x86dd
		}
	default:
		return
	}
	switch ether {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return
		}
		proto, b = b[9], b[ihl:]
	case 0x86dd:
		// Extension headers are not followed.
		if len(b) < 40 {
			return
		}
		proto, b = b[6], b[40:]
	default:
		return
	}
	switch proto {
	case 6:
		if len(b) < 20 {
			return proto, 0, 0, nil
		}
		off := int(b[12]>>4) * 4
		if off < 20 || len(b) < off {
			return proto, 0, 0, nil
		}
		return proto, binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]), b[off:]
	case 17:
		if len(b) < 8 {
			return proto, 0, 0, nil
		}
		return proto, binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]), b[8:]
	}
	return proto, 0, 0, nil
}

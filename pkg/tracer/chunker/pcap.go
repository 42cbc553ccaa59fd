package chunker

import (
	"bytes"
	"encoding/binary"
	"io"
	"time"
)

// Link types tcpdump writes; -i any gives LINUX_SLL2 (tcpdump ≥ 4.99) or
// LINUX_SLL.
const (
	linkEthernet = 1
	linkRaw      = 101
	linkSLL      = 113
	linkSLL2     = 276
)

// maxRecord bounds a record's captured length: anything larger means the
// stream is corrupt (tcpdump's -s is far smaller), not a big packet.
const maxRecord = 1 << 18

// PcapReader splits a pcap stream (tcpdump -w -) into records.
type PcapReader struct {
	r       io.Reader
	header  [24]byte
	order   binary.ByteOrder
	nanos   bool
	link    uint32
	maxData int
}

// NewPcapReader reads the stream's 24-byte global header. Records are later
// shortened so that header+record never exceed maxUnit bytes.
func NewPcapReader(r io.Reader, maxUnit int) (*PcapReader, error) {
	p := &PcapReader{r: r, maxData: maxUnit - 16}
	if _, err := io.ReadFull(r, p.header[:]); err != nil {
		return nil, pcapErr("global header: %v", err)
	}
	switch {
	case bytes.Equal(p.header[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}):
		p.order = binary.LittleEndian
	case bytes.Equal(p.header[:4], []byte{0xa1, 0xb2, 0xc3, 0xd4}):
		p.order = binary.BigEndian
	case bytes.Equal(p.header[:4], []byte{0x4d, 0x3c, 0xb2, 0xa1}):
		p.order, p.nanos = binary.LittleEndian, true
	case bytes.Equal(p.header[:4], []byte{0xa1, 0xb2, 0x3c, 0x4d}):
		p.order, p.nanos = binary.BigEndian, true
	default:
		return nil, pcapErr("bad magic % x", p.header[:4])
	}
	p.link = p.order.Uint32(p.header[20:24]) & 0x0fffffff
	if p.maxData < 1 {
		return nil, pcapErr("unit limit %d too small", maxUnit)
	}
	return p, nil
}

// GlobalHeader is the 24 bytes every chunk of this stream starts with.
func (p *PcapReader) GlobalHeader() []byte { return append([]byte(nil), p.header[:]...) }

// LinkType is the stream's link-layer type.
func (p *PcapReader) LinkType() uint32 { return p.link }

// Next returns the next record (16-byte record header and data) as a Unit
// stamped with the packet's time, and the X-Call-Id when the packet's TCP
// payload begins an HTTP request that carries one.
func (p *PcapReader) Next() (Unit, bool, error) {
	var rh [16]byte
	if _, err := io.ReadFull(p.r, rh[:]); err != nil {
		if err == io.EOF {
			return Unit{}, false, io.EOF
		}
		return Unit{}, false, pcapErr("record header: %v", err)
	}
	sec := p.order.Uint32(rh[0:4])
	frac := p.order.Uint32(rh[4:8])
	incl := p.order.Uint32(rh[8:12])
	if incl > maxRecord {
		return Unit{}, false, pcapErr("record of %d bytes", incl)
	}
	data := make([]byte, 16+int(incl))
	copy(data, rh[:])
	if _, err := io.ReadFull(p.r, data[16:]); err != nil {
		return Unit{}, false, pcapErr("record data: %v", err)
	}
	truncated := false
	if int(incl) > p.maxData {
		// Shorten the capture, keep orig_len: still a valid record.
		data = data[:16+p.maxData]
		p.order.PutUint32(data[8:12], uint32(p.maxData))
		truncated = true
	}
	ns := int64(frac)
	if !p.nanos {
		ns *= 1000
	}
	u := Unit{Data: data, At: time.Unix(int64(sec), ns)}
	// Scrub before anything else reads the record: only what detection
	// needs leaves the node (ScrubPacket).
	ScrubPacket(p.link, data[16:])
	u.CallID = httpCallID(tcpPayload(p.link, data[16:]))
	return u, truncated, nil
}

// tcpPayload finds the TCP payload of a captured frame, or nil.
func tcpPayload(link uint32, b []byte) []byte {
	var proto uint16
	switch link {
	case linkSLL2:
		if len(b) < 20 {
			return nil
		}
		proto, b = binary.BigEndian.Uint16(b[0:2]), b[20:]
	case linkSLL:
		if len(b) < 16 {
			return nil
		}
		proto, b = binary.BigEndian.Uint16(b[14:16]), b[16:]
	case linkEthernet:
		if len(b) < 14 {
			return nil
		}
		proto, b = binary.BigEndian.Uint16(b[12:14]), b[14:]
	case linkRaw:
		if len(b) == 0 {
			return nil
		}
		proto = 0x0800
		if b[0]>>4 == 6 {
			proto = 0x86dd
		}
	default:
		return nil
	}
	switch proto {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 || b[9] != 6 {
			return nil
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return nil
		}
		b = b[ihl:]
	case 0x86dd:
		// Extension headers are not followed: a request to a function comes
		// without them.
		if len(b) < 40 || b[6] != 6 {
			return nil
		}
		b = b[40:]
	default:
		return nil
	}
	if len(b) < 20 {
		return nil
	}
	off := int(b[12]>>4) * 4
	if off < 20 || len(b) < off {
		return nil
	}
	return b[off:]
}

var httpMethods = [][]byte{
	[]byte("GET "), []byte("POST "), []byte("PUT "), []byte("DELETE "), []byte("PATCH "),
	[]byte("HEAD "), []byte("OPTIONS "),
}

// httpCallID returns the X-Call-Id of an HTTP request's head in payload.
func httpCallID(payload []byte) string {
	if len(payload) < 16 {
		return ""
	}
	isReq := false
	for _, m := range httpMethods {
		if bytes.HasPrefix(payload, m) {
			isReq = true
			break
		}
	}
	if !isReq {
		return ""
	}
	lower := bytes.ToLower(payload)
	i := bytes.Index(lower, []byte("\r\nx-call-id:"))
	if i < 0 {
		return ""
	}
	v := bytes.TrimLeft(payload[i+len("\r\nx-call-id:"):], " ")
	end := 0
	for end < len(v) && end < 128 && v[end] != '\r' && v[end] != '\n' {
		end++
	}
	if end == 0 {
		return "?"
	}
	return string(v[:end])
}

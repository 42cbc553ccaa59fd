package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// The classic pcap file format (what `tcpdump -w` writes): a 24-byte global
// header, then per packet a 16-byte record header and the captured bytes.
//
// This is a small bounded reader rather than gopacket's pcapgo.Reader:
// pcapgo's package also holds its AF_PACKET capture code, which imports
// golang.org/x/net/bpf, and that module has no go.sum entry in this repo.
// The checks are the same as pcapgo's (magic, version 2.x, capture length
// not above the limit nor above the original length).

const (
	globalHeaderLen = 24
	recordHeaderLen = 16

	magicMicro     = 0xa1b2c3d4
	magicNano      = 0xa1b23c4d
	magicMicroSwap = 0xd4c3b2a1
	magicNanoSwap  = 0x4d3cb2a1
	magicPcapng    = 0x0a0d0d0a

	// MaxCaptureLen is the longest packet record accepted: libpcap's
	// MAXIMUM_SNAPLEN. A longer record is an error, so a corrupt length field
	// cannot make the reader allocate more than this.
	MaxCaptureLen = 262144
)

// ErrNotPcap is returned for input that does not start with a pcap header.
var ErrNotPcap = errors.New("not a pcap file")

type fileHeader struct {
	order    binary.ByteOrder
	nanos    bool
	snaplen  uint32
	linkType uint16
}

func parseFileHeader(b []byte) (fileHeader, error) {
	var h fileHeader
	if len(b) < globalHeaderLen {
		return h, fmt.Errorf("%w: %d bytes, need %d for the header", io.ErrUnexpectedEOF, len(b), globalHeaderLen)
	}
	switch m := binary.LittleEndian.Uint32(b); m {
	case magicMicro:
		h.order = binary.LittleEndian
	case magicNano:
		h.order, h.nanos = binary.LittleEndian, true
	case magicMicroSwap:
		h.order = binary.BigEndian
	case magicNanoSwap:
		h.order, h.nanos = binary.BigEndian, true
	case magicPcapng:
		return h, fmt.Errorf("%w: pcapng is not supported (capture with tcpdump -w, not --pcapng)", ErrNotPcap)
	default:
		return h, fmt.Errorf("%w: unknown magic %#08x", ErrNotPcap, m)
	}
	if v := h.order.Uint16(b[4:6]); v != 2 {
		return h, fmt.Errorf("%w: unknown major version %d", ErrNotPcap, v)
	}
	h.snaplen = h.order.Uint32(b[16:20])
	// The upper bits of the link-type field carry FCS information.
	h.linkType = uint16(h.order.Uint32(b[20:24]))
	return h, nil
}

type record struct {
	ts      time.Time
	capLen  int
	origLen int
}

func (h *fileHeader) parseRecord(b []byte) (record, error) {
	sec := h.order.Uint32(b[0:4])
	frac := h.order.Uint32(b[4:8])
	capLen := h.order.Uint32(b[8:12])
	origLen := h.order.Uint32(b[12:16])
	var r record
	if capLen > MaxCaptureLen {
		return r, fmt.Errorf("capture length %d above the limit %d", capLen, MaxCaptureLen)
	}
	if capLen > origLen {
		return r, fmt.Errorf("capture length %d above the original length %d", capLen, origLen)
	}
	ns := int64(frac)
	if !h.nanos {
		ns *= 1000
	}
	r.ts = time.Unix(int64(sec), ns).UTC()
	r.capLen = int(capLen)
	// origLen is a uint32 from the file; int is 64 bits on every platform
	// this runs on, and on 32-bit it is clamped.
	if uint64(origLen) > uint64(^uint(0)>>1) {
		r.origLen = int(^uint(0) >> 1)
	} else {
		r.origLen = int(origLen)
	}
	return r, nil
}

// source yields packet records; the data slice is valid until the next call.
type source interface {
	header() fileHeader
	next() (record, []byte, error) // io.EOF at a clean end
}

// bytesSource reads from memory without copying.
type bytesSource struct {
	h   fileHeader
	b   []byte
	off int
}

func newBytesSource(b []byte) (*bytesSource, error) {
	h, err := parseFileHeader(b)
	if err != nil {
		return nil, err
	}
	return &bytesSource{h: h, b: b, off: globalHeaderLen}, nil
}

func (s *bytesSource) header() fileHeader { return s.h }

func (s *bytesSource) next() (record, []byte, error) {
	rest := s.b[s.off:]
	if len(rest) == 0 {
		return record{}, nil, io.EOF
	}
	if len(rest) < recordHeaderLen {
		return record{}, nil, fmt.Errorf("record header: %w (%d of %d bytes)", io.ErrUnexpectedEOF, len(rest), recordHeaderLen)
	}
	r, err := s.h.parseRecord(rest)
	if err != nil {
		return r, nil, err
	}
	rest = rest[recordHeaderLen:]
	if len(rest) < r.capLen {
		return r, nil, fmt.Errorf("packet data: %w (%d of %d bytes)", io.ErrUnexpectedEOF, len(rest), r.capLen)
	}
	s.off += recordHeaderLen + r.capLen
	return r, rest[:r.capLen:r.capLen], nil
}

// streamSource reads from an io.Reader into one reused buffer.
type streamSource struct {
	h   fileHeader
	r   *bufio.Reader
	hdr [recordHeaderLen]byte
	buf []byte
}

func newStreamSource(r io.Reader) (*streamSource, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var gh [globalHeaderLen]byte
	n, err := io.ReadFull(br, gh[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	h, err := parseFileHeader(gh[:n])
	if err != nil {
		return nil, err
	}
	return &streamSource{h: h, r: br}, nil
}

func (s *streamSource) header() fileHeader { return s.h }

func (s *streamSource) next() (record, []byte, error) {
	n, err := io.ReadFull(s.r, s.hdr[:])
	if err == io.EOF {
		return record{}, nil, io.EOF
	}
	if err != nil {
		return record{}, nil, fmt.Errorf("record header: %w (%d of %d bytes)", err, n, recordHeaderLen)
	}
	r, err := s.h.parseRecord(s.hdr[:])
	if err != nil {
		return r, nil, err
	}
	if cap(s.buf) < r.capLen {
		// Bounded by MaxCaptureLen; grows to the snap length once.
		s.buf = make([]byte, r.capLen)
	}
	data := s.buf[:r.capLen]
	if n, err := io.ReadFull(s.r, data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return r, nil, fmt.Errorf("packet data: %w (%d of %d bytes)", err, n, r.capLen)
	}
	return r, data, nil
}

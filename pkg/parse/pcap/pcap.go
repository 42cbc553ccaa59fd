package pcap

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"time"

	"github.com/faasmon/faasmon/pkg/event"
	"github.com/gopacket/gopacket/layers"
)

// Defaults for the Options limits.
const (
	DefaultMaxPackets = 1 << 20
	DefaultMaxFlows   = 1 << 14
	DefaultMaxEvents  = 1 << 16
)

// ErrTooManyPackets is returned (wrapped) when a chunk holds more than
// Options.MaxPackets packets; the events of the packets before are returned.
var ErrTooManyPackets = errors.New("too many packets in chunk")

// ErrLinkType is returned (wrapped) for a link type this package cannot decode.
var ErrLinkType = errors.New("unsupported link type")

// Options tune Parse. The zero value is usable.
type Options struct {
	// Local holds the addresses of the function's network namespace (its
	// pod/veth address, e.g. 10.62.3.2). A flow whose initiator (Src) is
	// local and whose other end is neither local nor loopback is Outbound.
	// Empty: Outbound is never set.
	Local []netip.Addr
	// MaxPackets is the most packets read from one chunk (default
	// DefaultMaxPackets); more is an ErrTooManyPackets error.
	MaxPackets int
	// MaxFlows is the most distinct flows tracked per chunk (default
	// DefaultMaxFlows); packets of further flows are counted in
	// Stats.FlowsDropped and not aggregated.
	MaxFlows int
	// MaxEvents is the most HTTP and DNS events per chunk (default
	// DefaultMaxEvents); further ones are counted in Stats.EventsDropped.
	MaxEvents int
}

// Stats describes what Parse read.
type Stats struct {
	LinkType string `json:"link_type"`
	// Packets is the number of packet records read.
	Packets int `json:"packets"`
	// Undecodable counts packets whose link, IP or TCP/UDP header could not
	// be decoded; Errors holds the first few reasons with packet numbers.
	Undecodable int `json:"undecodable,omitempty"`
	// Other counts decoded packets that are not TCP/UDP (ARP, ICMP, IPv6
	// neighbour discovery, non-first IP fragments...).
	Other int `json:"other,omitempty"`
	// Truncated counts packets the snap length cut (captured < original).
	Truncated int `json:"truncated,omitempty"`
	// HTTPPartial counts HTTP requests read from an incomplete header block
	// (cut by the snap length or by TCP segmentation).
	HTTPPartial int `json:"http_partial,omitempty"`
	// BadDNS counts port-53 payloads that were not a readable DNS query.
	BadDNS int `json:"bad_dns,omitempty"`
	// FlowsDropped counts packets not aggregated because MaxFlows was hit;
	// EventsDropped counts HTTP/DNS events dropped because MaxEvents was hit.
	FlowsDropped  int      `json:"flows_dropped,omitempty"`
	EventsDropped int      `json:"events_dropped,omitempty"`
	Errors        []string `json:"errors,omitempty"`
}

const maxStatErrors = 5

func (s *Stats) undecodable(n int, err error) {
	s.Undecodable++
	if len(s.Errors) < maxStatErrors {
		s.Errors = append(s.Errors, fmt.Sprintf("pcap packet %d: %v", n, err))
	}
}

// Parse reads one pcap chunk from r and returns its events sorted by time
// (flows at the time of their first packet). It streams: memory does not grow
// with the input beyond the Options limits.
//
// On error (bad header, truncated record, too many packets) the events of the
// packets read before the error are returned with it; errors name the packet
// number ("pcap packet 7: ...", counted from 1).
func Parse(r io.Reader, opt Options) ([]event.Event, Stats, error) {
	src, err := newStreamSource(r)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("pcap header: %w", err)
	}
	return parse(src, opt)
}

// ParseBytes is Parse for a chunk already in memory; it does not copy the
// packet data.
func ParseBytes(b []byte, opt Options) ([]event.Event, Stats, error) {
	src, err := newBytesSource(b)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("pcap header: %w", err)
	}
	return parse(src, opt)
}

func parse(src source, opt Options) ([]event.Event, Stats, error) {
	if opt.MaxPackets <= 0 {
		opt.MaxPackets = DefaultMaxPackets
	}
	if opt.MaxFlows <= 0 {
		opt.MaxFlows = DefaultMaxFlows
	}
	if opt.MaxEvents <= 0 {
		opt.MaxEvents = DefaultMaxEvents
	}
	h := src.header()
	lt := layers.LinkType(h.linkType)
	st := Stats{LinkType: lt.String()}
	first, ok := firstLayer(lt)
	if !ok {
		return nil, st, fmt.Errorf("pcap header: %w %d (%s)", ErrLinkType, h.linkType, lt)
	}
	d := newDecoder(first, opt)
	var err error
	for {
		rec, data, rerr := src.next()
		if rerr == io.EOF {
			break
		}
		n := st.Packets + 1
		if rerr != nil {
			err = fmt.Errorf("pcap packet %d: %w", n, rerr)
			break
		}
		if n > opt.MaxPackets {
			err = fmt.Errorf("pcap packet %d: %w (limit %d)", n, ErrTooManyPackets, opt.MaxPackets)
			break
		}
		st.Packets = n
		if rec.capLen < rec.origLen {
			st.Truncated++
		}
		d.packet(n, rec, data, &st)
	}
	return d.finish(), st, err
}

// flowKey identifies a flow independent of direction: a is the lower
// endpoint.
type flowKey struct {
	proto uint8
	a, b  netip.AddrPort
}

type flowState struct {
	src, dst netip.AddrPort
	proto    uint8
	packets  int
	bytes    int64
	first    time.Time
	last     time.Time
	sawSYN   bool
	sawSYNAK bool
	// the sequence number of the last HTTP request seen from src, to skip
	// retransmissions of the same segment.
	reqSeq uint32
	hasReq bool
}

func newFlowKey(proto uint8, s, d netip.AddrPort) flowKey {
	if lessAddrPort(d, s) {
		s, d = d, s
	}
	return flowKey{proto: proto, a: s, b: d}
}

func lessAddrPort(x, y netip.AddrPort) bool {
	if c := x.Addr().Compare(y.Addr()); c != 0 {
		return c < 0
	}
	return x.Port() < y.Port()
}

const (
	protoTCP = 6
	protoUDP = 17
)

type decoder struct {
	first   gopacketLayerType
	opt     Options
	eth     layers.Ethernet
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	loop    layers.Loopback
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	dns     layers.DNS
	http    httpParser
	flows   map[flowKey]*flowState
	order   []*flowState
	events  []event.Event
	nEvents int
	trunc   bool
}

// SetTruncated implements gopacket.DecodeFeedback.
func (d *decoder) SetTruncated() { d.trunc = true }

func newDecoder(first gopacketLayerType, opt Options) *decoder {
	return &decoder{first: first, opt: opt, flows: make(map[flowKey]*flowState)}
}

func (d *decoder) addEvent(st *Stats, e event.Event) {
	if d.nEvents >= d.opt.MaxEvents {
		st.EventsDropped++
		return
	}
	d.nEvents++
	d.events = append(d.events, e)
}

// packet decodes one captured packet.
func (d *decoder) packet(n int, rec record, data []byte, st *Stats) {
	d.trunc = false
	var (
		src, dst netip.Addr
		proto    uint8
		payload  []byte
		ipLen    int
	)
	typ := d.first
	if typ == layerRawIP {
		switch {
		case len(data) > 0 && data[0]>>4 == 4:
			typ = layers.LayerTypeIPv4
		case len(data) > 0 && data[0]>>4 == 6:
			typ = layers.LayerTypeIPv6
		default:
			st.undecodable(n, errors.New("raw IP: bad version"))
			return
		}
	}
	// Walk the link layers down to IP. Each step bounds the loop: a VLAN
	// stack deeper than 4 is not decoded.
	for hops := 0; ; hops++ {
		if hops > 6 {
			st.Other++
			return
		}
		var err error
		switch typ {
		case layers.LayerTypeEthernet:
			err = d.eth.DecodeFromBytes(data, d)
			typ, data = d.eth.NextLayerType(), d.eth.Payload
		case layers.LayerTypeLinuxSLL:
			err = d.sll.DecodeFromBytes(data, d)
			typ, data = d.sll.NextLayerType(), d.sll.Payload
		case layers.LayerTypeLinuxSLL2:
			err = d.sll2.DecodeFromBytes(data, d)
			typ, data = d.sll2.NextLayerType(), d.sll2.Payload
		case layers.LayerTypeLoopback:
			err = d.loop.DecodeFromBytes(data, d)
			typ, data = d.loop.NextLayerType(), d.loop.Payload
		case layers.LayerTypeDot1Q:
			err = d.dot1q.DecodeFromBytes(data, d)
			typ, data = d.dot1q.NextLayerType(), d.dot1q.Payload
		case layers.LayerTypeIPv4:
			if err = d.ip4.DecodeFromBytes(data, d); err != nil {
				break
			}
			if d.ip4.FragOffset != 0 {
				st.Other++ // a later fragment: no ports
				return
			}
			src, _ = netip.AddrFromSlice(d.ip4.SrcIP)
			dst, _ = netip.AddrFromSlice(d.ip4.DstIP)
			proto, payload, ipLen = uint8(d.ip4.Protocol), d.ip4.Payload, int(d.ip4.Length)
		case layers.LayerTypeIPv6:
			if err = d.ip6.DecodeFromBytes(data, d); err != nil {
				break
			}
			src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
			dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
			// A hop-by-hop header is decoded as part of IPv6; other
			// extension headers are left as "other".
			proto, payload, ipLen = uint8(d.ip6.NextHeader), d.ip6.Payload, 40+int(d.ip6.Length)
			if d.ip6.HopByHop != nil {
				proto = uint8(d.ip6.HopByHop.NextHeader)
			}
		default:
			st.Other++
			return
		}
		if err != nil {
			st.undecodable(n, err)
			return
		}
		if src.IsValid() {
			break // reached IP
		}
	}
	src, dst = src.Unmap(), dst.Unmap()
	if ipLen <= 0 || ipLen > rec.origLen {
		// IPv4 total length 0 (TSO) or a jumbogram: fall back to the frame.
		ipLen = rec.origLen
	}

	var sport, dport uint16
	var tcp *layers.TCP
	switch proto {
	case protoTCP:
		if err := d.tcp.DecodeFromBytes(payload, d); err != nil {
			st.undecodable(n, fmt.Errorf("TCP: %w", err))
			return
		}
		tcp = &d.tcp
		sport, dport, payload = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort), d.tcp.Payload
	case protoUDP:
		if err := d.udp.DecodeFromBytes(payload, d); err != nil {
			st.undecodable(n, fmt.Errorf("UDP: %w", err))
			return
		}
		sport, dport, payload = uint16(d.udp.SrcPort), uint16(d.udp.DstPort), d.udp.Payload
	default:
		st.Other++
		return
	}
	s := netip.AddrPortFrom(src, sport)
	t := netip.AddrPortFrom(dst, dport)

	f := d.flow(proto, s, t, rec, ipLen, tcp, st)

	if len(payload) == 0 {
		return
	}
	if dport == 53 {
		d.dnsQuery(n, rec, proto, s, t, payload, st)
		return
	}
	if tcp != nil && looksLikeHTTPRequest(payload) {
		if f != nil && f.hasReq && f.reqSeq == tcp.Seq && f.src == s {
			return // retransmission
		}
		req, partial, ok := d.http.parse(payload)
		if !ok {
			return
		}
		if partial {
			st.HTTPPartial++
		}
		if f != nil {
			f.hasReq, f.reqSeq = true, tcp.Seq
		}
		req.Src, req.Dst = s.String(), t.String()
		d.addEvent(st, event.Event{Kind: event.KindHTTP, Time: rec.ts, CallID: req.CallID, HTTP: req})
	}
}

// flow adds a packet to its flow; nil when MaxFlows is reached.
func (d *decoder) flow(proto uint8, s, t netip.AddrPort, rec record, ipLen int, tcp *layers.TCP, st *Stats) *flowState {
	k := newFlowKey(proto, s, t)
	f := d.flows[k]
	if f == nil {
		if len(d.order) >= d.opt.MaxFlows {
			st.FlowsDropped++
			return nil
		}
		f = &flowState{src: s, dst: t, proto: proto, first: rec.ts}
		d.flows[k] = f
		d.order = append(d.order, f)
	}
	f.packets++
	f.bytes += int64(ipLen)
	if rec.ts.Before(f.first) {
		f.first = rec.ts
	}
	if rec.ts.After(f.last) {
		f.last = rec.ts
	}
	if tcp != nil && tcp.SYN {
		if !tcp.ACK {
			// The SYN names the initiator.
			f.sawSYN = true
			f.src, f.dst = s, t
		} else if !f.sawSYN && !f.sawSYNAK {
			// SYN-ACK without the SYN: its receiver initiated.
			f.sawSYNAK = true
			f.src, f.dst = t, s
		}
	}
	return f
}

func (d *decoder) dnsQuery(n int, rec record, proto uint8, s, t netip.AddrPort, payload []byte, st *Stats) {
	if proto == protoTCP {
		// DNS over TCP: a 2-byte length, then the message, whole in this
		// segment or not read at all.
		if len(payload) < 2 {
			st.BadDNS++
			return
		}
		l := int(payload[0])<<8 | int(payload[1])
		if l > len(payload)-2 {
			st.BadDNS++
			return
		}
		payload = payload[2 : 2+l]
	}
	if err := d.dns.DecodeFromBytes(payload, d); err != nil || d.dns.QR {
		st.BadDNS++
		return
	}
	for i, q := range d.dns.Questions {
		if i == maxQuestions {
			break
		}
		d.addEvent(st, event.Event{Kind: event.KindDNS, Time: rec.ts, DNS: &event.DNSQuery{
			Src:  s.String(),
			Dst:  t.String(),
			Name: string(q.Name),
			Type: q.Type.String(),
		}})
	}
}

// maxQuestions is the most DNS questions taken from one message; resolvers
// send one.
const maxQuestions = 4

// finish emits the flows and returns all events sorted by time.
func (d *decoder) finish() []event.Event {
	evs := d.events
	if cap(evs)-len(evs) < len(d.order) {
		evs = append(make([]event.Event, 0, len(evs)+len(d.order)), evs...)
	}
	for _, f := range d.order {
		fl := &event.Flow{
			Proto:    "UDP",
			Src:      f.src.String(),
			Dst:      f.dst.String(),
			Packets:  f.packets,
			Bytes:    f.bytes,
			First:    f.first,
			Last:     f.last,
			SawSYN:   f.sawSYN,
			Outbound: d.outbound(f.src.Addr(), f.dst.Addr()),
		}
		if f.proto == protoTCP {
			fl.Proto = "TCP"
		}
		evs = append(evs, event.Event{Kind: event.KindFlow, Time: f.first, Flow: fl})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	return evs
}

func (d *decoder) outbound(src, dst netip.Addr) bool {
	if len(d.opt.Local) == 0 || dst.IsLoopback() {
		return false
	}
	return d.isLocal(src) && !d.isLocal(dst)
}

func (d *decoder) isLocal(a netip.Addr) bool {
	for _, l := range d.opt.Local {
		if l.Unmap() == a {
			return true
		}
	}
	return false
}

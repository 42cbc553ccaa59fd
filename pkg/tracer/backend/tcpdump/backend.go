package tcpdump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/parse/pcap"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
)

// Snap is tcpdump's -s: Ethernet/cooked + IP + TCP headers and the first
// bytes of the HTTP head, not bodies.
const Snap = 256

// ContentType of its chunks: a pcap file each (the stream's global header
// repeated at the head of every chunk).
const ContentType = "application/vnd.tcpdump.pcap"

// Args is nsenter's command line to capture in netns: -U and
// --immediate-mode deliver each packet as it comes, so that chunk times and
// invocation cuts follow the traffic rather than libpcap's 1s buffer.
func Args(tcpdump, netns string) []string {
	return []string{"--net=" + netns, tcpdump, "-i", "any", "-U", "--immediate-mode", "-n",
		"-s", strconv.Itoa(Snap), "-w", "-"}
}

// Config configures the tcpdump backend.
type Config struct {
	Tcpdump   string        // binary, default "tcpdump"
	Nsenter   string        // default "nsenter"
	StopGrace time.Duration // after SIGTERM, default 3s
}

func (c Config) withDefaults() Config {
	if c.Tcpdump == "" {
		c.Tcpdump = "tcpdump"
	}
	if c.Nsenter == "" {
		c.Nsenter = "nsenter"
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 3 * time.Second
	}
	return c
}

// Backend is the tcpdump sensor.
type Backend struct {
	mu  sync.Mutex
	cfg Config
}

// New returns a backend configured by cfg.
func New(cfg Config) *Backend { return &Backend{cfg: cfg.withDefaults()} }

// Default is the backend registered under chunk.KindPcap.
var Default = New(Config{})

func init() { backend.Register(Default) }

// Configure replaces the configuration of streams attached from now on.
func (b *Backend) Configure(cfg Config) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg = cfg.withDefaults()
}

func (b *Backend) Kind() chunk.Kind    { return chunk.KindPcap }
func (b *Backend) ContentType() string { return ContentType }

// DefaultOn: tcpdump runs beside strace when no kind is chosen.
func (b *Backend) DefaultOn() bool { return true }

// Role: its chunks are network flows, joined to invocations as they end.
func (b *Backend) Role() chunk.Role { return chunk.RoleFlows }

// Attach captures in t's network namespace.
func (b *Backend) Attach(ctx context.Context, t discovery.Target, room int) (backend.Stream, error) {
	b.mu.Lock()
	cfg := b.cfg
	b.mu.Unlock()
	if t.NetNS == "" {
		return nil, fmt.Errorf("no network namespace for %s", t.Container)
	}
	proc, err := backend.StartProc(ctx, string(chunk.KindPcap), cfg.Nsenter, Args(cfg.Tcpdump, t.NetNS), cfg.StopGrace)
	if err != nil {
		return nil, err
	}
	return &stream{proc: proc, room: room}, nil
}

// stream is one tcpdump process's records.
type stream struct {
	proc   *backend.Proc
	room   int
	pr     *chunker.PcapReader
	prefix []byte
	err    error
}

// Prefix is the stream's pcap global header.
func (s *stream) Prefix() []byte { return s.prefix }

func (s *stream) Next() (chunker.Unit, bool, error) {
	if s.err != nil {
		return chunker.Unit{}, false, s.err
	}
	u, trunc, err := s.next()
	if err != nil {
		s.err = s.proc.End(err)
		return chunker.Unit{}, false, s.err
	}
	return u, trunc, nil
}

func (s *stream) next() (chunker.Unit, bool, error) {
	if s.pr == nil {
		// Reserve the global header's room before sizing records.
		pr, err := chunker.NewPcapReader(s.proc.Stdout(), s.room-24)
		if err != nil {
			return chunker.Unit{}, false, err
		}
		s.pr, s.prefix = pr, pr.GlobalHeader()
	}
	u, trunc, err := s.pr.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		// A corrupt stream cannot be resynchronised: end this run, the
		// restart begins a clean stream.
		return u, trunc, fmt.Errorf("pcap stream: %w", err)
	}
	return u, trunc, err
}

// Close stops tcpdump (SIGTERM).
func (s *stream) Close() error {
	s.proc.Stop()
	return nil
}

// Parse reads a pcap chunk (pkg/parse/pcap) into events.
func (b *Backend) Parse(h chunk.Header, body []byte) (backend.Parsed, error) {
	evs, st, err := pcap.ParseBytes(body, pcap.Options{})
	out := backend.Parsed{Events: evs, Unparsed: st.Undecodable + st.Truncated, Errors: st.Errors}
	if err != nil && len(evs) == 0 {
		return out, fmt.Errorf("%w: %v", backend.ErrInput, err)
	}
	if err != nil {
		// Events before a damaged record are real; keep them and say so.
		out.Errors = append(out.Errors, err.Error())
		out.Unparsed++
	}
	return out, nil
}

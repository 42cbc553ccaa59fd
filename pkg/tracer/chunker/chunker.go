package chunker

import (
	"fmt"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
)

// Chunk is one finished piece of a stream, ready to be posted.
type Chunk struct {
	Header chunk.Header
	Body   []byte
}

// Unit is the smallest piece of a stream the cutter never splits: one strace
// line or one pcap record.
type Unit struct {
	Data []byte
	// At is the sensor's own timestamp for the unit when it has one (strace
	// -ttt, pcap record time), else the arrival time.
	At time.Time
	// CallID is set when this unit begins an invocation (the request carrying
	// X-Call-Id): the cutter starts a new chunk just before it.
	CallID string
}

// Config holds the cutting policy.
type Config struct {
	// MaxBytes bounds every body, prefix included. Zero means chunk.MaxBytes.
	MaxBytes int
	// Quiet closes the chunk after this long without data (0: 200ms).
	Quiet time.Duration
	// MaxAge closes the chunk this long after its first unit (0: 1s).
	MaxAge time.Duration
	// MaxUnits closes the chunk at this many units (0: no limit). The
	// events parsed from a chunk grow with its lines, not its bytes.
	MaxUnits int
}

func (c Config) withDefaults() Config {
	if c.MaxBytes <= 0 || c.MaxBytes > chunk.MaxBytes {
		c.MaxBytes = chunk.MaxBytes
	}
	if c.Quiet <= 0 {
		c.Quiet = 200 * time.Millisecond
	}
	if c.MaxAge <= 0 {
		c.MaxAge = time.Second
	}
	return c
}

// Cutter accumulates units of one stream and emits chunks. It is not safe for
// concurrent use: one goroutine (Pump) drives it, which keeps the sequence
// numbers gap-free by construction.
type Cutter struct {
	cfg    Config
	meta   chunk.Header // identity of the stream; Seq, Start, End are filled per chunk
	prefix []byte       // repeated at the head of every chunk (pcap global header)
	emit   func(Chunk)

	buf       []byte
	units     int
	first     time.Time // sensor time of the first unit
	last      time.Time // sensor time of the last unit
	opened    time.Time // wall time the chunk got its first unit (for MaxAge)
	lastAdd   time.Time // wall time of the last unit (for Quiet)
	seq       uint64
	lastCall  string
	truncated uint64
}

// NewCutter returns a cutter for the stream described by meta (Seq, Start
// and End are ignored). emit is called synchronously with every chunk; it
// must not keep a reference to anything but the Chunk it gets.
func NewCutter(cfg Config, meta chunk.Header, emit func(Chunk)) *Cutter {
	cfg = cfg.withDefaults()
	return &Cutter{cfg: cfg, meta: meta, emit: emit}
}

// SetPrefix sets the bytes every chunk starts with. It must be called before
// the first Add (the pcap global header is known only once the stream began).
func (c *Cutter) SetPrefix(p []byte) error {
	if len(p)+1 > c.cfg.MaxBytes {
		return fmt.Errorf("chunk prefix of %d bytes leaves no room under %d", len(p), c.cfg.MaxBytes)
	}
	c.prefix = append([]byte(nil), p...)
	return nil
}

// Annotate lets f change the stream's header (the fields every chunk
// repeats) before the first chunk is emitted: a sensor may learn some of
// them only once it attached.
func (c *Cutter) Annotate(f func(*chunk.Header)) { f(&c.meta) }

// Seq is the sequence number the next chunk will carry (= chunks emitted).
func (c *Cutter) Seq() uint64 { return c.seq }

// Truncated counts units that did not fit in one chunk and were shortened.
func (c *Cutter) Truncated() uint64 { return c.truncated }

// Room is the largest unit that fits in an empty chunk.
func (c *Cutter) Room() int { return c.cfg.MaxBytes - len(c.prefix) }

// Add appends u, cutting before it when it begins a new invocation or would
// overflow the size cap. now is the wall clock (injected for tests). A unit
// larger than Room must have been shortened by the caller (see TruncateLine).
func (c *Cutter) Add(u Unit, now time.Time) {
	if u.CallID != "" && u.CallID != c.lastCall {
		c.lastCall = u.CallID
		c.Flush()
	}
	if len(u.Data) > c.Room() {
		// Callers shorten oversize units in a format-aware way; this is the
		// last guard so that the size cap holds whatever they do.
		u.Data = u.Data[:c.Room()]
		c.truncated++
	}
	if len(c.prefix)+len(c.buf)+len(u.Data) > c.cfg.MaxBytes || c.cfg.MaxUnits > 0 && c.units >= c.cfg.MaxUnits {
		c.Flush()
	}
	if c.units == 0 {
		c.buf = append(c.buf[:0], c.prefix...)
		c.first, c.opened = u.At, now
	}
	c.buf = append(c.buf, u.Data...)
	c.units++
	if u.At.After(c.last) || c.units == 1 {
		c.last = u.At
	}
	c.lastAdd = now
}

// Tick closes the open chunk when it has been quiet for Quiet or open for
// MaxAge. Call it periodically.
func (c *Cutter) Tick(now time.Time) {
	if c.units == 0 {
		return
	}
	if now.Sub(c.lastAdd) >= c.cfg.Quiet || now.Sub(c.opened) >= c.cfg.MaxAge {
		c.Flush()
	}
}

// Flush emits the open chunk, if any.
func (c *Cutter) Flush() {
	if c.units == 0 {
		return
	}
	h := c.meta
	h.Seq = c.seq
	h.Start, h.End = c.first, c.last
	if h.End.Before(h.Start) {
		h.End = h.Start // sensor clocks may step back; Parse rejects End < Start
	}
	body := make([]byte, len(c.buf))
	copy(body, c.buf)
	c.seq++
	c.units = 0
	c.buf = c.buf[:0]
	c.emit(Chunk{Header: h, Body: body})
}

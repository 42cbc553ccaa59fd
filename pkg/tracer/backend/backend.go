package backend

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
)

// Backend is one kind of sensor.
type Backend interface {
	// Kind is the chunk kind this backend produces (X-Faasmon-Kind).
	Kind() chunk.Kind
	// ContentType is the media type of its chunk bodies.
	ContentType() string
	// Attach starts tracing t. room is the largest unit the cutter takes
	// (a backend shortens longer units and says so with Unit.Trunc).
	// The returned stream ends (io.EOF) when ctx is done, when the target
	// is gone, or when the sensor fails (another error): the caller
	// restarts it as a new stream.
	Attach(ctx context.Context, t discovery.Target, room int) (Stream, error)
	// Parse turns one chunk body into events. A body that is not this
	// kind's format at all is an error wrapping ErrInput; lines or records
	// that cannot be read are counted in Parsed.Unparsed.
	Parse(h chunk.Header, body []byte) (Parsed, error)
}

// Stream is one attachment's output, read by one goroutine.
type Stream interface {
	// Prefix is repeated at the head of every chunk (pcap's global
	// header); nil when chunks need none. Valid once Next returned.
	Prefix() []byte
	// Next blocks for the next unit. trunc says the unit was shortened to
	// fit room.
	Next() (u chunker.Unit, trunc bool, err error)
	// Close detaches; Next then returns io.EOF.
	Close() error
}

// Parsed is what Parse read from a body.
type Parsed struct {
	Events []event.Event
	// Unparsed counts lines/records that could not be read; Errors keeps
	// the first few messages for people.
	Unparsed int
	Errors   []string
}

// The optional interfaces below let a backend say what would otherwise be
// a case in a chunk.Kind switch somewhere in the tracer or the parse stage.

// Chunker is a Backend that bounds its chunks tighter than the tracer's
// configuration (strace: lines, so that the event batch fits the queue).
type Chunker interface {
	Chunking(chunker.Config) chunker.Config
}

// Defaulter is a Backend that runs when the tracer is given no kinds.
type Defaulter interface {
	DefaultOn() bool
}

// Roler is a Backend whose chunks are not the container's process
// activity (chunk.RoleProcess, the default) but, say, network flows.
type Roler interface {
	Role() chunk.Role
}

// Annotator is a Stream that adds to its chunks' header what it learnt
// when it attached (strace: the threads that existed then). Run calls it
// once, after Attach and before the first chunk.
type Annotator interface {
	Annotate(h *chunk.Header)
}

// Reannotator is an Annotator that learns more while it runs (strace: the
// threads of a process attached after the stream started). Run applies
// Annotate again, to the chunks cut from then on, whenever Annotations
// changes.
type Reannotator interface {
	Annotator
	Annotations() uint64
}

// Starter is a Backend with node-wide work to do before the first
// container is attached (eBPF: load the programs, follow new containers).
// The tracer calls Start once; an error is logged and the backend then
// starts on its first Attach, as without Start.
type Starter interface {
	Start() error
}

// Excluder is a Backend that must be told of the containers never to
// trace (the detector's own functions): one that follows containers from
// their creation would otherwise trace them too.
type Excluder interface {
	Exclude(t discovery.Target) error
}

// ErrInput marks a body that is wrong as a whole.
var ErrInput = fmt.Errorf("bad chunk body")

var (
	mu       sync.RWMutex
	registry = map[chunk.Kind]Backend{}
)

// Register makes b available under its kind. Registering a kind twice is a
// programming error and panics, as it would silently replace a sensor.
func Register(b Backend) {
	mu.Lock()
	defer mu.Unlock()
	k := b.Kind()
	if k == "" {
		panic("backend: empty kind")
	}
	if _, dup := registry[k]; dup {
		panic(fmt.Sprintf("backend: kind %q registered twice", k))
	}
	registry[k] = b
	role := chunk.RoleProcess
	if r, ok := b.(Roler); ok {
		role = r.Role()
	}
	chunk.RegisterKind(k, role)
}

// Lookup returns the backend registered for k.
func Lookup(k chunk.Kind) (Backend, bool) {
	mu.RLock()
	defer mu.RUnlock()
	b, ok := registry[k]
	return b, ok
}

// Kinds lists the registered kinds in order.
func Kinds() []chunk.Kind {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]chunk.Kind, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Defaults lists, in order, the registered kinds that run when the tracer
// is given none (Defaulter).
func Defaults() []chunk.Kind {
	var out []chunk.Kind
	for _, k := range Kinds() {
		b, _ := Lookup(k)
		if d, ok := b.(Defaulter); ok && d.DefaultOn() {
			out = append(out, k)
		}
	}
	return out
}

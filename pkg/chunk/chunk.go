package chunk

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxBytes is the largest body OpenFaaS CE accepts on /async-function.
const MaxBytes = 256000

// Kind is the sensor a chunk comes from.
type Kind string

const (
	KindStrace Kind = "strace"
	KindPcap   Kind = "pcap"
	KindEBPF   Kind = "ebpf"
)

// Role says what a kind's events are to the graph builder.
type Role int

const (
	// RoleProcess: the container's system calls and process lifecycle
	// (strace, ebpf), folded into invocation graphs as they come.
	RoleProcess Role = iota
	// RoleFlows: network observations (pcap) joined to invocations when
	// those finish.
	RoleFlows
	// RoleControl: chunks about the tracer itself (heartbeats), with no
	// events; the stages act on them before any graph is built.
	RoleControl
)

// kinds are the kinds Parse accepts, with their role. The detector's stages
// run in separate processes and only the tracer and faasmon-parse link the
// sensor backends (pkg/tracer/backend registers each one's kind here at
// init), so the kinds every stage must accept are listed here too: a
// sensor's kind is part of the chunk contract between the stages.
var (
	kindsMu sync.RWMutex
	kinds   = map[Kind]Role{KindStrace: RoleProcess, KindPcap: RoleFlows, KindEBPF: RoleProcess}
)

// RegisterKind makes Parse accept k, whose chunks play role r. A kind
// registered again with another role is a programming error and panics.
func RegisterKind(k Kind, r Role) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if old, ok := kinds[k]; ok && old != r {
		panic(fmt.Sprintf("chunk: kind %q registered as role %d, then %d", k, old, r))
	}
	kinds[k] = r
}

// Known says whether Parse accepts k.
func Known(k Kind) bool {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	_, ok := kinds[k]
	return ok
}

// RoleOf is k's role (RoleProcess for an unknown kind).
func RoleOf(k Kind) Role {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	return kinds[k]
}

// HTTP headers carrying a Header. The queue-worker forwards request headers
// to the function, so they survive the async hop unchanged.
const (
	HNode      = "X-Faasmon-Node"
	HFunction  = "X-Faasmon-Function"
	HNamespace = "X-Faasmon-Namespace"
	HPod       = "X-Faasmon-Pod"
	HContainer = "X-Faasmon-Container"
	HPID       = "X-Faasmon-Pid"
	HKind      = "X-Faasmon-Kind"
	HStream    = "X-Faasmon-Stream"
	HSeq       = "X-Faasmon-Seq"
	HStart     = "X-Faasmon-Start"
	HEnd       = "X-Faasmon-End"
	// HDropped is the number of chunks of this stream the tracer dropped
	// before this one (backpressure): the gap is visible downstream even when
	// the sequence numbers alone would not say why.
	HDropped = "X-Faasmon-Dropped"
	// HDroppedBytes is the size of those chunks, for the blind-spot alert
	// that reports them.
	HDroppedBytes = "X-Faasmon-Dropped-Bytes"
	// HThreads lists, for a strace chunk, the threads that already ran
	// when strace attached, as "tid=pid,…": strace names them by thread
	// id only and never shows them being created, so without this list
	// they look like processes of their own.
	HThreads = "X-Faasmon-Threads"
	// HBorn ("1") says the sensor follows the container from its
	// creation: the stream begins with the container starting (see
	// Header.Born).
	HBorn = "X-Faasmon-Born"
	// HUntraced counts the processes of the container the sensor could
	// not trace (strace: another tracer held them, or attaching failed),
	// in all since the stream began (see Header.Untraced).
	HUntraced = "X-Faasmon-Untraced"
	// HLost counts the records the sensor lost for this stream before they
	// became chunk lines (eBPF: a full ring buffer, a full stream queue,
	// records of a new container expired before it was attached), in all
	// since the stream began (see Header.Lost).
	HLost = "X-Faasmon-Lost"
	// HImage names the container's code version (image digest): profiles
	// learn per version, so a redeploy re-learns.
	HImage = "X-Faasmon-Image"
)

// MaxThreads bounds HThreads (a Node.js process has about a dozen).
const MaxThreads = 1024

// Header describes one chunk. Stream is unique per (container, kind, sensor
// start): a restarted strace begins a new stream at Seq 0, so a restart is
// never mistaken for a gap.
type Header struct {
	Node      string    `json:"node"`
	Function  string    `json:"function"`
	Namespace string    `json:"namespace,omitempty"`
	Pod       string    `json:"pod,omitempty"`
	Container string    `json:"container"`
	Image     string    `json:"image,omitempty"`
	PID       int       `json:"pid"`
	Kind      Kind      `json:"kind"`
	Stream    string    `json:"stream"`
	Seq       uint64    `json:"seq"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Dropped   uint64    `json:"dropped,omitempty"`
	// DroppedBytes is the size of the Dropped chunks (HDroppedBytes).
	DroppedBytes uint64 `json:"dropped_bytes,omitempty"`
	// Threads maps the thread ids of the traced processes that existed
	// when strace attached to their process ids (strace chunks only).
	Threads map[int]int `json:"threads,omitempty"`
	// Born: the stream saw the container from its creation (the eBPF
	// sensor following the pods' cgroup), so it begins with the
	// container's runtime setting it up and its server starting, which a
	// sensor attached later never sees.
	Born bool `json:"born,omitempty"`
	// Untraced counts the container's processes its sensor could not
	// trace since the stream began (strace cannot attach to a process
	// another tracer holds: a process that ptraces itself, or its child,
	// hides from it). Cumulative, so a lost chunk loses no count.
	Untraced uint64 `json:"untraced,omitempty"`
	// Lost counts the records the sensor lost for this stream since it
	// began (HLost). Cumulative, so a lost chunk loses no count.
	Lost uint64 `json:"lost,omitempty"`
}

// maxField bounds every textual header: they are copied into every event
// batch and graph, and come from an untrusted request.
const maxField = 253

// Set writes h into hdr.
func (h Header) Set(hdr http.Header) {
	hdr.Set(HNode, h.Node)
	hdr.Set(HFunction, h.Function)
	if h.Namespace != "" {
		hdr.Set(HNamespace, h.Namespace)
	}
	if h.Pod != "" {
		hdr.Set(HPod, h.Pod)
	}
	hdr.Set(HContainer, h.Container)
	if h.Image != "" {
		hdr.Set(HImage, h.Image)
	}
	hdr.Set(HPID, strconv.Itoa(h.PID))
	hdr.Set(HKind, string(h.Kind))
	hdr.Set(HStream, h.Stream)
	hdr.Set(HSeq, strconv.FormatUint(h.Seq, 10))
	hdr.Set(HStart, h.Start.UTC().Format(time.RFC3339Nano))
	hdr.Set(HEnd, h.End.UTC().Format(time.RFC3339Nano))
	if h.Dropped > 0 {
		hdr.Set(HDropped, strconv.FormatUint(h.Dropped, 10))
	}
	if h.DroppedBytes > 0 {
		hdr.Set(HDroppedBytes, strconv.FormatUint(h.DroppedBytes, 10))
	}
	if len(h.Threads) > 0 {
		hdr.Set(HThreads, FormatThreads(h.Threads))
	}
	if h.Born {
		hdr.Set(HBorn, "1")
	}
	if h.Untraced > 0 {
		hdr.Set(HUntraced, strconv.FormatUint(h.Untraced, 10))
	}
	if h.Lost > 0 {
		hdr.Set(HLost, strconv.FormatUint(h.Lost, 10))
	}
}

// FormatThreads writes a thread map as HThreads carries it, in tid order.
func FormatThreads(m map[int]int) string {
	tids := make([]int, 0, len(m))
	for t := range m {
		tids = append(tids, t)
	}
	sort.Ints(tids)
	var b strings.Builder
	for i, t := range tids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(t))
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(m[t]))
	}
	return b.String()
}

// ParseThreads reads HThreads: at most MaxThreads "tid=pid" pairs of
// positive ids.
func ParseThreads(v string) (map[int]int, error) {
	if v == "" {
		return nil, nil
	}
	if n := strings.Count(v, ",") + 1; n > MaxThreads {
		return nil, fmt.Errorf("%w: %s has %d threads, limit %d", ErrHeader, HThreads, n, MaxThreads)
	}
	m := map[int]int{}
	for _, pair := range strings.Split(v, ",") {
		ts, ps, ok := strings.Cut(pair, "=")
		tid, err1 := strconv.Atoi(ts)
		pid, err2 := strconv.Atoi(ps)
		if !ok || err1 != nil || err2 != nil || tid <= 0 || pid <= 0 {
			return nil, fmt.Errorf("%w: %s: bad pair %q", ErrHeader, HThreads, pair)
		}
		m[tid] = pid
	}
	return m, nil
}

// ErrHeader marks every header validation failure, so HTTP adapters can map
// it to 400 with errors.Is.
var ErrHeader = errors.New("bad chunk header")

// Parse reads and validates a Header from hdr.
func Parse(hdr http.Header) (Header, error) {
	var h Header
	var err error
	text := func(name string, required bool) string {
		v := hdr.Get(name)
		if err != nil {
			return ""
		}
		switch {
		case v == "" && required:
			err = fmt.Errorf("%w: %s missing", ErrHeader, name)
		case len(v) > maxField:
			err = fmt.Errorf("%w: %s longer than %d bytes", ErrHeader, name, maxField)
		case strings.ContainsAny(v, "\x00\r\n"):
			err = fmt.Errorf("%w: %s has control characters", ErrHeader, name)
		}
		return v
	}
	h.Node = text(HNode, true)
	h.Function = text(HFunction, true)
	h.Namespace = text(HNamespace, false)
	h.Pod = text(HPod, false)
	h.Container = text(HContainer, true)
	h.Image = text(HImage, false)
	h.Stream = text(HStream, true)
	kind := text(HKind, true)
	pid := text(HPID, true)
	seq := text(HSeq, true)
	start := text(HStart, true)
	end := text(HEnd, true)
	dropped := text(HDropped, false)
	droppedBytes := text(HDroppedBytes, false)
	if err != nil {
		return Header{}, err
	}
	h.Kind = Kind(kind)
	if !Known(h.Kind) {
		return Header{}, fmt.Errorf("%w: %s %q is not a known sensor kind", ErrHeader, HKind, kind)
	}
	if h.PID, err = strconv.Atoi(pid); err != nil || h.PID <= 0 {
		return Header{}, fmt.Errorf("%w: %s %q is not a positive pid", ErrHeader, HPID, pid)
	}
	if h.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
		return Header{}, fmt.Errorf("%w: %s %q: %v", ErrHeader, HSeq, seq, err)
	}
	if h.Start, err = time.Parse(time.RFC3339Nano, start); err != nil {
		return Header{}, fmt.Errorf("%w: %s: %v", ErrHeader, HStart, err)
	}
	if h.End, err = time.Parse(time.RFC3339Nano, end); err != nil {
		return Header{}, fmt.Errorf("%w: %s: %v", ErrHeader, HEnd, err)
	}
	if h.End.Before(h.Start) {
		return Header{}, fmt.Errorf("%w: %s before %s", ErrHeader, HEnd, HStart)
	}
	if dropped != "" {
		if h.Dropped, err = strconv.ParseUint(dropped, 10, 64); err != nil {
			return Header{}, fmt.Errorf("%w: %s %q: %v", ErrHeader, HDropped, dropped, err)
		}
	}
	if droppedBytes != "" {
		if h.DroppedBytes, err = strconv.ParseUint(droppedBytes, 10, 64); err != nil {
			return Header{}, fmt.Errorf("%w: %s %q: %v", ErrHeader, HDroppedBytes, droppedBytes, err)
		}
	}
	if h.Threads, err = ParseThreads(hdr.Get(HThreads)); err != nil {
		return Header{}, err
	}
	if v := hdr.Get(HLost); v != "" {
		if h.Lost, err = strconv.ParseUint(v, 10, 64); err != nil {
			return Header{}, fmt.Errorf("%w: %s: %v", ErrHeader, HLost, err)
		}
	}
	if v := hdr.Get(HUntraced); v != "" {
		if h.Untraced, err = strconv.ParseUint(v, 10, 32); err != nil {
			return Header{}, fmt.Errorf("%w: %s: %v", ErrHeader, HUntraced, err)
		}
	}
	switch v := hdr.Get(HBorn); v {
	case "":
	case "1":
		h.Born = true
	default:
		if len(v) > 16 {
			v = v[:16]
		}
		return Header{}, fmt.Errorf("%w: %s %q, want 1 or none", ErrHeader, HBorn, v)
	}
	return h, nil
}

// Validate checks a Header that arrived inside a JSON document by the same
// rules Parse applies to HTTP headers.
func (h Header) Validate() error {
	hdr := http.Header{}
	h.Set(hdr)
	_, err := Parse(hdr)
	return err
}

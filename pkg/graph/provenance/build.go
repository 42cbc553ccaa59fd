package provenance

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
)

// Limits on what one container's state may hold. State lives between
// function calls (it is persisted), so everything in it is bounded.
const (
	maxProcs      = 4096
	maxOpenCalls  = 256
	maxFlows      = 2048
	maxStreams    = 64
	maxGapsStream = 64
	maxWritten    = 4096
	// MaxOpenFor is how long an invocation may stay open (no response seen)
	// before its graph is emitted anyway; OpenFaaS's default exec_timeout
	// is far below it.
	MaxOpenFor = 2 * time.Minute
	// flowKeep is how long pcap flows wait to be joined to a graph.
	flowKeep = time.Minute
)

// errnoUnknown is the parser's mark for a call whose result was cut off at
// the chunk's end: it did run, so it counts.
const errnoUnknown = "?"

// Proc is what the builder remembers of a process between chunks.
type Proc struct {
	PPID  int    `json:"ppid,omitempty"`
	Exe   string `json:"exe,omitempty"`
	Argv0 string `json:"argv0,omitempty"`
	Cmd   string `json:"cmd,omitempty"` // argv joined, bounded
	// Call is the invocation the process acts for: set when it reads a
	// request carrying an X-Call-Id, inherited by its children, cleared
	// when the response has been written. Empty means background.
	Call string `json:"call,omitempty"`
	// Also are the other invocations that were open in this process (or
	// the parent it inherited them from) when it took Call: a server that
	// reads a second request before answering the first acts for either,
	// and what it forks in between may be for the first. When Call's
	// response is written the process moves to the oldest of these still
	// open instead of the background window (see maybeEnd). Bounded by
	// maxAlso.
	Also []string `json:"also,omitempty"`
	// Spawned is the invocation in which this process, or its first
	// traced ancestor, was started (see Node.Spawned).
	Spawned string `json:"spawned,omitempty"`
	// Seen is State.Tick when the process last acted: a full table makes
	// room by forgetting the process idle the longest (State.proc).
	Seen uint64 `json:"seen,omitempty"`
}

// endpoint is a socket as the -yy annotation names it.
type endpoint struct {
	Proto  string `json:"proto"`
	Local  string `json:"local"`
	Remote string `json:"remote"`
}

// partial is a graph under construction with the indexes that merge nodes
// and edges. Exported fields only: it is persisted as JSON.
type partial struct {
	G         Graph          `json:"g"`
	NodeIndex map[string]int `json:"ni"`
	EdgeIndex map[string]int `json:"ei"`
	// Conn is the request connection (local->remote) of an invocation:
	// the response is written there.
	Conn  string `json:"conn,omitempty"`
	Ended bool   `json:"ended,omitempty"`
}

// streamState tracks one chunk stream's sequence numbers.
//
// Whether a chunk below Next was applied is kept in a bitmap of the last
// seqWindow sequence numbers, not read off the list of gaps: that list is
// bounded (it is for reporting), and when admission read it, a forger who
// filled it with one-slot gaps made every later real chunk that fell in an
// unrecorded gap look like a duplicate (65 forged chunks blinded 236 of the
// next 300 real ones). Now a full gap list costs only the report.
type streamState struct {
	Next uint64 `json:"next"`
	Gaps []Gap  `json:"gaps,omitempty"`
	// Seen has bit i of word i/64 set when chunk Next-1-i was applied.
	Seen []uint64 `json:"seen,omitempty"`
	// Untraced and Lost are the stream's last X-Faasmon-Untraced and
	// X-Faasmon-Lost counts.
	Untraced uint64 `json:"untraced,omitempty"`
	Lost     uint64 `json:"lost,omitempty"`
}

// seqWindow is how far behind a stream's newest chunk a late one is still
// recognised (applied once, or known as a duplicate). The queue delivers a
// chunk late by seconds, not by thousands of chunks.
const seqWindow = 4096

// maxSeqJump bounds how far ahead of the stream a chunk may claim to be: a
// tracer's sender drops at most its queue (a few hundred chunks), while a
// forged far-ahead number would put every real chunk after it behind the
// window. Such a chunk is refused and counted (State.Refused).
const maxSeqJump = 1 << 16

func (s *streamState) seen(seq uint64) bool {
	d := s.Next - 1 - seq
	if d >= seqWindow || int(d/64) >= len(s.Seen) {
		return false
	}
	return s.Seen[d/64]&(1<<(d%64)) != 0
}

func (s *streamState) mark(seq uint64) {
	d := s.Next - 1 - seq
	if d >= seqWindow {
		return
	}
	for int(d/64) >= len(s.Seen) {
		s.Seen = append(s.Seen, 0)
	}
	s.Seen[d/64] |= 1 << (d % 64)
}

// advance moves Next to next, shifting the bitmap.
func (s *streamState) advance(next uint64) {
	shift := next - s.Next
	s.Next = next
	if shift >= seqWindow {
		s.Seen = s.Seen[:0]
		return
	}
	words, bits := int(shift/64), uint(shift%64)
	n := min(len(s.Seen)+words+1, seqWindow/64)
	out := make([]uint64, n)
	for i := n - 1; i >= 0; i-- {
		j := i - words
		var w uint64
		if j >= 0 && j < len(s.Seen) {
			w = s.Seen[j] << bits
		}
		if bits > 0 && j-1 >= 0 && j-1 < len(s.Seen) {
			w |= s.Seen[j-1] >> (64 - bits)
		}
		out[i] = w
	}
	for len(out) > 0 && out[len(out)-1] == 0 {
		out = out[:len(out)-1]
	}
	s.Seen = out
}

// State is everything known about one container between chunks. It is the
// unit faasmon-graph loads, updates with one batch and stores again.
type State struct {
	Key       string        `json:"key"`
	Function  string        `json:"function"`
	Namespace string        `json:"namespace,omitempty"`
	Node      string        `json:"node,omitempty"`
	Pod       string        `json:"pod,omitempty"`
	Container string        `json:"container"`
	Image     string        `json:"image,omitempty"`
	Procs     map[int]*Proc `json:"procs"`
	// Top is the container's first process as discovery named it (the
	// chunk header's PID); Born says its sensor follows it from its
	// creation (chunk.Header.Born), and Served that its start is over: it
	// read its first request, or the sensor lost records (the request may
	// be among them). In between, what the container's own processes do
	// is its start (see startup).
	Top    int  `json:"top,omitempty"`
	Born   bool `json:"born,omitempty"`
	Served bool `json:"served,omitempty"`
	// Tick counts the process-table lookups (Proc.Seen): an order, not a
	// time, so that two processes never tie.
	Tick    uint64      `json:"tick,omitempty"`
	Threads map[int]int `json:"threads,omitempty"` // tid → pid
	// Pending holds, per thread, the socket of a read cut in two by a
	// chunk boundary (strace's "<unfinished ...>" in one chunk, the
	// "<... resumed>" with the data, and the X-Call-Id, in the next): the
	// resumed half no longer says which socket it read.
	Pending map[int]endpoint    `json:"pending,omitempty"`
	Calls   map[string]*partial `json:"calls"`
	// ConnCalls maps an outbound connection (pid:fd) to the invocation
	// its process acted for when it connected: I/O on it later says the
	// process is back at that call's work (followConn). Bounded by
	// maxConnCalls.
	ConnCalls map[string]string       `json:"conn_calls,omitempty"`
	Bg        *partial                `json:"bg,omitempty"`
	BgSeq     int                     `json:"bg_seq"`
	Streams   map[string]*streamState `json:"streams"`
	Flows     []event.Event           `json:"flows,omitempty"` // recent pcap events, for the join
	// Written holds the normalised paths of the files this container
	// wrote, created, renamed into place or chmodded since the tracer
	// attached: executing one later is drift (Node.Written), in whatever
	// graph it happens. Bounded by maxWritten.
	Written map[string]bool `json:"written,omitempty"`
	// NewGaps are gaps not yet reported on an emitted graph.
	NewGaps []Gap `json:"new_gaps,omitempty"`
	// Blind are the limits hit since the last emitted graph (see
	// BlindSpot); the next graphs carry them.
	Blind []BlindSpot `json:"blind,omitempty"`
	// Counters people and tests read: batches skipped as duplicates
	// (queue redelivery), events dropped for a bound, late flows.
	Duplicates int `json:"duplicates,omitempty"`
	Dropped    int `json:"dropped,omitempty"`
	// Refused counts chunks numbered implausibly far ahead of their
	// stream, Stale chunks too far behind it to be told from a
	// redelivery, GapsUnlisted gaps past the report's bound.
	Refused      int       `json:"refused,omitempty"`
	Stale        int       `json:"stale,omitempty"`
	GapsUnlisted int       `json:"gaps_unlisted,omitempty"`
	Last         time.Time `json:"last"`
	// Gen is the generation of the snapshot this state was stored as: its
	// journal carries the same (journal.go).
	Gen uint64 `json:"gen,omitempty"`

	// early maps a child to its clone, for the batch being applied, when
	// the child's own syscalls come first (see earlyForks); forked holds
	// the clones already applied that way.
	early  map[int]*event.Event
	forked map[*event.Event]bool
	// evicted are open invocations taken out of a full Calls table during
	// this batch; finish emits them.
	evicted []*partial
}

// oldestCall is the open invocation that started first (ties: the
// smaller call id), "" when none is open.
func (st *State) oldestCall() string {
	var best string
	var start time.Time
	for id, p := range st.Calls {
		if best == "" || p.G.Start.Before(start) || p.G.Start.Equal(start) && id < best {
			best, start = id, p.G.Start
		}
	}
	return best
}

// StateKey names a container's state.
func StateKey(h chunk.Header) string {
	ns := h.Namespace
	if ns == "" {
		ns = "openfaas-fn"
	}
	return ns + "." + h.Function + "." + h.Container
}

// NewState starts the state of the container a chunk came from.
func NewState(h chunk.Header) *State {
	return &State{
		Key: StateKey(h), Function: h.Function, Namespace: h.Namespace, Node: h.Node,
		Pod: h.Pod, Container: h.Container, Image: h.Image, Top: h.PID,
		Procs: map[int]*Proc{}, Threads: map[int]int{}, Calls: map[string]*partial{},
		Streams: map[string]*streamState{},
	}
}

// Builder turns batches into graphs with a Classifier.
type Builder struct {
	Class Classifier
}

// Apply folds one batch into st and returns the graphs it finished: the
// invocations whose response was written in this batch, the background
// activity of this batch, and invocations open longer than MaxOpenFor.
// A batch already applied (the queue redelivers) changes nothing.
func (b Builder) Apply(st *State, batch event.Batch) ([]Graph, error) {
	if batch.Version != event.SchemaVersion {
		return nil, fmt.Errorf("event batch version %d, want %d", batch.Version, event.SchemaVersion)
	}
	h := batch.Chunk
	if StateKey(h) != st.Key {
		return nil, fmt.Errorf("batch for %s applied to state %s", StateKey(h), st.Key)
	}
	if !st.admit(h) {
		return nil, nil
	}
	if s := st.Streams[h.Stream]; s != nil && h.Untraced > s.Untraced {
		st.noteBlind(BlindSpot{Kind: BlindUntraced, Stream: h.Stream, Count: int(min(h.Untraced-s.Untraced, 1<<30))})
		s.Untraced = h.Untraced
	}
	if s := st.Streams[h.Stream]; s != nil && h.Lost > s.Lost {
		st.noteBlind(BlindSpot{Kind: BlindLost, Stream: h.Stream, Count: int(min(h.Lost-s.Lost, 1<<30))})
		s.Lost = h.Lost
		// The request that ends the container's start may be among what
		// was lost: the start is over, or a flood before the first
		// request would keep everything after it out of the graphs.
		st.Born, st.Served = false, true
	}
	if h.Dropped > 0 {
		st.noteBlind(BlindSpot{Kind: BlindDropped, Stream: h.Stream, Count: int(min(h.Dropped, 1<<30)), Bytes: int64(min(h.DroppedBytes, 1<<50))})
	}
	ref := ChunkRef{Stream: h.Stream, Kind: string(h.Kind), Seq: h.Seq}
	if chunk.RoleOf(h.Kind) == chunk.RoleFlows {
		st.addFlows(batch.Events)
		// Flows join graphs when those finish; an open invocation notes the
		// chunk now so the graph names every chunk it drew on.
		for _, p := range st.Calls {
			p.addChunk(ref)
		}
		return nil, nil
	}
	st.addThreads(h.Threads)
	if h.Born && !st.Served && st.Top == h.PID {
		st.Born = true
	}
	// The eBPF sensor reads DNS queries from the sends themselves: they
	// join socket nodes at seal as the pcap parser's do (addFlows keeps
	// only flow, DNS and HTTP events).
	st.addFlows(batch.Events)
	st.early, st.forked = st.earlyForks(batch.Events), map[*event.Event]bool{}
	defer func() { st.early, st.forked = nil, nil }()
	touched := map[*partial]bool{}
	for i := range batch.Events {
		e := &batch.Events[i]
		if e.Time.After(st.Last) {
			st.Last = e.Time
		}
		p := b.apply(st, e)
		if p != nil {
			touched[p] = true
		}
	}
	for p := range touched {
		p.addChunk(ref)
	}
	return b.finish(st, h), nil
}

// admit records the chunk's sequence number and says whether to apply it.
func (st *State) admit(h chunk.Header) bool {
	s := st.Streams[h.Stream]
	if s == nil {
		if len(st.Streams) >= maxStreams {
			st.evictStream()
			st.tableFull(LimitStreams, maxStreams, 1)
		}
		// A second stream of a kind the container already has a stream
		// of: the tracer restarted that sensor, and whatever ran between
		// its end and this start was not seen.
		if k := StreamKind(h.Stream); k != "" {
			for id := range st.Streams {
				if StreamKind(id) == k {
					st.noteBlind(BlindSpot{Kind: BlindRestart, Stream: h.Stream, Count: 1, Detail: string(k)})
					break
				}
			}
		}
		// A stream first seen past 0 lost its beginning.
		s = &streamState{}
		st.Streams[h.Stream] = s
	}
	switch {
	case h.Seq >= s.Next:
		if h.Seq-s.Next > maxSeqJump {
			st.Refused++
			st.noteBlind(BlindSpot{Kind: BlindRefused, Stream: h.Stream, Count: 1})
			return false
		}
		if h.Seq > s.Next {
			g := Gap{Stream: h.Stream, From: s.Next, To: h.Seq - 1}
			if len(s.Gaps) < maxGapsStream {
				s.Gaps = append(s.Gaps, g)
			} else {
				st.GapsUnlisted++
			}
			if len(st.NewGaps) < maxGapsStream {
				st.NewGaps = append(st.NewGaps, g)
			} else {
				st.GapsUnlisted++
			}
		}
		s.advance(h.Seq + 1)
		s.mark(h.Seq)
		return true
	case s.Next-h.Seq > seqWindow:
		// Too far behind to tell a late chunk from a redelivery.
		st.Stale++
		st.noteBlind(BlindSpot{Kind: BlindStale, Stream: h.Stream, Count: 1})
		return false
	case s.seen(h.Seq):
		st.Duplicates++
		return false
	}
	// A late chunk that fills (part of) a gap.
	s.mark(h.Seq)
	for i, g := range s.Gaps {
		if h.Seq < g.From || h.Seq > g.To {
			continue
		}
		var rest []Gap
		if h.Seq > g.From {
			rest = append(rest, Gap{Stream: g.Stream, From: g.From, To: h.Seq - 1})
		}
		if h.Seq < g.To {
			rest = append(rest, Gap{Stream: g.Stream, From: h.Seq + 1, To: g.To})
		}
		s.Gaps = append(s.Gaps[:i], append(rest, s.Gaps[i+1:]...)...)
		if len(s.Gaps) > maxGapsStream {
			s.Gaps = s.Gaps[:maxGapsStream]
			st.GapsUnlisted++
		}
		break
	}
	return true
}

func (st *State) evictStream() {
	var oldest string
	for k := range st.Streams {
		if oldest == "" || k < oldest {
			oldest = k
		}
	}
	delete(st.Streams, oldest)
}

func (st *State) addFlows(evs []event.Event) {
	for _, e := range evs {
		if e.Kind != event.KindFlow && e.Kind != event.KindDNS && e.Kind != event.KindHTTP {
			continue
		}
		st.Flows = append(st.Flows, e)
	}
	if over := len(st.Flows) - maxFlows; over > 0 {
		st.Dropped += over
		st.tableFull(LimitFlows, maxFlows, over)
		st.Flows = append(st.Flows[:0:0], st.Flows[over:]...)
	}
}

// addThreads folds the threads that ran before strace attached into their
// processes. A tid already known (as a process or a thread) keeps what this
// state learnt from the trace itself.
func (st *State) addThreads(m map[int]int) {
	for tid, pid := range m {
		if tid == pid || len(st.Threads) >= maxProcs {
			continue
		}
		if _, ok := st.Threads[tid]; ok {
			continue
		}
		if _, ok := st.Procs[tid]; ok {
			continue
		}
		st.Threads[tid] = pid
	}
}

// pid folds a thread id into its process.
func (st *State) pid(tid int) int {
	if p, ok := st.Threads[tid]; ok {
		return p
	}
	return tid
}

// proc is the table entry of pid, made if new. A full table forgets the
// process that has been idle the longest to make room, and reports the
// limit: refusing the newcomer instead let 4,096 sleeping processes hide
// what an attacker started next (its invocation, its image) — the
// newcomer is the one acting. The forgotten process's nodes stay in the
// graphs; if it acts again it starts over as an unknown process.
func (st *State) proc(pid int) *Proc {
	st.Tick++
	p := st.Procs[pid]
	if p == nil {
		if len(st.Procs) >= maxProcs {
			st.Dropped++
			st.tableFull(LimitProcs, maxProcs, 1)
			st.evictIdlest()
		}
		p = &Proc{}
		st.Procs[pid] = p
	}
	p.Seen = st.Tick
	return p
}

// adoptInto gives call to root and to every process descending from it
// that acts for no invocation (a linear pass per level, bounded by the
// process table and maxStartupDepth levels).
func (st *State) adoptInto(root int, call string) {
	in := map[int]bool{root: true}
	if p := st.Procs[root]; p != nil {
		p.Call = call
	}
	for range maxStartupDepth {
		grew := false
		for pid, p := range st.Procs {
			if !in[pid] && in[p.PPID] && p.Call == "" {
				p.Call, in[pid], grew = call, true, true
			}
		}
		if !grew {
			return
		}
	}
}

// maxStartupDepth bounds the walk from a process up to the container's
// first process.
const maxStartupDepth = 16

// startup says whether an event of pid is part of the container's start:
// the sensor saw the container from its creation, no request was read yet,
// and pid is the container's first process or was forked from it. A
// process entering the container from outside (kubectl exec: a child of
// the runtime, not of the container's process) is never startup, nothing
// is once the first request was read, and nothing is for a container a
// sensor attached to later (strace, or eBPF after a tracer restart): its
// activity before a request, a beacon left running say, is all seen.
func (st *State) startup(pid int) bool {
	if !st.Born || st.Served || st.Top <= 0 {
		return false
	}
	for range maxStartupDepth {
		if pid == st.Top {
			return true
		}
		p := st.Procs[pid]
		if p == nil || p.PPID <= 0 || p.PPID == pid {
			return false
		}
		pid = p.PPID
	}
	return false
}

// startupEvent folds an event of the container's start into the process
// table only (see startup): children are the container's, threads fold
// into their process, an exec gives no image.
func (st *State) startupEvent(pid int, e *event.Event) {
	switch e.Syscall {
	case "clone", "clone3", "fork", "vfork":
		child := int(e.Ret)
		if child <= 0 || e.Errno != "" {
			return
		}
		if e.Thread {
			if _, ok := st.Threads[child]; ok || len(st.Threads) < maxProcs {
				st.Threads[child] = pid
			}
			return
		}
		delete(st.Threads, child)
		*st.proc(child) = Proc{PPID: pid, Seen: st.Tick}
	}
}

// evictIdlest forgets the process that acted least recently. A linear
// scan: it runs only on a full table, once per process started there.
func (st *State) evictIdlest() {
	victim, seen := 0, uint64(0)
	for pid, p := range st.Procs {
		if victim == 0 || p.Seen < seen || p.Seen == seen && pid < victim {
			victim, seen = pid, p.Seen
		}
	}
	delete(st.Procs, victim)
}

// target is the graph an event of process pid belongs to.
func (b Builder) target(st *State, pid int, e *event.Event) *partial {
	// I/O on an open invocation's request connection belongs to that
	// invocation, whichever request the process read last: a Node.js
	// process serves concurrent calls, and the response to the first must
	// end the first, not be booked to the second.
	if p := st.requestOf(e); p != nil {
		return p
	}
	return st.current(pid, e.Time)
}

// current is the graph process pid acts for outside any request
// connection: its call's, or the background window (opened at t).
func (st *State) current(pid int, t time.Time) *partial {
	if c := st.Procs[pid]; c != nil && c.Call != "" {
		if p := st.Calls[c.Call]; p != nil {
			return p
		}
	}
	if st.Bg == nil {
		st.BgSeq++
		st.Bg = st.newPartial(WindowBackground, "", t)
	}
	return st.Bg
}

func (st *State) newPartial(w Window, call string, t time.Time) *partial {
	id := st.Key + "/" + call
	if w == WindowBackground {
		id = st.Key + "/bg-" + strconv.Itoa(st.BgSeq) + "-" + strconv.FormatInt(t.UnixNano(), 36)
	}
	return &partial{
		G: Graph{Version: SchemaVersion, ID: id, Function: st.Function, Namespace: st.Namespace,
			Node: st.Node, Pod: st.Pod, Container: st.Container, Image: st.Image, Window: w, CallID: call,
			Start: t, End: t, Nodes: []Node{}, Edges: []Edge{}},
		NodeIndex: map[string]int{}, EdgeIndex: map[string]int{},
	}
}

func connKey(e *event.Event) string { return e.Local + "->" + e.Remote }

// apply folds one strace event into the state and returns the graph it
// went to, if any.
func (b Builder) apply(st *State, e *event.Event) *partial {
	if ce, ok := st.early[e.PID]; ok {
		delete(st.early, e.PID)
		if !st.forked[ce] {
			b.applyFork(st, ce)
			st.forked[ce] = true
		}
	}
	pid := st.pid(e.PID)
	switch e.Kind {
	case event.KindExit:
		if e.PID == pid {
			if pr := st.Procs[pid]; pr != nil && pr.Call != "" {
				st.exitFromCall(pid, pr.Call)
			}
			delete(st.Procs, pid)
		} else {
			delete(st.Threads, e.PID)
		}
		return nil
	case event.KindSyscall:
	default:
		return nil
	}
	if st.startup(pid) && (e.CallID == "" || !isRead(e.Syscall)) {
		// The container starting: its runtime setting it up (namespaces,
		// mounts, dropping privileges: runc's init, the local stack's
		// sandbox) and its server loading. strace attaches after it and
		// never sees it; the eBPF sensor follows a container from its
		// creation and does, and graphs of it raised invariants on
		// every new container (setns, unshare, /proc/<pid>/maps) and
		// made a new container's server an image where one that
		// predated the tracer is an attached process. Only the process
		// lineage is kept, so that the container's processes are known
		// as its own; they stay of no known image, as under strace.
		st.startupEvent(pid, e)
		return nil
	}
	// A non-blocking connect answers EINPROGRESS and goes on connecting: it
	// is how curl, Node.js and Go all connect.
	if e.Errno != "" && e.Errno != errnoUnknown && (e.Errno != "EINPROGRESS" || e.Syscall != "connect") {
		// Failed calls are mostly library and module lookups; a failed
		// call changed nothing, so it is not provenance. But a refused
		// one is intent: functions run unprivileged, so most attacks
		// fail at the syscall, and what they tried is kept as an act.
		if !attempt(e) {
			return nil
		}
		p := b.target(st, pid, e)
		if e.Time.After(p.G.End) {
			p.G.End = e.Time
		}
		p.act(b, p.process(b, st, pid), e)
		return p
	}
	if isRead(e.Syscall) {
		if e.Errno == errnoUnknown {
			// The first half of a read cut by the chunk boundary: remember
			// its socket for the half that carries the data.
			if e.Proto != "" {
				if st.Pending == nil {
					st.Pending = map[int]endpoint{}
				}
				if len(st.Pending) < maxProcs {
					st.Pending[e.PID] = endpoint{e.Proto, e.Local, e.Remote}
				}
			}
			return nil
		}
		if ep, ok := st.Pending[e.PID]; ok {
			delete(st.Pending, e.PID)
			if e.Proto == "" && e.Path == "" {
				e.Proto, e.Local, e.Remote = ep.Proto, ep.Local, ep.Remote
			}
		}
	}
	pr := st.proc(pid)
	var p *partial // the graph e goes to
	// A read carrying an X-Call-Id starts an invocation.
	if e.CallID != "" && isRead(e.Syscall) {
		_, open := st.Calls[e.CallID]
		if !open && len(st.Calls) >= maxOpenCalls {
			// The table is full: the oldest open invocation is emitted
			// now, as far as it got, to make room. Refusing the new one
			// instead let 256 forged call ids push a real attack out of
			// its invocation graph (issue 14); now the forger's own
			// graphs go first, and the limit is reported.
			st.tableFull(LimitOpenCalls, maxOpenCalls, 1)
			if id := st.oldestCall(); id != "" {
				st.evicted = append(st.evicted, st.Calls[id])
				delete(st.Calls, id)
			}
		}
		st.Served = true
		if !open && len(st.Calls) < maxOpenCalls {
			p := st.newPartial(WindowInvocation, e.CallID, e.Time)
			if e.Remote != "" {
				p.Conn = connKey(e)
			}
			st.Calls[e.CallID] = p
		}
		if pr.Call != "" && pr.Call != e.CallID {
			pr.Also = withCall(pr.Also, pr.Call)
		}
		pr.Call, pr.Also = e.CallID, withoutCall(pr.Also, e.CallID)
		p = b.target(st, pid, e)
	} else {
		// One scan of the open calls for both: which call the process
		// now acts for, and where this event goes (target's order).
		p = st.requestOf(e)
		st.followConn(pr, pid, e, p)
		if p == nil {
			p = st.current(pid, e.Time)
		}
	}
	if e.Time.After(p.G.End) {
		p.G.End = e.Time
	}
	self := p.process(b, st, pid)
	switch e.Syscall {
	case "clone", "clone3", "fork", "vfork":
		if !st.forked[e] {
			b.fork(st, p, pid, self, e)
		}
	case "execve", "execveat":
		pr.Exe = e.Path
		if len(e.Argv) > 0 {
			pr.Argv0 = e.Argv[0]
			pr.Cmd = boundedJoin(e.Argv, 200)
		}
		// The process node changes its label with the new image.
		delete(p.NodeIndex, procKey(pid))
		f := p.file(b, e.Path)
		if st.Written[p.G.Nodes[f].Label] && !isOverflow(&p.G, f) {
			p.G.Nodes[f].Written = true
		}
		p.edge(f, p.process(b, st, pid), EdgeExecve, e)
	case "open", "openat", "openat2", "creat":
		f := p.file(b, e.Path)
		p.edge(self, f, EdgeOpen, e)
		if e.Syscall == "creat" || opensForWrite(e.Flags) {
			st.markWritten(p, f)
		}
	case "read", "readv", "pread64", "preadv", "preadv2":
		if o := p.object(b, e); o >= 0 {
			k := EdgeRead
			if e.Proto != "" {
				k = EdgeRecv
			}
			p.edge(o, self, k, e)
		}
	case "write", "writev", "pwrite64", "pwritev", "pwritev2":
		if o := p.object(b, e); o >= 0 {
			k := EdgeWrite
			if e.Proto != "" {
				k = EdgeSend
			}
			p.edge(self, o, k, e)
			if k == EdgeWrite {
				st.markWritten(p, o)
			}
		}
		b.maybeEnd(st, p, e)
	case "recvfrom", "recvmsg", "recvmmsg":
		if o := p.object(b, e); o >= 0 {
			p.edge(o, self, EdgeRecv, e)
		}
	case "sendto", "sendmsg", "sendmmsg":
		if o := p.object(b, e); o >= 0 {
			p.edge(self, o, EdgeSend, e)
		}
		b.maybeEnd(st, p, e)
	case "connect":
		if o := p.object(b, e); o >= 0 {
			p.edge(self, o, EdgeConnect, e)
		}
		if pr.Call != "" && e.FD >= 0 {
			if st.ConnCalls == nil || len(st.ConnCalls) >= maxConnCalls {
				// Entries of ended calls are ignored, not removed: a
				// full map starts over (rare; a stale entry costs a
				// lookup, a missing one only the switch).
				st.ConnCalls = map[string]string{}
			}
			st.ConnCalls[fdKey(pid, e.FD)] = pr.Call
		}
	case "accept", "accept4":
		if o := p.object(b, e); o >= 0 {
			p.edge(o, self, EdgeAccept, e)
		}
	case "unlink", "unlinkat":
		p.edge(self, p.file(b, e.Path), EdgeUnlink, e)
	case "rename", "renameat", "renameat2":
		dst := p.file(b, e.Path2)
		p.edge(p.file(b, e.Path), dst, EdgeRename, e)
		st.markWritten(p, dst)
	case "chmod", "fchmod", "fchmodat", "fchmodat2":
		if e.Path != "" {
			f := p.file(b, e.Path)
			p.edge(self, f, EdgeChmod, e)
			st.markWritten(p, f)
			if e.Mode&0o6000 != 0 {
				p.act(b, self, e) // setuid/setgid bits: the mode matters
			}
		}
	case "sendfile", "sendfile64", "splice", "copy_file_range":
		// Data moved between two fds without passing through the
		// process's memory: a secret sent this way showed only its open
		// and the connect before. Read from the in-file, sent or written
		// to the out side, as a read/write pair would be.
		if e.Path != "" && !strings.HasPrefix(e.Path, "pipe:") && !strings.HasPrefix(e.Path, "socket:") {
			p.edge(p.file(b, e.Path), self, EdgeRead, e)
		}
		switch {
		case e.Proto != "":
			if o := p.object(b, &event.Event{Proto: e.Proto, Remote: e.Remote}); o >= 0 {
				p.edge(self, o, EdgeSend, e)
			}
		case e.Path2 != "":
			if o := p.object(b, &event.Event{Path: e.Path2}); o >= 0 {
				p.edge(self, o, EdgeWrite, e)
				st.markWritten(p, o)
			}
		}
	case "mmap":
		// A file mapped executable is code run without an execve (a
		// dropped shared library, LD_PRELOAD, a payload an interpreter
		// dlopens). It is kept as the file's execution when it could be
		// a payload: written by this container, in a world-writable
		// directory, or nameless (memfd). The image's libraries, mapped
		// at every process start, would only repeat the execve.
		if e.Path != "" && strings.Contains(e.Flags, "PROT_EXEC") {
			_, label := b.Class.File(e.Path)
			if st.Written[label] || payloadPath(e.Path) {
				f := p.file(b, e.Path)
				if st.Written[label] {
					p.G.Nodes[f].Written = true
				}
				p.edge(f, self, EdgeExecve, e)
			}
		}
	case "socket":
		if e.Proto == "PACKET" || e.Proto == "RAW" {
			p.act(b, self, e)
		}
	case "link", "linkat", "symlink", "symlinkat":
		p.act(b, self, e)
		if e.Path2 != "" {
			st.markWritten(p, p.file(b, e.Path2))
		}
	default:
		if securityCalls[e.Syscall] {
			p.act(b, self, e)
		}
	}
	return p
}

// payloadPath says whether a mapped file lies where payloads are put:
// world-writable directories and memfds.
func payloadPath(fp string) bool {
	if strings.HasPrefix(fp, "/memfd:") {
		return true
	}
	for _, d := range []string{"/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/"} {
		if strings.HasPrefix(fp, d) {
			return true
		}
	}
	return false
}

// securityCalls are the calls outside the provenance relations that are
// kept as acts whenever they happen (see Graph.Acts).
var securityCalls = map[string]bool{
	"ptrace": true, "setuid": true, "setgid": true, "setreuid": true, "setregid": true,
	"setresuid": true, "setresgid": true, "setfsuid": true, "setfsgid": true, "capset": true,
	"mount": true, "umount2": true, "unshare": true, "setns": true, "memfd_create": true,
	"bind": true, "listen": true, "truncate": true, "ftruncate": true,
	"link": true, "linkat": true, "symlink": true, "symlinkat": true,
}

// deniedErrnos are the results of a call the kernel refused for lack of
// permission: an attempt, not a lookup.
var deniedErrnos = map[string]bool{"EACCES": true, "EPERM": true, "EROFS": true, "ETXTBSY": true}

// attempt says whether a failed call is kept as an act: every refused call,
// and a security call whatever its error (an attempt to ptrace a pid that
// does not exist, or to mount with bad arguments, is still the attempt).
// Failed lookups (ENOENT of a module search path) stay out: they are most
// failed calls and say nothing.
func attempt(e *event.Event) bool {
	if e.Syscall == "socket" {
		return e.Proto == "PACKET" || e.Proto == "RAW"
	}
	return deniedErrnos[e.Errno] || securityCalls[e.Syscall]
}

// opensForWrite reads open's flags as strace prints them.
func opensForWrite(flags string) bool {
	return strings.Contains(flags, "O_WRONLY") || strings.Contains(flags, "O_RDWR") ||
		strings.Contains(flags, "O_CREAT") || strings.Contains(flags, "O_TRUNC")
}

// markWritten records file node f of p as written by this container.
func (st *State) markWritten(p *partial, f int) {
	// The overflow node is no one file: marking it written would make
	// any later exec that lands on it look like drift.
	if f < 0 || f >= len(p.G.Nodes) || p.G.Nodes[f].Kind != NodeFile || isOverflow(&p.G, f) {
		return
	}
	p.G.Nodes[f].Written = true
	label := p.G.Nodes[f].Label
	if st.Written[label] {
		return
	}
	if len(st.Written) >= maxWritten {
		st.Dropped++
		st.tableFull(LimitWritten, maxWritten, 1)
		return
	}
	if st.Written == nil {
		st.Written = map[string]bool{}
	}
	st.Written[label] = true
}

// act records a security-relevant call of process node proc.
func (p *partial) act(b Builder, proc int, e *event.Event) {
	a := Act{Proc: proc, Syscall: e.Syscall, Path: bounded(e.Path, 512), Path2: bounded(e.Path2, 512),
		Arg: bounded(e.Flags, 256), Mode: e.Mode, Target: e.Target, Local: e.Local, Errno: e.Errno,
		First: e.Time, Count: 1}
	if e.Errno == errnoUnknown {
		a.Errno = ""
	}
	if a.Path != "" {
		a.Class, a.Label = b.Class.File(a.Path)
	}
	if e.Syscall == "socket" || e.Syscall == "bind" || e.Syscall == "listen" {
		a.Path, a.Class, a.Label = "", "", ""
		if a.Arg == "" {
			a.Arg = e.Proto
		}
	}
	for i := range p.G.Acts {
		o := &p.G.Acts[i]
		if o.Proc == a.Proc && o.Syscall == a.Syscall && o.Path == a.Path && o.Path2 == a.Path2 &&
			o.Arg == a.Arg && o.Target == a.Target && o.Local == a.Local && o.Errno == a.Errno {
			o.Count++
			return
		}
	}
	if len(p.G.Acts) >= MaxActs {
		p.G.Acts[len(p.G.Acts)-1].Count++
		return
	}
	p.G.Acts = append(p.G.Acts, a)
}

func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// fork records the child of a clone: a thread folds into its process; a
// process starts as a copy of its parent, in its parent's invocation.
func (b Builder) fork(st *State, p *partial, pid, self int, e *event.Event) {
	child := int(e.Ret)
	if child <= 0 {
		return
	}
	if e.Thread {
		if _, ok := st.Threads[child]; !ok && len(st.Threads) >= maxProcs {
			// Bounded: an unmapped thread acts as a process of its own
			// (its own entry in the bounded process table), still traced.
			st.tableFull(LimitProcs, maxProcs, 1)
			return
		}
		st.Threads[child] = pid
		return
	}
	delete(st.Threads, child) // a reused id of a thread gone
	pr := st.proc(pid)
	old, ranEarly := st.Procs[child]
	ranEarly = ranEarly && old.PPID == 0
	cp := st.proc(child)
	spawned := pr.Spawned
	if pr.Call != "" {
		spawned = pr.Call
	}
	if ranEarly {
		// The child ran, and perhaps exec'd and forked, before this
		// clone returned, in an earlier batch (a vfork: the parent is
		// suspended until the child execs): it keeps its own image, and
		// it and the children it made join the parent's invocation.
		cp.PPID, cp.Spawned = pid, spawned
		if cp.Call == "" && pr.Call != "" {
			st.adoptInto(child, pr.Call)
			cp.Also = slices.Clone(pr.Also)
		}
	} else {
		*cp = Proc{PPID: pid, Exe: pr.Exe, Argv0: pr.Argv0, Cmd: pr.Cmd, Call: pr.Call, Also: slices.Clone(pr.Also), Spawned: spawned}
	}
	p.edge(self, p.process(b, st, child), EdgeFork, e)
}

// applyFork applies clone e ahead of its place in the batch, because its
// child has started running.
func (b Builder) applyFork(st *State, e *event.Event) {
	pid := st.pid(e.PID)
	p := b.target(st, pid, e)
	b.fork(st, p, pid, p.process(b, st, pid), e)
}

// earlyForks finds the children whose syscalls precede their clone in evs.
// strace prints a clone that another thread's output interrupted as
// "<unfinished ...>" and the parser emits it where its "<... resumed>"
// half is, after whatever the child did in between (typically its
// execve). Without looking ahead, those first syscalls belong to an
// unknown process, in no invocation: the background window got a
// fragment of the invocation, with the child's new image, and the
// invocation's graph missed it.
//
// A vforked child can even fork before its own clone returns, its children
// acting in one batch and the clone in the next: a process known from an
// earlier batch (st) to descend from the clone's child, acting before the
// clone in this batch, applies the clone first too.
func (st *State) earlyForks(evs []event.Event) map[int]*event.Event {
	var early map[int]*event.Event
	seen := map[int]bool{}
	var order []int // pids in the order they first act
	for i := range evs {
		e := &evs[i]
		if e.Kind != event.KindSyscall && e.Kind != event.KindExit {
			continue
		}
		// A child may even exit before its parent's clone returns: a
		// vfork (posix_spawn, a shell's pipeline) suspends the parent
		// until the child execs, and a short child (cat) can exec, run
		// and exit before the parent is scheduled again — seen through
		// eBPF, where its whole life was booked to no invocation. So an
		// exit does not make a later clone of the same id a new process:
		// for that the kernel would have to reuse the id within one
		// batch, a wrap of the pid space in about a second.
		if !seen[e.PID] {
			seen[e.PID] = true
			order = append(order, e.PID)
		}
		if e.Kind != event.KindSyscall || e.Ret <= 0 || e.Errno != "" {
			continue
		}
		switch e.Syscall {
		case "clone", "clone3", "fork", "vfork":
			child := int(e.Ret)
			trigger := 0
			if seen[child] {
				trigger = child
			} else if c := st.Procs[child]; c != nil && c.PPID == 0 {
				// Ran in an earlier batch: the first of its known
				// descendants to act here applies the clone.
				for _, q := range order {
					if st.descends(q, child) {
						trigger = q
						break
					}
				}
			}
			if trigger != 0 {
				if early == nil {
					early = map[int]*event.Event{}
				}
				if _, taken := early[trigger]; !taken {
					early[trigger] = e
				}
			}
		}
	}
	return early
}

// descends says whether pid's known ancestors (Proc.PPID, up to
// maxStartupDepth steps) include anc.
func (st *State) descends(pid, anc int) bool {
	for range maxStartupDepth {
		p := st.Procs[pid]
		if p == nil || p.PPID <= 0 || p.PPID == pid {
			return false
		}
		if p.PPID == anc {
			return true
		}
		pid = p.PPID
	}
	return false
}

// exitFromCall ends invocation call when pid, exiting, was the last
// process acting for it: a handler that crashed (or a per-request process
// that exited without a response the trace shows) has nothing left to
// add, and waiting MaxOpenFor for later activity left its graph unsealed
// for two minutes, or for ever on an idle container.
func (st *State) exitFromCall(pid int, call string) {
	p := st.Calls[call]
	if p == nil || p.Ended {
		return
	}
	for other, pr := range st.Procs {
		if other != pid && pr.Call == call {
			return
		}
	}
	p.Ended = true
}

// maybeEnd ends an invocation when its process writes to the connection
// the request came on: that is the response.
func (b Builder) maybeEnd(st *State, p *partial, e *event.Event) {
	if p.G.Window != WindowInvocation || p.Ended || e.Proto == "" || e.Remote == "" || connKey(e) != p.Conn {
		return
	}
	p.Ended = true
	id := p.G.CallID
	for _, pr := range st.Procs {
		pr.Also = withoutCall(pr.Also, id)
		if pr.Call == id {
			// A process serving this call and others (a Node.js server
			// with two requests in flight, and the children it forked
			// meanwhile, which may be the other call's) goes on with the
			// oldest of those still open; with none, it acts for no
			// invocation. Seen in the lab through eBPF: the pipeline
			// photo-receive started for one of two concurrent calls,
			// forked after the second request was read, went to a
			// background window when the second call answered first, and
			// was flagged as a process left running. A process that
			// outlives every call it may belong to still ends there.
			pr.Call = ""
			for _, c := range pr.Also {
				if q := st.Calls[c]; q != nil && !q.Ended {
					pr.Call = c
					break
				}
			}
			pr.Also = withoutCall(pr.Also, pr.Call)
		}
	}
}

// followConn switches a process serving several calls to the one whose
// connection it does I/O on: the call's request connection, or an
// outbound connection it opened while acting for that call. A Node.js
// server runs one callback at a time, so what it does next (the file it
// writes, the pipeline it forks) is that call's work. Recorded in the
// lab through eBPF: two photo-receive calls in flight, the first one's
// download arrived after the second request was read, and its conversion
// pipeline, booked to the second call, was left half in the first call's
// graph (or in the background), a fragment the GNN flagged.
//
// req is the open invocation whose request connection e is on (requestOf),
// or nil.
func (st *State) followConn(pr *Proc, pid int, e *event.Event, req *partial) {
	if e.Proto == "" || pr.Call == "" && len(pr.Also) == 0 {
		return
	}
	c := ""
	if req != nil {
		c = req.G.CallID
	}
	if c == "" && e.FD >= 0 {
		c = st.ConnCalls[fdKey(pid, e.FD)]
	}
	if c == "" || c == pr.Call {
		return
	}
	if q := st.Calls[c]; q == nil || q.Ended {
		return
	}
	if pr.Call != "" {
		pr.Also = withCall(pr.Also, pr.Call)
	}
	pr.Call, pr.Also = c, withoutCall(pr.Also, c)
}

// requestOf is the open invocation whose request connection e's I/O is
// on, if any.
func (st *State) requestOf(e *event.Event) *partial {
	if e.Proto == "" || e.Remote == "" {
		return nil
	}
	key := connKey(e)
	for _, p := range st.Calls {
		if !p.Ended && p.Conn == key {
			return p
		}
	}
	return nil
}

// fdKey names a process's fd in State.ConnCalls.
func fdKey(pid, fd int) string { return strconv.Itoa(pid) + ":" + strconv.Itoa(fd) }

// Bounds of the calls a process may be serving besides its own
// (Proc.Also, oldest first) and of the outbound connections remembered
// by call (State.ConnCalls).
const (
	maxAlso      = 8
	maxConnCalls = 1024
)

// withCall adds call to also (oldest first), forgetting the oldest past
// maxAlso.
func withCall(also []string, call string) []string {
	if slices.Contains(also, call) {
		return also
	}
	also = append(also, call)
	if len(also) > maxAlso {
		also = slices.Delete(also, 0, len(also)-maxAlso)
	}
	return also
}

// withoutCall removes call from also (nil when it empties).
func withoutCall(also []string, call string) []string {
	if call == "" {
		return also
	}
	also = slices.DeleteFunc(also, func(c string) bool { return c == call })
	if len(also) == 0 {
		return nil
	}
	return also
}

func isRead(sc string) bool {
	switch sc {
	case "read", "readv", "recvfrom", "recvmsg", "pread64":
		return true
	}
	return false
}

func procKey(pid int) string { return "p:" + strconv.Itoa(pid) }

// node returns the node with key, creating it from n. This is the one
// place nodes are created, so the node cap (MaxNodes) is enforced here:
// past MaxNodes-len(NodeKinds) nodes, a new object becomes the overflow
// node of its kind (one each, in the slots kept for them), so its events
// still land in the graph, as edges and acts of a node that says it stands
// for what the cap cut, and the graph records the truncation.
func (p *partial) node(key string, n Node) int {
	if i, ok := p.NodeIndex[key]; ok {
		return i
	}
	if len(p.G.Nodes) >= MaxNodes-len(NodeKinds) {
		return p.overflow(n.Kind)
	}
	n.ID = len(p.G.Nodes)
	p.G.Nodes = append(p.G.Nodes, n)
	p.NodeIndex[key] = n.ID
	return n.ID
}

// OverflowLabel labels the node of each kind that stands for the objects a
// graph met after it reached the node cap.
const OverflowLabel = "(over the node cap)"

// overflow returns the overflow node of kind k and counts the node not
// created (each refused object counts once per event that named it: what
// was cut is not indexed, so repeats cannot be told apart).
func (p *partial) overflow(k NodeKind) int {
	t := p.truncation()
	t.Nodes++
	key := "overflow:" + string(k)
	if i, ok := p.NodeIndex[key]; ok {
		return i
	}
	n := Node{ID: len(p.G.Nodes), Kind: k, Label: OverflowLabel, Class: ClassOther}
	p.G.Nodes = append(p.G.Nodes, n)
	p.NodeIndex[key] = n.ID
	return n.ID
}

// truncation is the graph's node-cap truncation record, made on first use.
func (p *partial) truncation() *Truncation {
	for i := range p.G.Truncated {
		if p.G.Truncated[i].Reason == TruncNodeCap {
			return &p.G.Truncated[i]
		}
	}
	p.G.Truncated = append(p.G.Truncated, Truncation{Reason: TruncNodeCap, Limit: MaxNodes})
	return &p.G.Truncated[len(p.G.Truncated)-1]
}

// isOverflow says whether node i of g is an overflow node.
func isOverflow(g *Graph, i int) bool {
	return i >= 0 && i < len(g.Nodes) && g.Nodes[i].Label == OverflowLabel && g.Nodes[i].Path == "" && g.Nodes[i].PID == 0
}

func (p *partial) process(b Builder, st *State, pid int) int {
	pr := st.Procs[pid]
	if pr == nil {
		pr = &Proc{}
	}
	label := path.Base(pr.Exe)
	if pr.Exe == "" {
		// A process that was running before the tracer attached (the
		// container's own server): its pid is in Node.PID, not in the
		// label, which models read and which must not vary by container.
		label = "attached process"
	}
	if pr.Cmd != "" {
		label = pr.Cmd
	}
	_, exe := b.Class.File(pr.Exe)
	return p.node(procKey(pid), Node{Kind: NodeProcess, Label: label, PID: pid, Exe: exe, Argv0: pr.Argv0, Spawned: pr.Spawned})
}

func (p *partial) file(b Builder, fp string) int {
	class, label := b.Class.File(fp)
	return p.node("f:"+label, Node{Kind: NodeFile, Label: label, Class: class, Path: fp})
}

// object is the node for the fd an I/O event acted on: a socket's remote
// end, a pipe, or a file; -1 when the event does not say.
func (p *partial) object(b Builder, e *event.Event) int {
	switch {
	case e.Proto == "TCP" || e.Proto == "UDP" || e.Proto == "TCPv6" || e.Proto == "UDPv6":
		if e.Remote == "" {
			return -1
		}
		class, label := b.Class.Addr(e.Remote)
		return p.node("s:"+label, Node{Kind: NodeSocket, Label: label, Class: class, Addr: e.Remote, Proto: strings.TrimSuffix(e.Proto, "v6")})
	case e.Proto == "UNIX":
		return p.node("u:unix", Node{Kind: NodeSocket, Label: "unix", Class: ClassLoopback, Proto: "UNIX"})
	case e.Proto != "":
		return -1 // netlink and the like: not provenance
	case strings.HasPrefix(e.Path, "pipe:"):
		return p.node("pipe", Node{Kind: NodePipe, Label: "pipe"})
	case e.Path != "" && !strings.HasPrefix(e.Path, "anon_inode:") && !strings.HasPrefix(e.Path, "socket:"):
		return p.file(b, e.Path)
	}
	return -1
}

func (p *partial) edge(src, dst int, k EdgeKind, e *event.Event) {
	key := strconv.Itoa(src) + ">" + strconv.Itoa(dst) + ":" + string(k)
	var bytes int64
	if e.Bytes > 0 {
		bytes = e.Bytes
	}
	if i, ok := p.EdgeIndex[key]; ok {
		ed := &p.G.Edges[i]
		ed.Count++
		ed.Bytes += bytes
		if e.Time.After(ed.Last) {
			ed.Last = e.Time
		}
		return
	}
	if len(p.G.Edges) >= MaxEdges {
		p.truncation().Edges++
		return
	}
	p.EdgeIndex[key] = len(p.G.Edges)
	p.G.Edges = append(p.G.Edges, Edge{Src: src, Dst: dst, Kind: k, First: e.Time, Last: e.Time, Count: 1, Bytes: bytes})
}

func (p *partial) addChunk(ref ChunkRef) {
	for _, c := range p.G.Chunks {
		if c == ref {
			return
		}
	}
	if len(p.G.Chunks) < 1024 {
		p.G.Chunks = append(p.G.Chunks, ref)
	}
}

// finish emits the graphs that are done after a strace batch.
func (b Builder) finish(st *State, h chunk.Header) []Graph {
	var out []Graph
	for _, p := range st.evicted {
		out = append(out, b.seal(st, p))
	}
	st.evicted = nil
	var ids []string
	for id := range st.Calls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := st.Calls[id]
		if p.Ended || st.Last.Sub(p.G.Start) > MaxOpenFor {
			out = append(out, b.seal(st, p))
			delete(st.Calls, id)
		}
	}
	if st.Bg != nil {
		if len(st.Bg.G.Edges) > 0 {
			out = append(out, b.seal(st, st.Bg))
		}
		st.Bg = nil
	}
	if len(out) > 0 {
		st.NewGaps, st.Blind = nil, nil
	}
	st.expireFlows()
	return out
}

// seal joins the pcap flows of the graph's window to its socket nodes and
// returns the finished graph.
func (b Builder) seal(st *State, p *partial) Graph {
	g := p.G
	g.Gaps = append(g.Gaps, st.NewGaps...)
	g.Blind = append(g.Blind, st.Blind...)
	bySock := map[string]int{}
	for _, n := range g.Nodes {
		if n.Kind == NodeSocket && n.Addr != "" {
			bySock[n.Addr] = n.ID
		}
	}
	from, to := g.Start.Add(-time.Second), g.End.Add(time.Second)
	// Which conversations the function started (the pcap parser knows
	// from the SYN), for the direction of the HTTP requests below.
	outbound := map[string]bool{}
	for _, f := range st.Flows {
		if f.Flow != nil && f.Flow.Outbound {
			outbound[f.Flow.Src+">"+f.Flow.Dst] = true
		}
	}
	for _, f := range st.Flows {
		switch {
		case f.Flow != nil:
			if f.Flow.Last.Before(from) || f.Flow.First.After(to) {
				continue
			}
			for _, a := range []string{f.Flow.Dst, f.Flow.Src} {
				if id, ok := bySock[a]; ok {
					g.Nodes[id].Packets += f.Flow.Packets
					g.Nodes[id].Bytes += f.Flow.Bytes
					break
				}
			}
		case f.HTTP != nil:
			if f.Time.Before(from) || f.Time.After(to) || len(g.Requests) >= MaxRequests {
				continue
			}
			// A request with this call's id is the invocation's own; one
			// with another call's id is that invocation's. One without an
			// id is the function's own only when its flow started inside
			// the function's namespace: an inbound one without an id is
			// the platform's health probe, part of no invocation (kept as
			// "outbound" it was new behaviour after every restart).
			switch {
			case g.CallID != "" && f.HTTP.CallID == g.CallID:
				g.Requests = append(g.Requests, Request{Method: bounded(f.HTTP.Method, 16), Host: bounded(f.HTTP.Host, 253), Path: bounded(f.HTTP.Path, 512)})
			case f.HTTP.CallID == "" && outbound[f.HTTP.Src+">"+f.HTTP.Dst]:
				g.Requests = append(g.Requests, Request{Method: bounded(f.HTTP.Method, 16), Host: bounded(f.HTTP.Host, 253), Path: bounded(f.HTTP.Path, 512), Outbound: true})
			}
		case f.DNS != nil:
			if f.Time.Before(from) || f.Time.After(to) {
				continue
			}
			if id, ok := bySock[f.DNS.Dst]; ok && g.Nodes[id].DNS == "" {
				g.Nodes[id].DNS = f.DNS.Name
			}
		}
	}
	return g
}

func (st *State) expireFlows() {
	cut := st.Last.Add(-flowKeep)
	i := 0
	for i < len(st.Flows) && eventTime(&st.Flows[i]).Before(cut) {
		i++
	}
	st.Flows = st.Flows[i:]
}

func eventTime(e *event.Event) time.Time {
	if e.Flow != nil {
		return e.Flow.Last
	}
	return e.Time
}

func boundedJoin(argv []string, limit int) string {
	var sb strings.Builder
	for i, a := range argv {
		if i > 0 {
			sb.WriteByte(' ')
		}
		if sb.Len()+len(a) > limit {
			sb.WriteString(a[:max(0, limit-sb.Len())])
			sb.WriteString("…")
			break
		}
		sb.WriteString(a)
	}
	return sb.String()
}

package strace

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/faasmon/faasmon/pkg/chunk"
	parser "github.com/faasmon/faasmon/pkg/parse/strace"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// SyscallSet is what strace traces: the provenance set, plus the
// variants real runtimes use for the same operations (renameat2: glibc and
// Go rename; pread64/pwrite64 and preadv/pwritev: libuv file I/O with an
// offset; dup2/dup3 and openat2 complete their families).
const SyscallSet = "execve,execveat,clone,clone3,fork,vfork," +
	"open,openat,openat2,creat," +
	"read,write,readv,writev,pread64,pwrite64,preadv,pwritev," +
	"unlink,unlinkat,rename,renameat,renameat2,chmod,fchmodat," +
	"connect,accept,accept4,recvfrom,sendto,recvmsg,sendmsg,socket," +
	"dup,dup2,dup3,exit_group,kill,mmap," + SecuritySet

// SecuritySet is the security-relevant calls beyond the provenance set
// (issue 13's invariants and issue 14's coverage gaps): privilege and
// namespace changes, sniffing sockets, fileless code, hard/soft links, data
// moved without a read/write pair, listeners, and io_uring_setup (a ring
// whose operations strace never sees one by one; io_uring_enter is not
// traced: it is the ring's hot path and shows no more). Each name was checked with
// `strace -e trace=NAME true` on strace 6.1; fchmodat2 is newer than 6.1,
// so it carries strace's "?" (ignored when unknown, traced by a strace that
// knows it) instead of making strace 6.1 refuse the whole set.
const SecuritySet = "ptrace,setuid,setgid,setreuid,setregid,setresuid,setresgid,setfsuid,setfsgid,capset," +
	"mount,umount2,unshare,setns,memfd_create," +
	"link,linkat,symlink,symlinkat,sendfile,splice,copy_file_range," +
	"bind,listen,fchmod,?fchmodat2,mkdir,mkdirat,truncate,ftruncate,io_uring_setup"

// Snap is strace's -s. It is large so that a request's X-Call-Id is
// seen wherever it stands in the head: the gateway's header comes after
// the caller's own (Go writes headers sorted, so a long Accept, Cookie or
// JWT, or a long URL, pushes it out of 256 bytes — issue 14 measured 23 of
// 36 invocations without a graph). 16 KiB is Node's whole header limit;
// Go reads 4 KiB at a time and the scrubber follows the head into the
// next read. Secrets do not leave with the bigger window: every line goes
// through strace.Scrubber before it joins a chunk, which keeps only the
// request line and X-Call-Id of inbound requests and DNS messages.
//
// Measured here (2000 POSTs with a 2 KB Accept header before X-Call-Id and
// 16 KB bodies to a Go server under strace -f, 3 runs each, 2 shared cores):
// median µs/request -s 256: 1260, 4096: 879, 16384: 618 (the noise is larger
// than any cost of -s: a ptrace stop dominates, not the copy); strace
// output 4.3 MB, 42.7 MB, 71.8 MB; after scrubbing 1.7 MB for all three;
// call ids found 0, 2000, 2000 of 2000; the scrubber runs at ~740 MB/s.
const Snap = 16384

// Args is strace's command line for the given PIDs (none: for
// printing). -q keeps attach/detach notices off stderr (exits stay in the
// trace). Output goes to stdout (-o /dev/stdout) so that strace's own
// messages on stderr never mix with the trace.
func Args(pids ...int) []string {
	a := []string{"-q", "-f", "-ttt", "-yy", "-s", strconv.Itoa(Snap), "-e", "trace=" + SyscallSet, "-o", "/dev/stdout"}
	for _, p := range pids {
		a = append(a, "-p", strconv.Itoa(p))
	}
	return a
}

// A strace chunk is bounded in lines as well as bytes so that the event
// batch faasmon-parse makes of it fits the queue (chunk.MaxBytes, OpenFaaS
// CE's 256,000-byte limit) on its way to faasmon-graph. Scrubbed lines are
// short (a read is ~100 bytes) and each becomes an event of up to ~250
// bytes of JSON, so a full 256 KB chunk of them gave a 410 KB batch
// (measured on a Go server's trace) that the queue would refuse; a long
// line (an execve's argv) gives an event about its own size. 900 lines and
// 160,000 bytes keep the batch near 230 KB at worst
// (TestStraceChunksFitTheQueue).
const (
	ChunkLines = 900
	ChunkBytes = 160000
)

// Chunking applies the strace bounds to c where c sets none tighter
// (backend.Chunker).
func Chunking(c chunker.Config) chunker.Config {
	if c.MaxUnits <= 0 || c.MaxUnits > ChunkLines {
		c.MaxUnits = ChunkLines
	}
	if c.MaxBytes <= 0 || c.MaxBytes > ChunkBytes {
		c.MaxBytes = ChunkBytes
	}
	return c
}

// PinMode says how strace is placed relative to its tracee.
type PinMode string

const (
	PinOff PinMode = "off"
	// PinSameCPU puts the tracee (all its threads) and strace on one CPU of
	// the tracee's allowed set: every ptrace stop then stays on that CPU.
	// The tracee gets its CPUs back when the stream ends (without strace
	// the pin only costs it parallelism) and is pinned again by the next.
	PinSameCPU PinMode = "same-cpu"
)

// Config configures the strace backend.
type Config struct {
	Pin      PinMode
	Strace   string // binary, default "strace"
	Nsenter  string // default "nsenter"
	ProcRoot string // default /proc
	// StopGrace is how long strace gets after SIGTERM (it detaches cleanly
	// on SIGTERM; a SIGKILLed tracer can leave a tracee stopped).
	StopGrace time.Duration
	Log       *slog.Logger
	// Rescan is how often a stream looks for processes in its container
	// that strace does not follow (kubectl exec; see rescan.go); default
	// DefaultRescan, negative: never (only at attach).
	Rescan time.Duration
	// Metrics, when set, counts what rescans find (metrics.Rescanned).
	Metrics *metrics.Metrics
}

func (c Config) withDefaults() Config {
	if c.Strace == "" {
		c.Strace = "strace"
	}
	if c.Nsenter == "" {
		c.Nsenter = "nsenter"
	}
	if c.ProcRoot == "" {
		c.ProcRoot = "/proc"
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 3 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Pin == "" {
		c.Pin = PinOff
	}
	if c.Rescan == 0 {
		c.Rescan = DefaultRescan
	}
	return c
}

// Backend is the strace sensor.
type Backend struct {
	mu  sync.Mutex
	cfg Config
}

// New returns a backend configured by cfg.
func New(cfg Config) *Backend { return &Backend{cfg: cfg.withDefaults()} }

// Default is the backend registered under chunk.KindStrace; the tracer
// configures it (Configure) before the first Attach.
var Default = New(Config{})

func init() { backend.Register(Default) }

// Configure replaces the configuration of streams attached from now on.
func (b *Backend) Configure(cfg Config) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg = cfg.withDefaults()
}

func (b *Backend) config() Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg
}

func (b *Backend) Kind() chunk.Kind { return chunk.KindStrace }

// ContentType: strace's text output, scrubbed.
func (b *Backend) ContentType() string { return "text/plain; charset=utf-8" }

// DefaultOn: strace is the design's sensor, run when no kind is chosen.
func (b *Backend) DefaultOn() bool { return true }

// Chunking bounds strace chunks in lines (see ChunkLines).
func (b *Backend) Chunking(c chunker.Config) chunker.Config { return Chunking(c) }

// Attach starts strace on t's processes: those in its cgroup now
// (discovery.Members), not the list discovery made when the container
// appeared, so that a restarted stream also follows what entered the
// container since (kubectl exec, or a child forked while strace was down).
// While the stream runs, a watcher attaches what enters later (rescan.go).
func (b *Backend) Attach(ctx context.Context, t discovery.Target, room int) (backend.Stream, error) {
	cfg := b.config()
	pids, err := discovery.Members(cfg.ProcRoot, t)
	if err != nil {
		cfg.Log.Debug("no rescan of the container's processes; attaching to those discovered", "container", t.Container, "err", err)
		pids = t.PIDs
		if len(pids) == 0 {
			pids = []int{t.PID}
		}
	}
	var pin *pinning
	if cfg.Pin == PinSameCPU {
		p, err := pinTracee(cfg.ProcRoot, t.PID)
		if err != nil {
			cfg.Log.Warn("strace will run unpinned", "pid", t.PID, "err", err)
		} else {
			pin = p
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &stream{cfg: cfg, t: t, ctx: sctx, cancel: cancel, room: room, pin: pin, procRoot: cfg.ProcRoot,
		lines: make(chan line, 256), done: make(chan struct{}), tracers: map[int]bool{}, foreignTracers: map[int]bool{}}
	proc, err := s.start(pids)
	if err != nil {
		cancel()
		if pin != nil {
			pin.restore(cfg.ProcRoot)
		}
		return nil, err
	}
	s.proc = proc
	if pin != nil {
		if err := pin.pinTracer(proc.Pid()); err != nil {
			cfg.Log.Warn("pin strace", "err", err)
		}
	}
	s.scrub = parser.NewScrubber()
	s.threads = Threads(cfg.ProcRoot, pids)
	for _, port := range ListenPorts(cfg.ProcRoot, t.PID) {
		s.scrub.AddListenPort(port)
	}
	go s.read(proc, true)
	if cfg.Rescan > 0 && (t.Cgroup != "" || t.Pod != "") {
		// Without a cgroup or a container id (a local instance in the
		// provider's cgroup) the container is the process tree below PID,
		// which strace -f follows by itself: nothing to watch for.
		go s.watch(pids)
	}
	return s, nil
}

// start runs one strace on pids (in t's network namespace, see Attach).
func (s *stream) start(pids []int) (*backend.Proc, error) {
	name, args := s.cfg.Strace, Args(pids...)
	if s.t.NetNS != "" {
		// strace's -yy asks the kernel (sock_diag netlink) for a
		// socket's endpoints in strace's own network namespace; from
		// the host it sees only "TCP:[inode]" for the pod's sockets.
		// Run it in the pod's namespace so connections name their peers.
		// nsenter execs strace (no fork for --net): its pid is strace's,
		// the TracerPid its tracees show.
		name, args = s.cfg.Nsenter, append([]string{"--net=" + s.t.NetNS, "--", s.cfg.Strace}, args...)
	}
	proc, err := backend.StartProc(s.ctx, string(chunk.KindStrace), name, args, s.cfg.StopGrace)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.tracers[proc.Pid()] = true
	s.mu.Unlock()
	return proc, nil
}

// stream is the scrubbed lines of the strace processes of one attachment:
// the one started at attach (primary: the stream ends with it) and those
// the watcher started for processes that entered the container later.
type stream struct {
	cfg      Config
	t        discovery.Target
	ctx      context.Context // ends every strace of the stream
	cancel   context.CancelFunc
	room     int
	proc     *backend.Proc
	pin      *pinning
	procRoot string
	scrub    *parser.Scrubber
	lines    chan line     // every strace's lines; the primary's end last
	done     chan struct{} // closed once Next saw the primary's end
	err      error
	once     sync.Once

	mu      sync.Mutex
	tracers map[int]bool // pids of the stream's strace processes
	extra   int          // strace processes started by the watcher, running
	failed  error        // why the watcher ended the stream
	// threads are the threads that ran when strace attached, tid → pid
	// (chunk.Header.Threads); annotations counts their changes.
	threads     map[int]int
	annotations uint64

	foreignTracers map[int]bool // other tracers of the container's processes, warned of (watcher only)
	// untraced counts the processes given up (failed, foreign): the
	// chunks carry it (chunk.Header.Untraced), and faasmon-graph raises
	// a blind spot when it grows.
	untraced uint64
}

// line is one strace output line, or (err set) the end of the primary.
type line struct {
	b     []byte
	trunc bool
	err   error
}

// read forwards one strace's lines. The primary's end ends the stream;
// a secondary's end (its tracees all exited, or it could attach none) is
// only logged, and the watcher sees to its tracees, unless a signal from
// outside killed it: then the stream restarts at once.
func (s *stream) read(p *backend.Proc, primary bool) {
	lr := chunker.NewLineReader(p.Stdout(), s.room)
	discard := false
	for {
		b, trunc, err := lr.Next()
		if err != nil {
			end := p.End(err)
			if primary {
				s.lines <- line{err: end} // Next is driven to this end (backend.Run)
				return
			}
			killed := p.Signaled() && s.ctx.Err() == nil
			s.mu.Lock()
			s.extra--
			delete(s.tracers, p.Pid())
			if killed && s.failed == nil {
				s.failed = fmt.Errorf("a strace for processes that entered the container was killed: %w", end)
			}
			s.mu.Unlock()
			if killed {
				// Its tracees run on untraced, some perhaps before the
				// watcher saw them attached (still pending, they would be
				// taken for processes strace could not attach to): restart
				// the stream now, with one strace for all of them.
				s.cfg.Log.Warn("strace stream restarts: a strace for processes that entered the container was killed", "container", s.t.Container, "err", end)
				s.proc.Stop()
				return
			}
			s.cfg.Log.Debug("strace for processes that entered the container ended", "container", s.t.Container, "err", end)
			return
		}
		if primary || discard {
			if !discard {
				s.lines <- line{b: b, trunc: trunc}
			}
			continue
		}
		select {
		case s.lines <- line{b: b, trunc: trunc}:
		case <-s.done:
			discard = true // read on to the end, so that strace never blocks on its pipe
		}
	}
}

func (s *stream) Prefix() []byte { return nil }

// Annotate names the threads that already ran when strace attached (to
// the container's processes at the start, or later to a newcomer).
func (s *stream) Annotate(h *chunk.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h.Threads = s.threads
	h.Untraced = s.untraced
}

// Annotations changes when a newcomer's threads were added (Reannotator).
func (s *stream) Annotations() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.annotations
}

// addThreads adds the threads of processes attached later. The map is
// replaced, never changed: headers already cut share the old one.
func (s *stream) addThreads(pids []int) {
	more := Threads(s.procRoot, pids)
	if len(more) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[int]int, len(s.threads)+len(more))
	for tid, pid := range s.threads {
		m[tid] = pid
	}
	for tid, pid := range more {
		if len(m) >= chunk.MaxThreads {
			break
		}
		m[tid] = pid
	}
	s.threads = m
	s.annotations++
}

// Next is the next line, scrubbed: this is the last code on the node that
// sees it, so secrets are dropped here rather than in faasmon-parse (see
// pkg/parse/strace/scrub.go for what is kept and why).
func (s *stream) Next() (chunker.Unit, bool, error) {
	if s.err != nil {
		return chunker.Unit{}, false, s.err
	}
	for {
		l := <-s.lines
		if l.err != nil {
			s.mu.Lock()
			s.err = l.err
			if s.failed != nil {
				s.err = s.failed
			}
			s.mu.Unlock()
			close(s.done)
			s.cancel() // the watcher's strace processes end with the stream
			return chunker.Unit{}, false, s.err
		}
		if b := s.scrub.Line(nil, l.b); len(b) > 0 { // else dropped whole (an mmap that maps no file executable)
			return chunker.StraceUnit(b, time.Now()), l.trunc, nil
		}
	}
}

func next(lr *chunker.LineReader, scrub *parser.Scrubber) (chunker.Unit, bool, error) {
	for {
		line, trunc, err := lr.Next()
		if err != nil {
			return chunker.Unit{}, false, err
		}
		if scrub != nil {
			if line = scrub.Line(nil, line); len(line) == 0 {
				continue // dropped whole (an mmap that maps no file executable)
			}
		}
		return chunker.StraceUnit(line, time.Now()), trunc, nil
	}
}

// read turns strace output into scrubbed units until it ends (tests: the
// tracer's path without a process).
func read(r io.Reader, room int, scrub *parser.Scrubber, emit func(chunker.Unit)) error {
	lr := chunker.NewLineReader(r, room)
	for {
		u, _, err := next(lr, scrub)
		if err != nil {
			return err
		}
		emit(u)
	}
}

// Close detaches strace (SIGTERM) and gives the tracee its CPUs back.
func (s *stream) Close() error {
	s.cancel()
	s.once.Do(func() {
		if s.pin != nil {
			s.pin.restore(s.procRoot)
		}
	})
	return nil
}

// maxErrors is how many parse error messages a batch keeps for people.
const maxErrors = 8

// Parse reads a strace chunk (pkg/parse/strace) into events.
func (b *Backend) Parse(h chunk.Header, body []byte) (backend.Parsed, error) {
	// strace prints text; a body that is not text is not strace output,
	// whatever its header says, and would only yield a flood of errors.
	probe := body[:min(len(body), 4096)]
	if bytes.IndexByte(probe, 0) >= 0 || !utf8.Valid(probe[:validPrefix(probe)]) {
		return backend.Parsed{}, fmt.Errorf("%w: strace chunk is binary, not strace text", backend.ErrInput)
	}
	p := parser.NewParser()
	p.Date = h.Start.UTC()
	evs, errs, unparsed := p.ParseChunk(nil, body, maxErrors)
	// Calls left unfinished at the chunk's end still say what they were
	// going to do (the program execve'd, the path opened); the resumed half
	// in the next chunk gives the result.
	evs = append(evs, p.Flush()...)
	out := backend.Parsed{Events: evs, Unparsed: unparsed}
	for _, e := range errs {
		out.Errors = append(out.Errors, e.Error())
	}
	if len(evs) == 0 && unparsed > 0 {
		return out, fmt.Errorf("%w: no strace line could be read (%d unparsed; first: %v)", backend.ErrInput, unparsed, errs[0])
	}
	return out, nil
}

// validPrefix cuts a probe back to a rune boundary: the chunk may end
// inside a multi-byte character of a quoted string.
func validPrefix(p []byte) int {
	n := len(p)
	for i := 0; i < utf8.UTFMax && n > 0; i++ {
		if utf8.Valid(p[:n]) {
			return n
		}
		n--
	}
	return n
}

package sensor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/strace"
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

// StraceSnap is strace's -s. It is large so that a request's X-Call-Id is
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
const StraceSnap = 16384

// PcapSnap is tcpdump's -s: Ethernet/cooked + IP + TCP headers and the first
// bytes of the HTTP head, not bodies.
const PcapSnap = 256

// StraceArgs is strace's command line for the given PIDs (none: for
// printing). -q keeps attach/detach notices off stderr (exits stay in the
// trace). Output goes to stdout (-o /dev/stdout) so that strace's own
// messages on stderr never mix with the trace.
func StraceArgs(pids ...int) []string {
	a := []string{"-q", "-f", "-ttt", "-yy", "-s", strconv.Itoa(StraceSnap), "-e", "trace=" + SyscallSet, "-o", "/dev/stdout"}
	for _, p := range pids {
		a = append(a, "-p", strconv.Itoa(p))
	}
	return a
}

// TcpdumpArgs is nsenter's command line to capture in netns: -U and
// --immediate-mode deliver each packet as it comes, so that chunk times and
// invocation cuts follow the traffic rather than libpcap's 1s buffer.
func TcpdumpArgs(tcpdump, netns string) []string {
	return []string{"--net=" + netns, tcpdump, "-i", "any", "-U", "--immediate-mode", "-n",
		"-s", strconv.Itoa(PcapSnap), "-w", "-"}
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
	StraceChunkLines = 900
	StraceChunkBytes = 160000
)

// StraceChunking applies the strace bounds to c where c sets none tighter.
func StraceChunking(c chunker.Config) chunker.Config {
	if c.MaxUnits <= 0 || c.MaxUnits > StraceChunkLines {
		c.MaxUnits = StraceChunkLines
	}
	if c.MaxBytes <= 0 || c.MaxBytes > StraceChunkBytes {
		c.MaxBytes = StraceChunkBytes
	}
	return c
}

// PinMode says how strace is placed relative to its tracee.
type PinMode string

const (
	PinOff PinMode = "off"
	// PinSameCPU puts the tracee (all its threads) and strace on one CPU of
	// the tracee's allowed set: every ptrace stop then stays on that CPU.
	PinSameCPU PinMode = "same-cpu"
)

// Config configures sensors.
type Config struct {
	Node       string
	Chunk      chunker.Config
	Pin        PinMode
	Strace     string // binary, default "strace"
	Tcpdump    string // default "tcpdump"
	Nsenter    string // default "nsenter"
	ProcRoot   string // default /proc
	RestartMin time.Duration
	RestartMax time.Duration
	// StopGrace is how long a sensor gets after SIGTERM (strace detaches
	// cleanly on SIGTERM; a SIGKILLed tracer can leave a tracee stopped).
	StopGrace time.Duration
	Log       *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Strace == "" {
		c.Strace = "strace"
	}
	if c.Tcpdump == "" {
		c.Tcpdump = "tcpdump"
	}
	if c.Nsenter == "" {
		c.Nsenter = "nsenter"
	}
	if c.ProcRoot == "" {
		c.ProcRoot = "/proc"
	}
	if c.RestartMin <= 0 {
		c.RestartMin = 200 * time.Millisecond
	}
	if c.RestartMax < c.RestartMin {
		c.RestartMax = 10 * time.Second
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
	return c
}

// Sink receives finished chunks; it must not block for long.
type Sink func(chunker.Chunk)

// Run keeps a sensor of kind k attached to t until ctx is done or t's
// process ends, restarting it with exponential backoff when it dies.
func Run(ctx context.Context, k chunk.Kind, t discovery.Target, cfg Config, m *metrics.Metrics, sink Sink) {
	cfg = cfg.withDefaults()
	log := cfg.Log.With("kind", k, "function", t.Function, "container", t.Container, "pid", t.PID)
	var pin *pinning
	if k == chunk.KindStrace && cfg.Pin == PinSameCPU {
		p, err := pinTracee(cfg.ProcRoot, t.PID)
		if err != nil {
			log.Warn("strace will run unpinned", "err", err)
		} else {
			pin = p
			// Give the tracee its CPUs back when we detach: without strace
			// the pin only costs it parallelism.
			defer pin.restore(cfg.ProcRoot)
		}
	}
	delay := cfg.RestartMin
	for first := true; ; first = false {
		if !first {
			m.Restarts.WithLabelValues(string(k)).Inc()
		}
		started := time.Now()
		err := runOnce(ctx, k, t, cfg, m, sink, pin)
		if ctx.Err() != nil || !discovery.Alive(cfg.ProcRoot, t) {
			return
		}
		if time.Since(started) > 30*time.Second {
			delay = cfg.RestartMin // it ran fine for a while: not a crash loop
		}
		log.Warn("sensor died, restarting", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, cfg.RestartMax)
		if !discovery.Alive(cfg.ProcRoot, t) {
			return
		}
	}
}

// StreamID names one sensor run: unique per (container, kind, start).
func StreamID(container string, k chunk.Kind, start time.Time) string {
	if len(container) > 64 {
		container = container[:64]
	}
	return container + "-" + string(k) + "-" + strconv.FormatInt(start.UnixNano(), 10)
}

type msg struct {
	u      chunker.Unit
	prefix []byte
	trunc  bool
}

// runOnce runs one sensor process to its end; the error says why it ended.
func runOnce(ctx context.Context, k chunk.Kind, t discovery.Target, cfg Config, m *metrics.Metrics, sink Sink, pin *pinning) error {
	var cmd *exec.Cmd
	pids := t.PIDs
	if len(pids) == 0 {
		pids = []int{t.PID}
	}
	switch k {
	case chunk.KindStrace:
		cmd = exec.CommandContext(ctx, cfg.Strace, StraceArgs(pids...)...)
		if t.NetNS != "" {
			// strace's -yy asks the kernel (sock_diag netlink) for a
			// socket's endpoints in strace's own network namespace; from
			// the host it sees only "TCP:[inode]" for the pod's sockets.
			// Run it in the pod's namespace so connections name their peers.
			args := append([]string{"--net=" + t.NetNS, "--", cfg.Strace}, StraceArgs(pids...)...)
			cmd = exec.CommandContext(ctx, cfg.Nsenter, args...)
		}
	case chunk.KindPcap:
		if t.NetNS == "" {
			return fmt.Errorf("no network namespace for %s", t.Container)
		}
		cmd = exec.CommandContext(ctx, cfg.Nsenter, TcpdumpArgs(cfg.Tcpdump, t.NetNS)...)
	default:
		return fmt.Errorf("unknown sensor kind %q", k)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = cfg.StopGrace
	stderr := &tailBuffer{max: 2048}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("%s stdout: %w", k, err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", k, err)
	}
	m.Sensors.WithLabelValues(string(k)).Inc()
	defer m.Sensors.WithLabelValues(string(k)).Dec()
	if pin != nil {
		if err := pin.pinTracer(cmd.Process.Pid); err != nil {
			cfg.Log.Warn("pin strace", "err", err)
		}
	}
	meta := chunk.Header{
		Node: cfg.Node, Function: t.Function, Namespace: t.Namespace, Pod: t.Pod,
		Container: t.Container, Image: t.Image, PID: t.PID, Kind: k, Stream: StreamID(t.Container, k, start),
	}
	if k == chunk.KindStrace {
		meta.Threads = Threads(cfg.ProcRoot, pids)
	}
	ccfg := cfg.Chunk
	if k == chunk.KindStrace {
		ccfg = StraceChunking(ccfg)
	}
	cutter := chunker.NewCutter(ccfg, meta, sink)
	msgs := make(chan msg, 256)
	readErr := make(chan error, 1)
	var scrub *strace.Scrubber
	if k == chunk.KindStrace {
		scrub = strace.NewScrubber()
		for _, port := range ListenPorts(cfg.ProcRoot, t.PID) {
			scrub.AddListenPort(port)
		}
	}
	go func() {
		defer close(msgs)
		readErr <- read(k, out, cutter.Room(), scrub, msgs)
	}()
	pump(msgs, cutter, m, k)
	rerr := <-readErr
	werr := cmd.Wait()
	switch {
	case werr != nil:
		return fmt.Errorf("%s exited: %w (stderr: %q)", k, werr, stderr.String())
	case rerr != nil && !errors.Is(rerr, io.EOF):
		return fmt.Errorf("%s output: %w", k, rerr)
	default:
		return fmt.Errorf("%s exited (stderr: %q)", k, stderr.String())
	}
}

// read turns the sensor's output into units until it ends. strace lines
// go through scrub first: this is the last code on the node that sees
// them, so secrets are dropped here rather than in faasmon-parse (see
// pkg/strace/scrub.go for what is kept and why).
func read(k chunk.Kind, r io.Reader, room int, scrub *strace.Scrubber, msgs chan<- msg) error {
	if k == chunk.KindStrace {
		lr := chunker.NewLineReader(r, room)
		for {
			line, trunc, err := lr.Next()
			if err != nil {
				return err
			}
			if scrub != nil {
				if line = scrub.Line(nil, line); len(line) == 0 {
					continue // dropped whole (an mmap that maps no file executable)
				}
			}
			msgs <- msg{u: chunker.StraceUnit(line, time.Now()), trunc: trunc}
		}
	}
	// Reserve the global header's room before sizing records.
	pr, err := chunker.NewPcapReader(r, room-24)
	if err != nil {
		return err
	}
	msgs <- msg{prefix: pr.GlobalHeader()}
	for {
		u, trunc, err := pr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			// A corrupt stream cannot be resynchronised: end this run, the
			// restart begins a clean stream.
			return err
		}
		msgs <- msg{u: u, trunc: trunc}
	}
}

// pumpTick is how often quiet periods and the time cap are checked.
const pumpTick = 50 * time.Millisecond

// pump drives the cutter from msgs until it is closed, then flushes.
func pump(msgs <-chan msg, c *chunker.Cutter, m *metrics.Metrics, k chunk.Kind) {
	t := time.NewTicker(pumpTick)
	defer t.Stop()
	for {
		select {
		case ms, ok := <-msgs:
			if !ok {
				c.Flush()
				return
			}
			if ms.prefix != nil {
				if err := c.SetPrefix(ms.prefix); err != nil {
					continue // cannot happen with a 24-byte header; stream stays unprefixed
				}
				continue
			}
			if ms.trunc {
				m.Truncated.WithLabelValues(string(k)).Inc()
			}
			c.Add(ms.u, time.Now())
		case now := <-t.C:
			c.Tick(now)
		}
	}
}

// tailBuffer keeps the last max bytes written (a sensor's stderr, for logs).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

package ebpf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
)

// Kind is the chunk kind of this backend.
const Kind = chunk.KindEBPF

// ContentType of its chunks: one JSON event (pkg/event) per line. The
// records are turned into events on the node, where /proc can name the
// relative paths and the fd table lives; the parse stage only validates.
const ContentType = "application/x-ndjson"

// Default is the backend registered under Kind; the tracer configures it
// (Configure) before the first Attach.
var Default = New(Config{})

func init() { backend.Register(Default) }

// Config locates the host's /proc and cgroup v2 tree (inside the DaemonSet:
// /host/proc and /host/sys/fs/cgroup).
type Config struct {
	ProcRoot string // default /proc
	// CgroupRoot is the cgroup v2 mount; empty: found in
	// /proc/self/mountinfo (on a hybrid host it is /sys/fs/cgroup/unified).
	CgroupRoot string
	// Adopt lets Attach move a target that shares the tracer's cgroup (or
	// sits in the root cgroup) into a cgroup of its own, faasmon/<key>
	// under the cgroup root: the local stack runs functions as plain
	// processes, and the kernel filter can only single out a cgroup. Off,
	// such a target is refused: tracing the tracer's own cgroup would feed
	// its own work back to it.
	Adopt bool
	// FollowParent is a cgroup (path under CgroupRoot) whose descendants
	// are traced from their creation, before discovery names them: a
	// container's first processes, its cold start's first invocation, are
	// kept (Probe.Follow) and handed to its stream when it is attached.
	// On Kubernetes the kubelet's pods cgroup (kubepods.slice with the
	// systemd driver, kubepods with cgroupfs); locally the provider's
	// faasmon-fn. Empty: a container is traced from its attachment.
	FollowParent string
	// QueueBytes bounds the records a container may have waiting for its
	// stream's reader (default 8 MiB: 50 ms of the busiest loop measured
	// here, ~20k records); beyond it they are dropped and counted in
	// Stream.Dropped.
	QueueBytes int
}

// Backend is the eBPF sensor. The programs are loaded on the first Attach
// and shared by every container of the node.
type Backend struct {
	cfg   Config
	mu    sync.Mutex
	probe *Probe
	// followSince is when Start began following Config.FollowParent, in
	// process start-time ticks (bootTicks); 0: not following.
	followSince uint64
}

// New returns an unloaded backend.
func New(cfg Config) *Backend {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = 8 << 20
	}
	return &Backend{cfg: cfg}
}

// Configure replaces the configuration; it has no effect on streams
// already attached.
func (b *Backend) Configure(cfg Config) {
	n := New(cfg)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg = n.cfg
}

// ChunkBytes bounds an ebpf chunk: its lines are event JSON, and the event
// batch faasmon-parse makes of it adds the header and commas; a 256,000-byte
// chunk gave batches of 256,180 bytes, over the queue's limit (measured on
// the lab's benign run). 200,000 leaves a fifth for that.
const ChunkBytes = 200000

// Chunking bounds this backend's chunks (backend.Chunker).
func (b *Backend) Chunking(c chunker.Config) chunker.Config {
	if c.MaxBytes <= 0 || c.MaxBytes > ChunkBytes {
		c.MaxBytes = ChunkBytes
	}
	return c
}

func (b *Backend) Kind() chunk.Kind    { return Kind }
func (b *Backend) ContentType() string { return ContentType }

// Probe loads the programs if they are not yet.
func (b *Backend) Probe() (*Probe, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probe != nil {
		return b.probe, nil
	}
	p, err := Load()
	if err != nil {
		return nil, err
	}
	b.probe = p
	return p, nil
}

// Start loads the programs and, with FollowParent, begins following the
// containers created under it (backend.Starter: the tracer calls it before
// its first discovery, so that no container starts unseen).
func (b *Backend) Start() error {
	p, err := b.Probe()
	if err != nil {
		return err
	}
	b.mu.Lock()
	cfg := b.cfg
	b.mu.Unlock()
	if cfg.FollowParent == "" {
		return nil
	}
	root, err := b.cgroupRoot(cfg)
	if err != nil {
		return err
	}
	rel := strings.Trim(filepath.Clean("/"+cfg.FollowParent), "/")
	dir := filepath.Join(root, rel)
	if cfg.Adopt {
		// The local stack: the provider makes its instances' cgroups
		// under it, and may not have made the parent yet.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("follow %s: %w", dir, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("follow %s: %w", dir, err)
	}
	// The tracer may run under the parent itself (a pod): never record
	// its own calls, each of which it would answer with more.
	if self, err := CgroupID(cfg.ProcRoot, root, os.Getpid()); err == nil {
		if err := p.Mute(self); err != nil {
			return err
		}
	}
	if err := p.Follow(len(strings.Split(rel, "/")), st.Ino); err != nil {
		return err
	}
	b.mu.Lock()
	b.followSince = bootTicks()
	b.mu.Unlock()
	return nil
}

// bootTicks is the time since boot in the clock ticks of /proc/<pid>/stat's
// start time (USER_HZ, 100 on Linux's architectures), rounded up: a
// process that starts later has a greater start time.
func bootTicks() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano()/1e7) + 1
}

// Exclude mutes the container of a target never to trace (the detector's
// own functions) when it sits under FollowParent (backend.Excluder).
func (b *Backend) Exclude(t discovery.Target) error {
	b.mu.Lock()
	cfg, p := b.cfg, b.probe
	b.mu.Unlock()
	if p == nil || cfg.FollowParent == "" {
		return nil
	}
	root, err := b.cgroupRoot(cfg)
	if err != nil {
		return err
	}
	cg, err := CgroupID(cfg.ProcRoot, root, t.PID)
	if err != nil {
		return err
	}
	return p.Mute(cg)
}

func (b *Backend) cgroupRoot(cfg Config) (string, error) {
	if cfg.CgroupRoot != "" {
		return cfg.CgroupRoot, nil
	}
	return CgroupRoot(cfg.ProcRoot)
}

// Close unloads the programs.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probe == nil {
		return nil
	}
	err := b.probe.Close()
	b.probe = nil
	return err
}

// Attach traces t's cgroup (that of its top process) from now on: every
// process in it, present or future, exec'd into it included.
func (b *Backend) Attach(ctx context.Context, t discovery.Target, room int) (backend.Stream, error) {
	b.mu.Lock()
	cfg := b.cfg
	b.mu.Unlock()
	root := cfg.CgroupRoot
	if root == "" {
		r, err := CgroupRoot(cfg.ProcRoot)
		if err != nil {
			return nil, err
		}
		root = r
	}
	cg, err := CgroupID(cfg.ProcRoot, root, t.PID)
	if err != nil {
		return nil, err
	}
	self, err := CgroupID(cfg.ProcRoot, root, os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("the tracer's own cgroup: %w", err)
	}
	var rootSt unix.Stat_t
	if err := unix.Stat(root, &rootSt); err != nil {
		return nil, fmt.Errorf("cgroup root: %w", err)
	}
	if cg == self || cg == rootSt.Ino {
		if !cfg.Adopt {
			return nil, fmt.Errorf("pid %d shares the tracer's or the root cgroup: the kernel filter cannot single it out", t.PID)
		}
		if cg, err = adopt(root, t); err != nil {
			return nil, err
		}
	}
	s, err := b.AttachCgroup(ctx, cg, room)
	if err != nil {
		return nil, err
	}
	s.SetAnchor(t.PID)
	b.mu.Lock()
	since := b.followSince
	b.mu.Unlock()
	// Started after the sensor began following the pods' cgroup: seen
	// from its creation (its first records, held until now, begin the
	// stream). Decided by the clock, not by whether records were held
	// when attaching: the reader polls the ring buffer, so a container
	// attached quickly may have its first records still there.
	// Not if some of its first records were lost (expired while waiting
	// for discovery, or a full ring): the request that ends the start
	// may be among them.
	s.born = since > 0 && t.StartTicks > since && s.Dropped() == 0
	return s, nil
}

// AttachCgroup traces cgroup id cg.
func (b *Backend) AttachCgroup(ctx context.Context, cg uint64, room int) (*Stream, error) {
	p, err := b.Probe()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	cfg := b.cfg
	b.mu.Unlock()
	s := &Stream{max: cfg.QueueBytes, wake: make(chan struct{}, 1), room: room, probe: p, cg: cg, quit: make(chan struct{})}
	s.dec = NewDecoder()
	proc := cfg.ProcRoot
	s.dec.Resolve = func(pid, dirfd int, rel string) string { return resolve(proc, pid, dirfd, rel) }
	s.dec.Describe = func(pid, fd int) string { return describe(proc, pid, fd) }
	s.dec.Socket = func(pid, fd int) (sockInfo, bool) { return socketOf(proc, pid, fd) }
	canon := map[string]string{}
	s.dec.Canon = func(pid int, p string) string {
		// Cached by path: one container's processes share a mount
		// namespace, and libraries and configs are opened again and again.
		if c, ok := canon[p]; ok {
			return c
		}
		c := canonical(filepath.Join(proc, strconv.Itoa(pid), "root"), p)
		if a := int(s.anchor.Load()); c == "" && a > 0 && a != pid {
			// A short-lived process (a shell's cat) is often gone before
			// its records are decoded: the container's top process sees
			// the same mount namespace.
			c = canonical(filepath.Join(proc, strconv.Itoa(a), "root"), p)
		}
		if c == "" {
			return "" // not cached: the next process may be readable
		}
		if len(canon) >= 4096 {
			clear(canon)
		}
		canon[p] = c
		return c
	}
	stop, expired, err := p.Subscribe(cg, s.push)
	if err != nil {
		return nil, err
	}
	s.stop = stop
	s.dropped.Add(expired)
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.quit:
		}
	}()
	return s, nil
}

// Stream is one container's events as JSON lines.
type Stream struct {
	// Records wait in buf, each behind a 2-byte length, until the
	// stream's reader swaps buf out: one lock and at most one wake-up per
	// batch rather than a channel send and an allocation per record.
	mu      sync.Mutex
	buf     []byte
	max     int
	wake    chan struct{}
	batch   []byte // what is left to decode of full
	full    []byte // the buffer taken from buf, reused as the next buf
	room    int
	probe   *Probe
	cg      uint64
	dec     *Decoder
	stop    func() bool // Probe.Subscribe's: false when the drain gave up
	once    sync.Once
	quit    chan struct{}
	dropped atomic.Uint64
	anchor  atomic.Int64 // the container's top process (SetAnchor)
	// born: the container started after the sensor began following its
	// parent cgroup (Config.FollowParent): the stream begins with its
	// creation (chunk.Header.Born).
	born    bool
	pending []event.Event
	evbuf   []event.Event
	slab    []byte // where Next's lines are cut from
	// Undecodable counts records the decoder refused (a bug if not 0).
	Undecodable uint64
}

// push runs on the probe's reader goroutine: copy and queue, never block.
func (s *Stream) push(raw []byte) {
	s.mu.Lock()
	if len(s.buf)+2+len(raw) > s.max || len(raw) > 0xffff {
		s.mu.Unlock()
		s.dropped.Add(1)
		return
	}
	s.buf = append(s.buf, byte(len(raw)), byte(len(raw)>>8))
	s.buf = append(s.buf, raw...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next returns the next queued record, waiting for one.
func (s *Stream) next() ([]byte, error) {
	for len(s.batch) == 0 {
		s.mu.Lock()
		s.full, s.buf = s.buf, s.full[:0]
		s.mu.Unlock()
		s.batch = s.full
		if len(s.batch) > 0 {
			break
		}
		select {
		case <-s.wake:
		case <-s.quit:
			return nil, io.EOF
		}
	}
	n := int(s.batch[0]) | int(s.batch[1])<<8
	raw := s.batch[2 : 2+n]
	s.batch = s.batch[2+n:]
	return raw, nil
}

// SetAnchor names a long-lived process of the container (its top
// process): paths of processes already gone are resolved in its mount
// namespace.
func (s *Stream) SetAnchor(pid int) { s.anchor.Store(int64(pid)) }

// Annotate marks the chunks of a stream that saw its container from its
// creation (backend.Annotator).
func (s *Stream) Annotate(h *chunk.Header) { h.Born = s.born }

// Prefix: event lines need none.
func (s *Stream) Prefix() []byte { return nil }

// Next returns the next event as one JSON line.
func (s *Stream) Next() (chunker.Unit, bool, error) {
	ev, err := s.NextEvent()
	if err != nil {
		return chunker.Unit{}, false, err
	}
	// Lines are cut from a slab rather than allocated one by one (a tenth
	// of the decoder's time went to allocating and collecting them); a
	// slab lives while the chunker has not yet copied its last line.
	if cap(s.slab)-len(s.slab) < slabMin {
		s.slab = make([]byte, 0, slabBytes)
	}
	start := len(s.slab)
	b, trunc := appendLine(s.slab, ev, s.room)
	s.slab = b // a line longer than the free room moved the slab: the new one goes on
	return chunker.Unit{Data: b[start:len(b):len(b)], At: ev.Time}, trunc, nil
}

// A slab of lines: slabBytes each, a new one once less than slabMin is
// free (a line is rarely over 1 KiB: bounded strings, a request's head cut
// to its line and call id).
const (
	slabBytes = 64 << 10
	slabMin   = 4 << 10
)

// NextEvent returns the next decoded event (for tests and benchmarks that
// need no chunks).
func (s *Stream) NextEvent() (event.Event, error) {
	for len(s.pending) == 0 {
		raw, err := s.next()
		if err != nil {
			return event.Event{}, err
		}
		evs, err := s.dec.DecodeAppend(s.evbuf[:0], raw)
		if err != nil {
			s.Undecodable++
			continue
		}
		s.evbuf, s.pending = evs, evs
	}
	ev := s.pending[0]
	s.pending = s.pending[1:]
	return ev, nil
}

// appendLine appends ev to dst as one line, shortening its strings if the line
// would not fit room (paths are bounded to 255 bytes in the kernel, so this
// only guards a tiny room).
func appendLine(dst []byte, ev event.Event, room int) ([]byte, bool) {
	// DNS queries too: event.AppendLine writes their question as
	// encoding/json does (TestAppendLineMatches); their strings are
	// bounded (a name of at most 253 printable bytes, two addresses, a
	// type), so the line is too.
	b := event.AppendLine(dst, &ev)
	if room <= 0 || len(b)-len(dst) <= room {
		return b, false
	}
	ev.Path, ev.Path2, ev.Flags = "", "", ""
	return event.AppendLine(b[:len(dst)], &ev), true
}

// Dropped counts records lost for this container: in the kernel (ring
// buffer full) and in user space (its queue full).
func (s *Stream) Dropped() uint64 {
	n, _ := s.probe.Lost(s.cg)
	return n + s.dropped.Load()
}

// Close stops tracing the cgroup.
func (s *Stream) Close() error {
	s.once.Do(func() {
		// Unsubscribe first: it waits for the container's records still
		// in the ring, and Next hands them out before its end. A drain
		// that gave up may have left some: at least one lost, said on the
		// last chunk (backend.Run reads Dropped as the stream ends).
		if !s.stop() {
			s.dropped.Add(1)
		}
		close(s.quit)
	})
	return nil
}

// Parse reads a chunk of JSON event lines. Each line must decode strictly
// into an event of a kind and syscall this backend produces.
func (b *Backend) Parse(h chunk.Header, body []byte) (backend.Parsed, error) {
	return Parse(body)
}

// maxLine bounds one line (a chunk is at most chunk.MaxBytes anyway).
const maxLine = 64 << 10

var covered = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range Covered() {
		m[n] = true
	}
	return m
}()

// Parse is Backend.Parse without a backend (lineread.go).
func Parse(body []byte) (backend.Parsed, error) {
	return parseLines(body)
}

func valid(ev event.Event) error {
	switch ev.Kind {
	case event.KindSyscall:
		if !covered[ev.Syscall] {
			return fmt.Errorf("syscall %q is not one this sensor records", ev.Syscall)
		}
	case event.KindExit:
	case event.KindDNS:
		// A query a process sent (dns.go): the question, nothing else.
		q := ev.DNS
		if q == nil || q.Name == "" || len(q.Name) > maxDNSName || len(q.Type) > 16 || len(q.Src) > 64 || len(q.Dst) > 64 {
			return fmt.Errorf("dns event without a bounded question")
		}
		if ev.PID <= 0 {
			return fmt.Errorf("pid %d", ev.PID)
		}
		if ev.Syscall != "" || ev.Flow != nil || ev.HTTP != nil {
			return fmt.Errorf("a dns event carries other fields")
		}
		return nil
	default:
		return fmt.Errorf("kind %q is not one this sensor produces", ev.Kind)
	}
	if ev.PID <= 0 {
		return fmt.Errorf("pid %d", ev.PID)
	}
	if ev.Flow != nil || ev.HTTP != nil || ev.DNS != nil {
		return fmt.Errorf("a syscall event carries pcap fields")
	}
	return nil
}

// adopt moves t's processes into the cgroup faasmon/<key> and returns its
// id. Processes they start from now on are born in it.
func adopt(root string, t discovery.Target) (uint64, error) {
	key := strings.Map(func(r rune) rune {
		if r == '/' || r == 0 || r == '.' {
			return '_'
		}
		return r
	}, t.Key)
	if key == "" {
		key = strconv.Itoa(t.PID)
	}
	dir := filepath.Join(root, "faasmon", key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("adopt pid %d: %w", t.PID, err)
	}
	pids := t.PIDs
	if len(pids) == 0 {
		pids = []int{t.PID}
	}
	for _, pid := range pids {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil && pid == t.PID {
			return 0, fmt.Errorf("adopt pid %d into %s: %w", pid, dir, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, fmt.Errorf("adopt: %w", err)
	}
	return st.Ino, nil
}

// CgroupRoot finds the cgroup v2 mount point (discovery.CgroupRoot); the
// sensor cannot run without one.
func CgroupRoot(procRoot string) (string, error) {
	root, err := discovery.CgroupRoot(procRoot)
	if err != nil {
		return "", fmt.Errorf("%w: %v (bpf_get_current_cgroup_id needs one)", ErrUnsupported, err)
	}
	return root, nil
}

// CgroupID is the cgroup v2 id of pid: the inode of its directory under
// cgroupRoot (the host's cgroup v2 tree), found by discovery.CgroupDir
// (also across the tracer's own cgroup namespace); for a process in the
// root cgroup, the root's (which the kernel filter cannot single out).
func CgroupID(procRoot, cgroupRoot string, pid int) (uint64, error) {
	dir, err := discovery.CgroupDir(procRoot, cgroupRoot, pid)
	if errors.Is(err, discovery.ErrRootCgroup) {
		dir, err = cgroupRoot, nil
	}
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, fmt.Errorf("cgroup of pid %d: stat %s: %w", pid, dir, err)
	}
	return st.Ino, nil
}

// maxLinks bounds the symlinks followed in one path (the kernel's own
// limit is 40).
const maxLinks = 40

// canonical resolves the symlinks of absolute path p inside root (a
// process's /proc/<pid>/root: its mount namespace and chroot), as the
// kernel does when it opens p. "" when a component cannot be read (no
// right to the process's root without CAP_SYS_PTRACE, or it is gone).
func canonical(root, p string) string {
	links := 0
	var out []string
	rest := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		cur := "/" + strings.Join(append(out, c), "/")
		fi, err := os.Lstat(root + cur)
		if err != nil {
			if len(rest) == 0 && os.IsNotExist(err) {
				out = append(out, c) // created by this open (O_CREAT)
				continue
			}
			return ""
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			out = append(out, c)
			continue
		}
		if links++; links > maxLinks {
			return ""
		}
		target, err := os.Readlink(root + cur)
		if err != nil {
			return ""
		}
		if strings.HasPrefix(target, "/") {
			out = out[:0]
		}
		rest = append(strings.Split(strings.TrimPrefix(target, "/"), "/"), rest...)
	}
	return "/" + strings.Join(out, "/")
}

// describe reads what fd of pid is (needs the right to ptrace-read pid:
// without CAP_SYS_PTRACE, for another user's process, it stays unnamed).
func describe(procRoot string, pid, fd int) string {
	l, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(pid), "fd", strconv.Itoa(fd)))
	if err != nil {
		return ""
	}
	return l
}

// resolve names a relative path the way strace's -yy would have: joined to
// the process's cwd or to the directory fd's path, read from /proc.
func resolve(procRoot string, pid, dirfd int, rel string) string {
	var link string
	if dirfd == unix.AT_FDCWD {
		link = filepath.Join(procRoot, strconv.Itoa(pid), "cwd")
	} else {
		link = filepath.Join(procRoot, strconv.Itoa(pid), "fd", strconv.Itoa(dirfd))
	}
	dir, err := os.Readlink(link)
	if err != nil || !strings.HasPrefix(dir, "/") {
		return ""
	}
	return path.Join(dir, rel)
}

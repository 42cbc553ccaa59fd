package ebpf

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	cebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/faasmon/faasmon/pkg/tracer/backend"
)

// PollInterval bounds how long a record waits in the ring buffer: records
// are submitted without a wake-up (see wakeupBytes), so the reader wakes
// itself this often.
const PollInterval = 50 * time.Millisecond

// Probe is the node's one loaded copy of the programs: attaching a
// container adds its cgroup id to the in-kernel filter, and the reader
// hands each record to the subscriber of its cgroup.
type Probe struct {
	coll  *cebpf.Collection
	links []link.Link
	rd    *ringbuf.Reader

	// subs is replaced, never changed, under mu: the reader looks a
	// record's cgroup up without a lock (a million records a second is
	// possible from one syscall-heavy function).
	mu   sync.Mutex
	subs atomic.Pointer[map[uint64]func(raw []byte)]
	done chan struct{}
	// unrouted counts records whose cgroup had no subscriber any more: a
	// detach waits for its records still in the ring (drain), so these
	// are a detach's that gave up waiting (undrained).
	unrouted atomic.Uint64
	// undrained counts detaches that gave up waiting for the reader
	// (DrainWait): their last records may be among the unrouted.
	undrained atomic.Uint64

	// pending keeps, under pmu, the records of containers created under
	// the followed parent (Follow) that nobody subscribed to yet: a cold
	// start's first invocation runs before discovery names the container,
	// and Subscribe hands them over first. Bounded by PendingBytes (the
	// oldest container's records go first) and PendingAge.
	pmu       sync.Mutex
	pending   map[uint64]*pendingRecs
	pbytes    int
	following atomic.Bool
	// expired counts records dropped from pending unclaimed; expiredBy
	// (under pmu, bounded) says how many of them were each cgroup's, for
	// the stream that attaches it later (Subscribe): lost, not unseen.
	expired   atomic.Uint64
	expiredBy map[uint64]uint64

	// forks says new processes are recorded at sched_process_fork
	// (fork.go): decoders take a process's birth from that record and
	// ignore clone's sys_exit for it. ForkErr says why not, when not.
	forks   bool
	ForkErr error
	// drained is a kernel time (CLOCK_MONOTONIC ns, bpf_ktime_get_ns)
	// before which every record reserved in the ring has been handed
	// out: the reader found the ring empty after it, or handed out a
	// record stamped after it (the ring is read in reservation order, and
	// a record is stamped before it is reserved). A detaching stream waits
	// for it to pass the moment its cgroup left the filter (drain).
	drained atomic.Uint64
}

// DrainWait bounds how long a detaching stream waits for the reader to
// hand over its records still in the ring (a reader far behind, or
// stopped); past it what is left of them is counted as unrouted.
const DrainWait = 2 * time.Second

// ktimeNow is bpf_ktime_get_ns's clock, read from user space.
func ktimeNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

// advance moves drained forward to t (the reader's goroutine only).
func (p *Probe) advance(t uint64) {
	if t > p.drained.Load() {
		p.drained.Store(t)
	}
}

// drain returns once every record reserved before now has been handed to
// its subscriber, or after DrainWait (false).
func (p *Probe) drain() bool {
	// A program that passed the filter just before the cgroup left it
	// stamps and reserves its record a few microseconds later: let it.
	time.Sleep(time.Millisecond)
	t0 := ktimeNow()
	deadline := time.Now().Add(DrainWait)
	// The reader may sleep up to PollInterval on an idle ring: wake it.
	_ = p.rd.Flush()
	for p.drained.Load() < t0 {
		select {
		case <-p.done:
			return false
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// tpFork is the raw tracepoint of forkProgram.
const tpFork = "sched_process_fork"

type pendingRecs struct {
	first time.Time
	recs  [][]byte
	bytes int
}

// maxExpiredBy bounds Probe.expiredBy (cgroups with expired records
// waiting to be attached).
const maxExpiredBy = 4096

// PendingBytes bounds the records kept for containers not attached yet;
// PendingAge is how long they wait for discovery to name the container.
const (
	PendingBytes = 16 << 20
	PendingAge   = 30 * time.Second
)

// ErrUnsupported says this machine cannot run the backend (architecture,
// or the kernel refused the programs): callers fall back to strace.
var ErrUnsupported = fmt.Errorf("ebpf: %w", backend.ErrUnavailable)

// Load verifies and attaches the programs. The caller needs CAP_BPF and
// CAP_PERFMON (or root).
func Load() (*Probe, error) {
	if runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("%w: syscall numbers and pt_regs offsets are x86_64's, not %s", ErrUnsupported, runtime.GOARCH)
	}
	spec, err := Spec()
	if err != nil {
		return nil, err
	}
	// New processes from sched_process_fork where the kernel's BTF says
	// where a task_struct keeps its pid (fork.go); without it, from
	// clone's sys_exit as before.
	tps := []string{"sys_enter", "sys_exit"}
	off, forkErr := kernelTaskOffsets()
	if forkErr == nil {
		spec.Programs[tpFork] = &cebpf.ProgramSpec{Name: "faasmon_fork", Type: cebpf.RawTracepoint, License: "Dual MIT/GPL", Instructions: forkProgram(off)}
		tps = append(tps, tpFork)
	}
	coll, err := cebpf.NewCollection(spec)
	if err != nil {
		var ve *cebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w: verifier: %+v", ErrUnsupported, ve)
		}
		return nil, fmt.Errorf("%w: load: %v", ErrUnsupported, err)
	}
	p := &Probe{coll: coll, done: make(chan struct{}), forks: forkErr == nil, ForkErr: forkErr}
	p.subs.Store(&map[uint64]func([]byte){})
	for _, tp := range tps {
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp, Program: coll.Programs[tp]})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("%w: attach raw_tracepoint %s: %v", ErrUnsupported, tp, err)
		}
		p.links = append(p.links, l)
	}
	rd, err := ringbuf.NewReader(coll.Maps[mapEvents])
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("ring buffer reader: %w", err)
	}
	p.rd = rd
	go p.read()
	return p, nil
}

// read drains the ring buffer into the subscribers until Close.
func (p *Probe) read() {
	defer close(p.done)
	var rec ringbuf.Record
	for {
		before := ktimeNow()
		p.rd.SetDeadline(time.Now().Add(PollInterval))
		err := p.rd.ReadInto(&rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, ringbuf.ErrFlushed):
			// Returned only once the ring was read empty, in this call:
			// nothing reserved before it started is left.
			p.advance(before)
			continue
		case errors.Is(err, ringbuf.ErrClosed):
			return
		case err != nil:
			continue
		}
		if len(rec.RawSample) < sizeNone {
			continue
		}
		cg := le.Uint64(rec.RawSample[offCgroup:])
		if f := (*p.subs.Load())[cg]; f != nil {
			f(rec.RawSample)
		} else if p.following.Load() {
			p.hold(cg, rec.RawSample)
		} else {
			p.unrouted.Add(1)
		}
		p.advance(le.Uint64(rec.RawSample[offTS:]))
	}
}

// hold keeps a record of a container not subscribed yet.
func (p *Probe) hold(cg uint64, raw []byte) {
	p.pmu.Lock()
	// Subscribe may have come between the lookup and the lock.
	if f := (*p.subs.Load())[cg]; f != nil {
		p.pmu.Unlock()
		f(raw)
		return
	}
	defer p.pmu.Unlock()
	now := time.Now()
	pr := p.pending[cg]
	if pr == nil {
		if p.pending == nil {
			p.pending = map[uint64]*pendingRecs{}
		}
		pr = &pendingRecs{first: now}
		p.pending[cg] = pr
	}
	pr.recs = append(pr.recs, append([]byte(nil), raw...))
	pr.bytes += len(raw)
	p.pbytes += len(raw)
	for p.pbytes > PendingBytes || p.oldestAge(now) > PendingAge {
		p.dropOldest()
	}
}

func (p *Probe) oldestAge(now time.Time) time.Duration {
	var age time.Duration
	for _, pr := range p.pending {
		age = max(age, now.Sub(pr.first))
	}
	return age
}

func (p *Probe) dropOldest() {
	var oldest uint64
	var at time.Time
	for cg, pr := range p.pending {
		if at.IsZero() || pr.first.Before(at) {
			oldest, at = cg, pr.first
		}
	}
	if pr := p.pending[oldest]; pr != nil {
		p.pbytes -= pr.bytes
		p.expired.Add(uint64(len(pr.recs)))
		if p.expiredBy == nil || len(p.expiredBy) >= maxExpiredBy {
			p.expiredBy = map[uint64]uint64{}
		}
		p.expiredBy[oldest] += uint64(len(pr.recs))
		delete(p.pending, oldest)
		// Nobody claimed it in time: not a function container (another
		// pod on the node, the tracer's own). Stop recording it in the
		// kernel; Subscribe still traces it if it is attached later.
		_ = p.coll.Maps[mapMuted].Update(oldest, uint64(1), cebpf.UpdateAny)
	}
}

// Follow traces, from their creation, the cgroups under the one at dir
// (level: its depth below the cgroup root, > 0): their records are kept
// until a subscriber comes for them (Subscribe), for at most PendingAge.
func (p *Probe) Follow(level int, id uint64) error {
	if level <= 0 {
		return fmt.Errorf("follow: level %d: the root cgroup cannot be followed (every process is under it)", level)
	}
	v := make([]byte, 24)
	le.PutUint64(v[0:], uint64(level))
	le.PutUint64(v[8:], id)
	if err := p.coll.Maps[mapFollow].Put(uint32(0), v); err != nil {
		return fmt.Errorf("follow cgroup %d: %w", id, err)
	}
	p.following.Store(true)
	return nil
}

// Mute stops following cgroup cg (a container never to trace under the
// followed parent) and drops what was kept of it.
func (p *Probe) Mute(cg uint64) error {
	m := p.coll.Maps[mapMuted]
	if err := m.Update(cg, uint64(1), cebpf.UpdateAny); err != nil {
		return fmt.Errorf("mute cgroup %d: %w", cg, err)
	}
	p.pmu.Lock()
	if pr := p.pending[cg]; pr != nil {
		p.pbytes -= pr.bytes
		delete(p.pending, cg)
	}
	p.pmu.Unlock()
	return nil
}

// Expired counts records of followed containers dropped unclaimed.
func (p *Probe) Expired() uint64 { return p.expired.Load() }

// Subscribe starts tracing cgroup cg (the id bpf_get_current_cgroup_id
// returns: the inode of its cgroup v2 directory) and hands its records to
// f, from the reader goroutine: f must copy what it keeps and not block for
// long. The returned function stops it.
//
// expired is how many of cg's records were dropped while they waited for a
// subscriber (PendingBytes, PendingAge): the stream lost them.
func (p *Probe) Subscribe(cg uint64, f func(raw []byte)) (stop func() (drained bool), expired uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.subs.Load()
	if _, dup := old[cg]; dup {
		return nil, 0, fmt.Errorf("cgroup %d already traced", cg)
	}
	next := maps.Clone(old)
	next[cg] = f
	// Records kept since the container's creation go first; the reader
	// waits on pmu for this container's next ones (hold), so the order
	// holds.
	p.pmu.Lock()
	expired = p.expiredBy[cg]
	delete(p.expiredBy, cg)
	if pr := p.pending[cg]; pr != nil {
		for _, r := range pr.recs {
			f(r)
		}
		p.pbytes -= pr.bytes
		delete(p.pending, cg)
	}
	p.subs.Store(&next)
	p.pmu.Unlock()
	if err := p.coll.Maps[mapCgroups].Update(cg, uint64(0), cebpf.UpdateNoExist); err != nil {
		p.subs.Store(&old)
		return nil, 0, fmt.Errorf("add cgroup %d to the filter: %w", cg, err)
	}
	return func() bool {
		// Out of the filter first, then let the reader hand over what
		// the container wrote before that and is still in the ring (a
		// container ending right after an invocation answered, or killed
		// by a response, has its last records there), then unsubscribe.
		_ = p.coll.Maps[mapCgroups].Delete(cg)
		drained := p.drain()
		if !drained {
			p.undrained.Add(1)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		next := maps.Clone(*p.subs.Load())
		delete(next, cg)
		p.subs.Store(&next)
		return drained
	}, expired, nil
}

// Lost returns how many records of cgroup cg the kernel dropped because the
// ring buffer was full.
func (p *Probe) Lost(cg uint64) (uint64, error) {
	var v uint64
	if err := p.coll.Maps[mapCgroups].Lookup(cg, &v); err != nil {
		return 0, fmt.Errorf("loss counter of cgroup %d: %w", cg, err)
	}
	return v, nil
}

// Unrouted counts records that arrived for a cgroup no longer subscribed.
func (p *Probe) Unrouted() uint64 { return p.unrouted.Load() }

// Undrained counts detaches that stopped waiting for their records still
// in the ring (DrainWait).
func (p *Probe) Undrained() uint64 { return p.undrained.Load() }

// Close detaches the programs and stops the reader.
func (p *Probe) Close() error {
	for _, l := range p.links {
		_ = l.Close()
	}
	p.links = nil
	if p.rd != nil {
		_ = p.rd.Close()
		<-p.done
		p.rd = nil
	}
	p.coll.Close()
	return nil
}

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
	// unrouted counts records whose cgroup had no subscriber any more
	// (the container detached while its records were in the ring).
	unrouted atomic.Uint64
}

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
	coll, err := cebpf.NewCollection(spec)
	if err != nil {
		var ve *cebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w: verifier: %+v", ErrUnsupported, ve)
		}
		return nil, fmt.Errorf("%w: load: %v", ErrUnsupported, err)
	}
	p := &Probe{coll: coll, done: make(chan struct{})}
	p.subs.Store(&map[uint64]func([]byte){})
	for _, tp := range []string{"sys_enter", "sys_exit"} {
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
		p.rd.SetDeadline(time.Now().Add(PollInterval))
		err := p.rd.ReadInto(&rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
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
		} else {
			p.unrouted.Add(1)
		}
	}
}

// Subscribe starts tracing cgroup cg (the id bpf_get_current_cgroup_id
// returns: the inode of its cgroup v2 directory) and hands its records to
// f, from the reader goroutine: f must copy what it keeps and not block for
// long. The returned function stops it.
func (p *Probe) Subscribe(cg uint64, f func(raw []byte)) (func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.subs.Load()
	if _, dup := old[cg]; dup {
		return nil, fmt.Errorf("cgroup %d already traced", cg)
	}
	next := maps.Clone(old)
	next[cg] = f
	p.subs.Store(&next)
	if err := p.coll.Maps[mapCgroups].Update(cg, uint64(0), cebpf.UpdateNoExist); err != nil {
		p.subs.Store(&old)
		return nil, fmt.Errorf("add cgroup %d to the filter: %w", cg, err)
	}
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = p.coll.Maps[mapCgroups].Delete(cg)
		next := maps.Clone(*p.subs.Load())
		delete(next, cg)
		p.subs.Store(&next)
	}, nil
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

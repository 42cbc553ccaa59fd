package strace

import (
	"fmt"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// strace -f follows the children of the processes it attached to, and
// nothing else. A process that enters the container from outside its
// process tree (kubectl exec, docker exec, nsenter: runc joins the
// container's namespaces and cgroup and starts the process there) is
// nobody's child in it, and was never traced. The watcher polls the
// container's processes (discovery.Members: its cgroup.procs) and gives
// each one nobody traces (TracerPid 0 in /proc/<pid>/status) to a second
// strace, whose lines join the same stream: the stream's chunks go on in
// sequence, nothing is restarted, so no blind spot is reported and the
// processes already traced are never detached for a moment.
//
// Cost (BenchmarkRescan, BenchmarkMembers; this machine, 2 cores shared at
// load average ~12, so an idle node does better): a poll of a container of
// 10 known processes reads its cgroup.procs (~50 µs) and each process's
// stat for its start time (~16-30 µs each: a pid reused by a newcomer is a
// new process); status (TracerPid) only for processes not yet known or
// whose strace ended. 340 µs per poll, 0.034% of a core per container at
// DefaultRescan. A Kubernetes container whose cgroup directory was not
// found falls back to ScanCgroups: one read per process of the node, 1.8 ms
// per poll here with 112 processes (~16 µs each).
//
// A process that enters and exits between two polls is not seen: a
// one-shot `kubectl exec -- cmd` shorter than DefaultRescan escapes the
// watcher (not the eBPF sensor, which filters by cgroup in the kernel).

// DefaultRescan is how often a stream looks for processes it does not
// follow: a `kubectl exec` shell is traced within about this long.
const DefaultRescan = time.Second

// maxExtra bounds the strace processes a stream starts for newcomers
// (one per poll that found some); past it the stream ends and is
// restarted (backend.Run) with one strace for all of them.
const maxExtra = 16

// attachGrace is how long a process given to a strace that still runs may
// show no tracer before it counts as one strace could not attach to.
const attachGrace = 2 * time.Second

type memberState int

const (
	pending  memberState = iota // given to a strace, not yet seen attached
	followed                    // ptraced by one of the stream's straces
	failed                      // strace could not attach: given up
	foreign                     // ptraced by another tracer: given up
)

// member is what the watcher knows of one process of the container, by
// pid and start time (a pid reused by a new process is a new member).
type member struct {
	start     uint64
	state     memberState
	newcomer  bool
	tracer    int       // the stream's strace that traces it (followed), or was given it (pending)
	attaching time.Time // when it was given to a strace (pending)
}

// watch polls the container's processes until the stream ends. attached
// are the pids the primary strace was given.
func (s *stream) watch(attached []int) {
	known := make(map[int]member, len(attached))
	now := time.Now()
	for _, pid := range attached {
		st, err := discovery.ProcStart(s.procRoot, pid)
		if err != nil {
			continue
		}
		known[pid] = member{start: st, state: pending, tracer: s.proc.Pid(), attaching: now}
	}
	tick := time.NewTicker(s.cfg.Rescan)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.rescan(known); err != nil {
			s.mu.Lock()
			s.failed = err
			s.mu.Unlock()
			s.cfg.Log.Warn("strace stream restarts to follow the container's processes", "container", s.t.Container, "err", err)
			s.proc.Stop()
			return
		}
	}
}

// rescan is one poll. It returns an error when the stream must restart: a
// process it followed lost its tracer (one of the stream's strace
// processes died), or too many straces run.
func (s *stream) rescan(known map[int]member) error {
	pids, err := discovery.Members(s.procRoot, s.t)
	if err != nil {
		// The container is ending, or its cgroup went: the primary strace
		// ends with its tracees and backend.Run decides.
		return nil
	}
	in := make(map[int]bool, len(pids))
	var newcomers []int
	var starts []uint64
	for _, pid := range pids {
		in[pid] = true
		st, err := discovery.ProcStart(s.procRoot, pid)
		if err != nil {
			continue // ended meanwhile
		}
		m, ok := known[pid]
		if ok && m.start == st {
			// Steady state costs the stat read above, no more: a process
			// given up stays given up, and one whose strace still runs is
			// still traced (a tracee cannot detach itself).
			if m.state == failed || m.state == foreign || m.state == followed && s.isTracer(m.tracer) {
				continue
			}
		}
		tp, exited, err := discovery.TracerPid(s.procRoot, pid)
		if err != nil || exited {
			continue
		}
		ours := tp != 0 && s.isTracer(tp)
		if !ok || m.start != st {
			switch {
			case tp == 0:
				newcomers = append(newcomers, pid)
				starts = append(starts, st)
			case ours: // forked by a traced process: strace -f has it
				known[pid] = member{start: st, state: followed, tracer: tp}
			default:
				known[pid] = member{start: st, state: foreign, newcomer: true}
				s.foreign(pid, tp)
			}
			continue
		}
		switch m.state {
		case pending:
			switch {
			case ours:
				m.state, m.tracer = followed, tp
				if m.newcomer {
					s.count(metrics.RescanAttached)
					s.cfg.Log.Info("traced a process that entered the container", "container", s.t.Container, "pid", pid, "strace", tp)
				}
			case tp == 0 && s.isTracer(m.tracer) && time.Since(m.attaching) < attachGrace:
				// Its strace runs and may still be attaching (slow on a
				// loaded node, or one of several pids): too early to tell.
				// One that could attach none has exited by now.
				continue
			case tp == 0:
				m.state = failed
				s.count(metrics.RescanFailed)
				s.cfg.Log.Warn("strace could not attach to a process of the container; not retried (blind spot)",
					"container", s.t.Container, "pid", pid)
			default:
				m.state = foreign
				s.foreign(pid, tp)
			}
			known[pid] = m
		case followed: // its strace ended
			if !ours {
				return fmt.Errorf("pid %d lost its strace (tracer now %d)", pid, tp)
			}
			m.tracer = tp
			known[pid] = m
		}
	}
	for pid := range known {
		if !in[pid] {
			delete(known, pid) // exited (or left the cgroup)
		}
	}
	if len(newcomers) == 0 || s.ctx.Err() != nil {
		return nil // none, or the stream is ending
	}
	s.mu.Lock()
	full := s.extra >= maxExtra
	s.mu.Unlock()
	if full {
		return fmt.Errorf("%d strace processes for newcomers already run", maxExtra)
	}
	s.cfg.Log.Info("processes entered the container outside its traced tree; attaching strace", "container", s.t.Container, "pids", newcomers)
	p, err := s.start(newcomers)
	if err != nil {
		for i, pid := range newcomers {
			known[pid] = member{start: starts[i], state: failed, newcomer: true}
			s.count(metrics.RescanFailed)
		}
		s.cfg.Log.Warn("strace for processes that entered the container did not start; not retried (blind spot)",
			"container", s.t.Container, "pids", newcomers, "err", err)
		return nil
	}
	s.mu.Lock()
	s.extra++
	s.mu.Unlock()
	go s.read(p, false)
	// Read after strace started, as at attach (Threads): a thread made
	// later shows in the trace as a clone.
	s.addThreads(newcomers)
	at := time.Now()
	for i, pid := range newcomers {
		known[pid] = member{start: starts[i], state: pending, newcomer: true, tracer: p.Pid(), attaching: at}
	}
	return nil
}

// foreign counts a process another tracer holds; the warning is once per
// tracer, which with -f holds every child its tracee forks.
func (s *stream) foreign(pid, tracer int) {
	s.count(metrics.RescanForeign)
	if s.foreignTracers[tracer] {
		s.cfg.Log.Debug("another child of a process ptraced by another tracer", "container", s.t.Container, "pid", pid, "tracer", tracer)
		return
	}
	if len(s.foreignTracers) < 1024 {
		s.foreignTracers[tracer] = true
	}
	s.cfg.Log.Warn("a process in the container is ptraced by another tracer and cannot be traced (blind spot)",
		"container", s.t.Container, "pid", pid, "tracer", tracer)
}

func (s *stream) isTracer(pid int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tracers[pid]
}

func (s *stream) count(result string) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Rescanned.WithLabelValues(string(chunk.KindStrace), result).Inc()
	}
	if result == metrics.RescanFailed || result == metrics.RescanForeign {
		// A blind spot for faasmon-graph too: the next chunks' headers
		// carry the count (Reannotator).
		s.mu.Lock()
		s.untraced++
		s.annotations++
		s.mu.Unlock()
	}
}

package profile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// Learner decides, per function version, whether a graph is learnt or
// checked: a profile learns from the first Config.LearnGraphs benign graphs
// or for Config.LearnFor after its first graph, whichever ends first, and
// is armed from then on. Profiles live in Store, so learning survives
// restarts and the replicas of a node share it.
//
// A Learner is safe for concurrent use and must not be copied after its
// first use.
type Learner struct {
	Store  Store
	Config Config
	// Now is the clock (nil: time.Now); tests set it.
	Now func() time.Time
	// FlushGraphs and FlushEvery batch the learning path's writes: the
	// graphs a learning profile takes are kept in memory and written in
	// one Store.Update when FlushGraphs of them wait or the first waited
	// FlushEvery (checked at the next graph and by Run), when a graph
	// arms the profile (at once: checking starts from the stored armed
	// profile), and on Flush (shutdown). Both zero: every graph is
	// written before Observe returns.
	//
	// Writing every graph was the most of faasmon-classify's CPU on
	// learning traffic: the whole profile decoded, re-encoded and synced
	// (twice, the file and its directory) per graph. What is learnt is
	// not evidence: a crash loses at most the graphs of the last
	// FlushEvery (or FlushGraphs), which the profile then learns from
	// later graphs instead. Replicas sharing the store still merge: a
	// flush applies the waiting graphs to the profile as stored then, not
	// a copy of it from before.
	FlushGraphs int
	FlushEvery  time.Duration

	// Armed profiles are frozen: when the store is a Versioner, they are
	// kept in memory and read again only when the stored one changes (an
	// import).
	mu    sync.Mutex
	armed map[Key]cachedProfile

	// lmu serialises the batched learning path: learning holds, per
	// profile, the stored version it was read at, that profile with the
	// waiting graphs learnt (what Observe answers from), and the graphs
	// to apply at the next flush.
	lmu      sync.Mutex
	learning map[Key]*learning
}

type learning struct {
	ver   string
	p     *Profile
	ops   []learnOp
	since time.Time // when the first waiting graph came
}

// learnOp is one graph's step, replayed on the stored profile at a flush.
type learnOp struct {
	b     *Behaviour
	now   time.Time
	learn bool
}

// maxLearning bounds the profiles with graphs waiting; past it, all are
// flushed.
const maxLearning = 256

type cachedProfile struct {
	version string
	p       *Profile
}

// maxCached bounds the armed profiles a Learner keeps in memory.
const maxCached = 4096

func (l *Learner) cached(k Key) (string, *Profile) {
	v, ok := l.Store.(Versioner)
	if !ok {
		return "", nil
	}
	ver, err := v.Version(k)
	if err != nil || ver == "" {
		return "", nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.armed[k]; ok && c.version == ver {
		return ver, c.p
	}
	return ver, nil
}

func (l *Learner) keep(k Key, ver string, p *Profile) {
	if ver == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.armed == nil || len(l.armed) >= maxCached {
		l.armed = map[Key]cachedProfile{}
	}
	l.armed[k] = cachedProfile{ver, p}
}

// Result is what Observe did with one graph.
type Result struct {
	Key   Key
	State State // the profile's state after the graph
	// Learnt is set when the graph was added to the profile.
	Learnt bool
	// Findings are the deviations of an armed profile (nil while
	// learning).
	Findings []verdict.Finding
}

func (l *Learner) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Observe handles one graph of function version version (see Key.Version).
// learn says whether the graph may be learnt: the caller passes false when
// another part (an invariant, the egress part, the GNN) flagged it, so
// that an attack during learning is not absorbed into the profile. While
// the profile learns, Observe returns no findings; once armed, it checks
// the graph and changes nothing. x may be nil (see Extra).
func (l *Learner) Observe(version string, g *provenance.Graph, x *Extra, learn bool) (Result, error) {
	k := KeyOf(g, version)
	res := Result{Key: k}
	if err := k.Validate(); err != nil {
		return res, err
	}
	b := Extract(g, x)
	now := l.now().UTC()
	cfg := l.Config.withDefaults()

	// The armed path only reads: most graphs of a function take it.
	ver, p := l.cached(k)
	if l.batched() && p == nil {
		// The batched path reads the stored profile only when it changed.
		return l.observeBatched(k, ver, b, now, learn)
	}
	if p == nil {
		var err error
		if p, err = l.Store.Load(k); err != nil {
			return res, err
		}
		if p != nil && p.State == Armed {
			p.Config = l.Config
			l.keep(k, ver, p)
		}
	}
	if p != nil && p.State == Armed {
		res.State, res.Findings = Armed, p.CheckBehaviour(b)
		return res, nil
	}
	err := l.Store.Update(k, func(p *Profile) (*Profile, error) {
		if p == nil {
			p = New(k, l.Config)
		}
		p.Config = l.Config
		if p.State == Armed { // armed by another replica meanwhile
			res.State, res.Findings = Armed, p.CheckBehaviour(b)
			return nil, nil
		}
		res = p.step(k, cfg, now, b, learn)
		return p, nil
	})
	if err != nil {
		return res, fmt.Errorf("profile %s: %w", k, err)
	}
	return res, nil
}

// step is one graph of a profile that is not armed: armed by time, or
// skipped, or learnt (and maybe armed by count).
func (p *Profile) step(k Key, cfg Config, now time.Time, b *Behaviour, learn bool) Result {
	res := Result{Key: k}
	if p.State == Armed {
		return res // armed by an earlier step of a flush: frozen
	}
	if p.learnTimeUp(cfg, now) {
		p.Arm(now)
		res.State, res.Findings = Armed, p.CheckBehaviour(b)
		return res
	}
	if !learn {
		p.Skipped++
		res.State = Learning
		return res
	}
	if p.Started.IsZero() {
		p.Started = now
	}
	p.LearnBehaviour(b)
	res.Learnt = true
	if cfg.LearnGraphs > 0 && p.Graphs >= cfg.LearnGraphs {
		p.Arm(now)
	}
	res.State = p.State
	return res
}

func (l *Learner) batched() bool {
	_, ok := l.Store.(Versioner)
	return ok && (l.FlushGraphs > 0 || l.FlushEvery > 0)
}

// observeBatched is Observe's path with the learning writes batched; ver
// is the stored profile's version now.
func (l *Learner) observeBatched(k Key, ver string, b *Behaviour, now time.Time, learn bool) (Result, error) {
	l.lmu.Lock()
	defer l.lmu.Unlock()
	cfg := l.Config.withDefaults()
	e := l.learning[k]
	if e == nil || e.ver != ver {
		// First graph here, or the stored profile changed (another
		// replica flushed, an import): start from it again, with the
		// graphs still waiting learnt on top.
		stored, err := l.Store.Load(k)
		if err != nil {
			return Result{Key: k}, fmt.Errorf("profile %s: %w", k, err)
		}
		if stored != nil && stored.State == Armed {
			// Armed (here or by another replica): frozen, and the
			// graphs still waiting are not learnt.
			stored.Config = l.Config
			delete(l.learning, k)
			l.keep(k, ver, stored)
			return Result{Key: k, State: Armed, Findings: stored.CheckBehaviour(b)}, nil
		}
		if stored == nil {
			stored = New(k, l.Config)
		}
		stored.Config = l.Config
		if e == nil {
			e = &learning{}
		}
		e.ver, e.p = ver, stored
		for _, o := range e.ops {
			stored.step(k, cfg, o.now, o.b, o.learn)
		}
		if l.learning == nil {
			l.learning = map[Key]*learning{}
		}
		l.learning[k] = e
	}
	p := e.p
	p.Config = l.Config
	var res Result
	if p.State == Armed {
		// The waiting graphs, learnt on top of a newer stored profile,
		// armed it: the flush below stores that.
		res = Result{Key: k, State: Armed, Findings: p.CheckBehaviour(b)}
	} else {
		res = p.step(k, cfg, now, b, learn)
		if len(e.ops) == 0 {
			e.since = l.now()
		}
		e.ops = append(e.ops, learnOp{b: b, now: now, learn: learn})
	}
	if p.State == Armed || l.due(e) || len(l.learning) > maxLearning {
		if err := l.flushAll(k); err != nil {
			return res, err
		}
	}
	return res, nil
}

// flush writes e's waiting graphs: applied to the profile as stored now,
// under its lock.
func (l *Learner) flush(k Key, e *learning) error {
	if len(e.ops) == 0 {
		return nil
	}
	cfg := l.Config.withDefaults()
	var stored *Profile
	err := l.Store.Update(k, func(p *Profile) (*Profile, error) {
		if p == nil {
			p = New(k, l.Config)
		}
		p.Config = l.Config
		if p.State == Armed {
			return nil, nil // armed by another replica: frozen
		}
		for _, o := range e.ops {
			p.step(k, cfg, o.now, o.b, o.learn)
		}
		stored = p
		return p, nil
	})
	if err != nil {
		// Kept for the next flush, but not without bound.
		if len(e.ops) > 4*max(l.FlushGraphs, 64) {
			delete(l.learning, k)
			return fmt.Errorf("profile %s: %w (%d learnt graphs dropped)", k, err, len(e.ops))
		}
		return fmt.Errorf("profile %s: %w (%d learnt graphs kept for the next flush)", k, err, len(e.ops))
	}
	if stored == nil {
		delete(l.learning, k) // the next graph reads the armed profile
		return nil
	}
	ver, verr := l.Store.(Versioner).Version(k)
	if verr != nil || stored.State == Armed {
		delete(l.learning, k)
		return nil
	}
	e.ver, e.p, e.ops, e.since = ver, stored, nil, time.Time{}
	return nil
}

// flushAll flushes k, and every other profile whose graphs are due (all
// of them, and forgets them, when the table is over its bound).
func (l *Learner) flushAll(k Key) error {
	var errs []error
	if e := l.learning[k]; e != nil {
		errs = append(errs, l.flush(k, e))
	}
	full := len(l.learning) > maxLearning
	for o, e := range l.learning {
		if o == k {
			continue
		}
		if full || l.due(e) {
			errs = append(errs, l.flush(o, e))
		}
		if full {
			delete(l.learning, o)
		}
	}
	return errors.Join(errs...)
}

// maxWaiting bounds the graphs waiting for one profile whatever the
// settings (FlushEvery alone does not bound them).
const maxWaiting = 1024

func (l *Learner) due(e *learning) bool {
	return len(e.ops) > 0 && (l.FlushGraphs > 0 && len(e.ops) >= l.FlushGraphs || len(e.ops) >= maxWaiting ||
		l.FlushEvery > 0 && l.now().Sub(e.since) >= l.FlushEvery)
}

// Flush writes every waiting learnt graph; faasmon-classify calls it on
// shutdown.
func (l *Learner) Flush() error {
	l.lmu.Lock()
	defer l.lmu.Unlock()
	var errs []error
	for k, e := range l.learning {
		errs = append(errs, l.flush(k, e))
	}
	return errors.Join(errs...)
}

// FlushDue writes the waiting graphs that are due (FlushEvery passed),
// for a profile whose function went quiet; Run calls it.
func (l *Learner) FlushDue() error {
	l.lmu.Lock()
	defer l.lmu.Unlock()
	var errs []error
	for k, e := range l.learning {
		if l.due(e) {
			errs = append(errs, l.flush(k, e))
		}
	}
	return errors.Join(errs...)
}

// Run calls FlushDue every interval until ctx ends, then Flush; errors
// go to logf (nil: dropped).
func (l *Learner) Run(ctx context.Context, every time.Duration, logf func(string, ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := l.Flush(); err != nil && logf != nil {
				logf("profile flush: %v", err)
			}
			return
		case <-t.C:
			if err := l.FlushDue(); err != nil && logf != nil {
				logf("profile flush: %v", err)
			}
		}
	}
}

// learnTimeUp says whether the learning period is over by time.
func (p *Profile) learnTimeUp(cfg Config, now time.Time) bool {
	return cfg.LearnFor > 0 && !p.Started.IsZero() && now.Sub(p.Started) >= cfg.LearnFor
}

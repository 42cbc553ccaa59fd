package profile

import (
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

	// Armed profiles are frozen: when the store is a Versioner, they are
	// kept in memory and read again only when the stored one changes (an
	// import).
	mu    sync.Mutex
	armed map[Key]cachedProfile
}

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
		if p.learnTimeUp(cfg, now) {
			p.Arm(now)
			res.State, res.Findings = Armed, p.CheckBehaviour(b)
			return p, nil
		}
		if !learn {
			p.Skipped++
			res.State = Learning
			return p, nil
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
		return p, nil
	})
	if err != nil {
		return res, fmt.Errorf("profile %s: %w", k, err)
	}
	return res, nil
}

// learnTimeUp says whether the learning period is over by time.
func (p *Profile) learnTimeUp(cfg Config, now time.Time) bool {
	return cfg.LearnFor > 0 && !p.Started.IsZero() && now.Sub(p.Started) >= cfg.LearnFor
}

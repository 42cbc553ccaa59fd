package lab

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// Call is one invocation to make.
type Call struct {
	Scenario string
	Round    int
	Step     string
	Mixed    bool
	Function string
	Method   string
	Path     string
	Body     string
	JSON     bool
	Label    string
	Taints   bool
}

// Batch is one step's calls: its own and the benign ones mixed in, played
// with Concurrency calls in flight and Delay between starts.
type Batch struct {
	Step        string
	Function    string
	Cold        bool // scale Function 0 → 1 before the batch
	Concurrency int
	Delay       time.Duration
	Wait        time.Duration
	Calls       []Call
}

// Pool is the benign steps mix_benign draws from.
type Pool struct {
	Steps []Step
}

// NewPool takes the benign steps of s, leaving out the functions in
// exclude (a scenario's attacked functions: a benign call must not land in
// a container the scenario compromises).
func NewPool(s *Scenario, exclude []string) *Pool {
	ex := map[string]bool{}
	for _, f := range exclude {
		ex[f] = true
	}
	p := &Pool{}
	for _, st := range s.Steps {
		if st.Label == LabelBenign && !ex[st.Function] {
			p.Steps = append(p.Steps, st)
		}
	}
	return p
}

// Seed derives the random stream of one scenario round.
func Seed(seed uint64, scenario string, round int) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", scenario, round)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// Plan expands one round of s into batches. Templates are expanded with r,
// so the same seed gives the same bodies.
func Plan(s *Scenario, round int, pool *Pool, vars TemplateVars, r *rand.Rand) ([]Batch, error) {
	var out []Batch
	for _, st := range s.Steps {
		b := Batch{Step: st.Name, Function: st.Function, Cold: st.Cold, Concurrency: st.Concurrency, Delay: time.Duration(st.Delay), Wait: time.Duration(st.Wait)}
		for i := 0; i < st.Repeat; i++ {
			own, err := makeCall(s.Name, round, st, false, vars, r, i)
			if err != nil {
				return nil, err
			}
			var mixed []Call
			if st.MixBenign > 0 && pool != nil && len(pool.Steps) > 0 {
				for k := 0; k < st.MixBenign; k++ {
					ps := pool.Steps[r.IntN(len(pool.Steps))]
					c, err := makeCall(s.Name, round, ps, true, vars, r, r.IntN(1000))
					if err != nil {
						return nil, err
					}
					c.Step = st.Name + "/mix:" + ps.Name
					mixed = append(mixed, c)
				}
			}
			// The step's own call goes at a random place among the mixed.
			at := r.IntN(len(mixed) + 1)
			b.Calls = append(b.Calls, mixed[:at]...)
			b.Calls = append(b.Calls, own)
			b.Calls = append(b.Calls, mixed[at:]...)
		}
		out = append(out, b)
	}
	return out, nil
}

func makeCall(scenario string, round int, st Step, mixed bool, vars TemplateVars, r *rand.Rand, i int) (Call, error) {
	body, err := Expand(st.Body.Raw, vars, r, i)
	if err != nil {
		return Call{}, fmt.Errorf("scenario %s step %s: %w", scenario, st.Name, err)
	}
	path, err := Expand(st.Path, vars, r, i)
	if err != nil {
		return Call{}, fmt.Errorf("scenario %s step %s: %w", scenario, st.Name, err)
	}
	return Call{Scenario: scenario, Round: round, Step: st.Name, Mixed: mixed, Function: st.Function,
		Method: st.Method, Path: path, Body: body, JSON: st.Body.JSON, Label: st.Label, Taints: st.Taints && !mixed}, nil
}

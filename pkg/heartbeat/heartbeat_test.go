package heartbeat

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
)

// TestTrackerSilenceOnceAndBack: a node silent past the bound is reported
// once, however often it is checked and by however many replicas, and its
// return once, with how long it was silent.
func TestTrackerSilenceOnceAndBack(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tr := Tracker{Dir: t.TempDir()}
	other := Tracker{Dir: tr.Dir} // a second replica
	const after = 60 * time.Second
	steps := []struct {
		at     time.Duration
		seen   []string // nodes heard of at this step
		want   map[string]bool
		forMin time.Duration // of a "back"
	}{
		{0, []string{"node-a", "node/b"}, nil, 0},
		{30 * time.Second, []string{"node/b"}, nil, 0},
		{61 * time.Second, nil, map[string]bool{"node-a": true}, 0},
		{80 * time.Second, nil, nil, 0},                             // reported already
		{91 * time.Second, nil, map[string]bool{"node/b": true}, 0}, // 61 s after its last
		{100 * time.Second, []string{"node-a"}, map[string]bool{"node-a": false}, 100 * time.Second},
		{110 * time.Second, nil, nil, 0},
		{Forget + 200*time.Second, nil, nil, 0}, // both collected, b without a second report
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		for _, n := range s.seen {
			if err := tr.Seen(n, now); err != nil {
				t.Fatal(err)
			}
		}
		a, err := tr.Check(now, after, t0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := other.Check(now, after, t0)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, c := range append(a, b...) {
			if _, dup := got[c.Node]; dup {
				t.Errorf("step %d: %s reported twice", i, c.Node)
			}
			got[c.Node] = c.Silent
			if !c.Silent && c.For < s.forMin {
				t.Errorf("step %d: %s back after %v, want ≥ %v", i, c.Node, c.For, s.forMin)
			}
		}
		if len(got) != len(s.want) {
			t.Fatalf("step %d: changes %v, want %v", i, got, s.want)
		}
		for n, silent := range s.want {
			if g, ok := got[n]; !ok || g != silent {
				t.Errorf("step %d: %s silent=%v (reported %v), want %v", i, n, g, ok, silent)
			}
		}
	}
	ents, _ := os.ReadDir(tr.Dir)
	if len(ents) != 0 {
		t.Errorf("%d files left after Forget", len(ents))
	}
}

func TestTrackerFilesPrivateAndBounded(t *testing.T) {
	tr := Tracker{Dir: filepath.Join(t.TempDir(), "nodes"), MaxNodes: 2}
	now := time.Now()
	for i, n := range []string{"a", "b", "c", "d"} {
		err := tr.Seen(n, now)
		if (err != nil) != (i >= 4) && err != ErrFull {
			t.Fatalf("node %s: %v", n, err)
		}
	}
	if err := tr.Seen("e", now); err != ErrFull {
		t.Errorf("fifth node: %v, want ErrFull", err)
	}
	ents, _ := os.ReadDir(tr.Dir)
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", e.Name(), fi.Mode())
		}
	}
}

func TestChunkIsValid(t *testing.T) {
	h, body := Chunk("node-1", 42, time.Now(), 3, time.Now())
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if h.Kind != Kind || !chunk.Known(Kind) || len(body) == 0 {
		t.Errorf("%+v %s", h, body)
	}
}

// TestTrackerCountsFromItsStart: a node last heard of before the watch
// started (faasmon-graph redeployed, tracers not up yet) gets the whole
// bound to be heard again before it is reported, and is reported if not.
func TestTrackerCountsFromItsStart(t *testing.T) {
	tr := Tracker{Dir: t.TempDir()}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := tr.Seen("old", t0.Add(-3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		at   time.Duration
		want int
	}{{time.Second, 0}, {59 * time.Second, 0}, {61 * time.Second, 1}, {90 * time.Second, 0}} {
		got, err := tr.Check(t0.Add(s.at), time.Minute, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != s.want {
			t.Fatalf("at %v: %+v, want %d changes", s.at, got, s.want)
		}
		if len(got) == 1 && (!got[0].Silent || got[0].For < 3*time.Hour) {
			t.Errorf("at %v: %+v, want silent for over 3h", s.at, got[0])
		}
	}
}

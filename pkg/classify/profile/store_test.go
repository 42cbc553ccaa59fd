package profile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLearnerLifecycle(t *testing.T) {
	dir := t.TempDir()
	base := nodeServer(t)
	shell := traceGraphs(t, "shell.strace", fn)[0]
	clk := &clock{t: traceT0}
	cfg := Config{LearnGraphs: 40}
	l := &Learner{Store: FileStore{Dir: dir}, Config: cfg, Now: clk.now}

	// An attack during learning: not reported by the profile (the other
	// parts flag it), and not learnt because they did.
	res, err := l.Observe("v1", &shell, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != Learning || res.Learnt || res.Findings != nil {
		t.Fatalf("attack while learning: %+v", res)
	}
	n := 0
	for i := 0; n < 40; i++ {
		for j := range base {
			if n == 40 {
				break
			}
			res, err := l.Observe("v1", round(&base[j], i), nil, true)
			if err != nil {
				t.Fatal(err)
			}
			n++
			want := Learning
			if n == 40 {
				want = Armed
			}
			if !res.Learnt || res.State != want || res.Findings != nil {
				t.Fatalf("graph %d: %+v, want learnt, %s", n, res, want)
			}
		}
	}
	// A restart: a new learner on the same directory.
	l2 := &Learner{Store: FileStore{Dir: dir}, Config: cfg, Now: clk.now}
	res, err = l2.Observe("v1", &shell, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != Armed || res.Learnt || len(res.Findings) == 0 {
		t.Fatalf("armed profile after restart: %+v", res)
	}
	p, err := FileStore{Dir: dir}.Load(res.Key)
	if err != nil || p == nil {
		t.Fatal(p, err)
	}
	if p.Graphs != 40 || p.Skipped != 1 || p.ArmedAt.IsZero() {
		t.Errorf("stored profile: graphs %d skipped %d armed at %v", p.Graphs, p.Skipped, p.ArmedAt)
	}
	// A redeploy (new version) learns again from scratch.
	res, err = l2.Observe("v2", &shell, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != Learning || !res.Learnt || res.Findings != nil {
		t.Fatalf("new version: %+v", res)
	}
}

func TestLearnerArmsByTime(t *testing.T) {
	base := nodeServer(t)
	clk := &clock{t: traceT0}
	l := &Learner{Store: FileStore{Dir: t.TempDir()}, Config: Config{LearnFor: 10 * time.Minute}, Now: clk.now}
	for i := range base {
		if res, err := l.Observe("v1", &base[i], nil, true); err != nil || res.State != Learning {
			t.Fatal(res, err)
		}
	}
	clk.add(10 * time.Minute)
	shell := traceGraphs(t, "shell.strace", fn)[0]
	res, err := l.Observe("v1", &shell, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	// Armed, but with 8 graphs no dimension reaches MinGraphs: the
	// profile reports nothing rather than guess.
	if res.State != Armed || res.Learnt || res.Findings != nil {
		t.Fatalf("%+v", res)
	}
}

// Replicas on one node share the directory: concurrent learners lose no
// graph.
func TestFileStoreConcurrent(t *testing.T) {
	dir := t.TempDir()
	g := invocations(nodeServer(t))[0]
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &Learner{Store: FileStore{Dir: dir}, Config: Config{LearnGraphs: 1000}}
			for i := 0; i < 10; i++ {
				if _, err := l.Observe("v1", g, nil, true); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	p, err := FileStore{Dir: dir}.Load(KeyOf(g, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Graphs != 40 {
		t.Errorf("graphs %d, want 40", p.Graphs)
	}
}

func TestFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "profiles")
	s := FileStore{Dir: dir}
	p, _ := learnt(t, 3)
	k := p.Key
	if err := s.Update(k, func(cur *Profile) (*Profile, error) { return p, nil }); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.path(k))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("profile file mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := s.Load(k)
	if err != nil {
		t.Fatal(err)
	}
	shell := traceGraphs(t, "shell.strace", fn)[0]
	if a, b := rules(p.Check(&shell)), rules(got.Check(&shell)); len(a) == 0 || len(a) != len(b) {
		t.Errorf("findings before %v, after reload %v", a, b)
	}
	for d, x := range p.Dims {
		if got.Dims[d].Singletons() != x.Singletons() || len(got.Dims[d].Values) != len(x.Values) {
			t.Errorf("%s changed on reload", d)
		}
	}
	keys, err := s.List()
	if err != nil || len(keys) != 1 || keys[0] != k {
		t.Errorf("List = %v, %v", keys, err)
	}
	if p, err := s.Load(Key{Function: "other"}); p != nil || err != nil {
		t.Errorf("missing profile: %v, %v", p, err)
	}
	// A corrupt file is an error, not a silent fresh start.
	if err := os.WriteFile(s.path(k), []byte(`{"key":{"function":"node-server","version":"sha256:1111"},"state":"armed","graphs":-4}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(k); !errors.Is(err, ErrCorrupt) {
		t.Errorf("corrupt file: %v", err)
	}
	err = s.Update(k, func(cur *Profile) (*Profile, error) { t.Error("fn called on a corrupt file"); return nil, nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("update of a corrupt file: %v", err)
	}
	if err := s.Delete(k); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Load(k); p != nil || err != nil {
		t.Errorf("after delete: %v, %v", p, err)
	}
	if err := s.Update(Key{Function: "a/b"}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad key: %v", err)
	}
}

func TestObserveBadKey(t *testing.T) {
	l := &Learner{Store: FileStore{Dir: t.TempDir()}}
	g := &provenance.Graph{Version: provenance.SchemaVersion, Function: ""}
	if _, err := l.Observe("v1", g, nil, true); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty function: %v", err)
	}
}

// A learner keeps armed profiles in memory, and sees an import at once.
func TestLearnerSeesImport(t *testing.T) {
	dir := t.TempDir()
	s := FileStore{Dir: dir}
	p, _ := learnt(t, 7)
	p.Key.Namespace = "openfaas-fn"
	if err := s.Update(p.Key, func(*Profile) (*Profile, error) { return p, nil }); err != nil {
		t.Fatal(err)
	}
	shell := traceGraphs(t, "shell.strace", fn)[0]
	l := &Learner{Store: s}
	for i := 0; i < 2; i++ { // the second from memory
		res, err := l.Observe(p.Key.Version, &shell, nil, true)
		if err != nil || len(res.Findings) == 0 {
			t.Fatalf("call %d: %+v, %v", i, res, err)
		}
	}
	// A person turns every dimension off and imports the profile.
	edited := *p
	edited.Dims = map[Dimension]*Dim{}
	for d, x := range p.Dims {
		c := *x
		c.Mode = ModeOff
		edited.Dims[d] = &c
	}
	edited.Counts = map[string]*Count{}
	if err := s.Update(p.Key, func(*Profile) (*Profile, error) { return &edited, nil }); err != nil {
		t.Fatal(err)
	}
	res, err := l.Observe(p.Key.Version, &shell, nil, true)
	if err != nil || len(res.Findings) != 0 {
		t.Fatalf("after import: %v, %v", rules(res.Findings), err)
	}
}

// Whatever a traced program names (control characters, invalid UTF-8,
// endless paths), the profile stores, reloads, exports and imports it.
func TestHostileNames(t *testing.T) {
	inv := invocations(nodeServer(t))[0]
	long := "/tmp/" + strings.Repeat("very-long-name/", 60) + "x.sh"
	p := New(Key{Function: fn, Version: "v1"}, Config{})
	for _, name := range []string{"/tmp/a\nb.sh", "/tmp/\xff\xfe.sh", "/tmp/\u2028.sh", long} {
		g := rewrite(inv, "/tmp/stcap/node-out.sh", name)
		g = withConnect(g, "not an address\x1b[31m", "")
		p.Learn(g)
	}
	s := FileStore{Dir: t.TempDir()}
	if err := s.Update(p.Key, func(*Profile) (*Profile, error) { return p, nil }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Export(&buf, []*Profile{got}, Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(&buf); err != nil {
		t.Fatal(err)
	}
	if !got.Dims[DimWrite].Known("/tmp/a?b.sh") {
		t.Error("control character not replaced")
	}
}

// TestFileStoreKeepsNewestVersions: every redeploy stores a new version's
// profile; the directory keeps only the newest KeepVersions of a function
// (by last update) and never touches another function's.
func TestFileStoreKeepsNewestVersions(t *testing.T) {
	s := FileStore{Dir: t.TempDir(), KeepVersions: 3}
	put := func(k Key, at time.Time) {
		t.Helper()
		if err := s.Update(k, func(*Profile) (*Profile, error) { return New(k, Config{}), nil }); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(s.path(k), at, at); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Unix(1_700_000_000, 0)
	other := Key{Function: "other", Version: "v1"}
	put(other, t0)
	version := func(i int) {
		put(Key{Function: "fn", Version: fmt.Sprintf("v%d", i)}, t0.Add(time.Duration(i)*time.Minute))
	}
	for i := 1; i <= 4; i++ {
		version(i) // v1 goes when v4 comes
	}
	// v2 is updated again (its pods still run): recently used, it stays.
	v2 := Key{Function: "fn", Version: "v2"}
	if err := s.Update(v2, func(p *Profile) (*Profile, error) {
		if p == nil {
			t.Fatal("v2 was collected too early")
		}
		return p, nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := 5; i <= 7; i++ {
		version(i)
	}
	keys, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.Function+"@"+k.Version)
	}
	if want := []string{"fn@v2", "fn@v6", "fn@v7", "other@v1"}; !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
}

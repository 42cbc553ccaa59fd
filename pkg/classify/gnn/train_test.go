package gnn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/faasmon/faasmon/pkg/verdict"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func synthExamples(t testing.TB, seed uint64, n int) []Example {
	rng := rand.New(rand.NewPCG(seed, 99))
	var ex []Example
	for i := 0; i < n; i++ {
		g := SyntheticGraph(rng, 20+rng.IntN(60), i%2 == 1)
		e, err := NewExample(g)
		if err != nil {
			t.Fatal(err)
		}
		ex = append(ex, e)
	}
	return ex
}

func smallConfig() TrainConfig {
	c := DefaultTrainConfig()
	c.Epochs, c.Hidden, c.HeadHidden, c.Patience, c.OneClassEpochs, c.MinPerFunction = 15, 16, 16, 5, 10, 10
	return c
}

var trained struct {
	m        *Model
	val      []Example
	duration time.Duration
}

func trainSmall(t *testing.T) (*Model, []Example) {
	t.Helper()
	if trained.m == nil {
		ex := synthExamples(t, 1, 240)
		tr, val := Split(ex, 0.2, 1)
		start := time.Now()
		var log bytes.Buffer
		cfg := smallConfig()
		cfg.Log = &log
		m, err := Train(cfg, tr, val)
		if err != nil {
			t.Fatal(err)
		}
		trained.m, trained.val, trained.duration = m, val, time.Since(start)
		t.Logf("training log:\n%s", log.String())
	}
	return trained.m, trained.val
}

// TestLearnsSynthetic: the dropper chain is learnt to a high F1 quickly.
func TestLearnsSynthetic(t *testing.T) {
	m, val := trainSmall(t)
	r := m.Evaluate(val)
	t.Logf("trained in %v; supervised %+v", trained.duration, r.Supervised)
	if r.OneClass != nil {
		t.Logf("one-class F1 %.3f AUC %.3f FPR %.3f; combined F1 %.3f FPR %.3f", r.OneClass.F1, r.OneClass.AUC, r.OneClass.FPR, r.Combined.F1, r.Combined.FPR)
	}
	if r.Supervised.F1 < 0.95 {
		t.Errorf("validation F1 %.3f < 0.95", r.Supervised.F1)
	}
	if r.Combined.F1 < 0.9 {
		t.Errorf("combined F1 %.3f < 0.9", r.Combined.F1)
	}
	if trained.duration > 10*time.Second {
		t.Errorf("training took %v > 10s", trained.duration)
	}
}

// TestOneClassFlagsUnseen: trained with no attack label at all, the
// one-class part still ranks dropper graphs above benign ones.
func TestOneClassFlagsUnseen(t *testing.T) {
	ex := synthExamples(t, 3, 200)
	var benign []Example
	for _, e := range ex {
		if e.Label == 0 {
			benign = append(benign, e)
		}
	}
	tr, _ := Split(benign, 0.2, 3)
	cfg := smallConfig()
	cfg.Epochs = 1 // supervised part is degenerate (one class): irrelevant here
	m, err := Train(cfg, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	test := synthExamples(t, 4, 100)
	r := m.Evaluate(test)
	t.Logf("one-class on unseen attacks: %+v", *r.OneClass)
	if float64(r.OneClass.AUC) < 0.9 {
		t.Errorf("one-class ROC AUC %.3f < 0.9 on an attack never seen", r.OneClass.AUC)
	}
}

// TestReproducible: two trainings with one seed give identical weights.
func TestReproducible(t *testing.T) {
	ex := synthExamples(t, 2, 80)
	tr, val := Split(ex, 0.2, 5)
	cfg := smallConfig()
	cfg.Epochs, cfg.OneClassEpochs = 4, 3
	a, err := Train(cfg, tr, val)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(cfg, tr, val)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Marshal()
	db, _ := b.Marshal()
	if !bytes.Equal(da, db) {
		t.Fatal("same seed, different model files")
	}
	cfg.Seed = 2
	c, _ := Train(cfg, tr, val)
	dc, _ := c.Marshal()
	if bytes.Equal(da, dc) {
		t.Fatal("different seeds, same model")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m, val := trainSmall(t)
	path := filepath.Join(t.TempDir(), "m.model")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	l, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Version() != m.Version() || !strings.HasPrefix(l.Version(), "f1-") {
		t.Fatalf("version %q vs %q", l.Version(), m.Version())
	}
	for _, e := range val[:20] {
		r1, err := m.Classify(e.Graph, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r2, _ := l.Classify(e.Graph, Options{})
		if r1.Score != r2.Score || r1.Verdict != r2.Verdict || r1.Anomaly != r2.Anomaly {
			t.Fatalf("loaded model differs: %+v vs %+v", r1, r2)
		}
	}
	d1, _ := m.Marshal()
	d2, _ := l.Marshal()
	if !bytes.Equal(d1, d2) {
		t.Fatal("re-encoding a loaded model changes it")
	}
}

func TestLoadRefuses(t *testing.T) {
	m, _ := trainSmall(t)
	good, _ := m.Marshal()
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	// rewrite payload and fix the checksum, to reach the checks behind it
	resum := func(b []byte) []byte {
		p := b[20 : len(b)-32]
		s := sha256Sum(p)
		copy(b[len(b)-32:], s[:])
		return b
	}
	hdrReplace := func(old, new string) []byte {
		return mut(func(b []byte) []byte {
			hl := binary.LittleEndian.Uint32(b[20:])
			h := string(b[24 : 24+hl])
			if !strings.Contains(h, old) {
				t.Fatalf("header lacks %q", old)
			}
			h = strings.Replace(h, old, new, 1)
			out := append([]byte(nil), b[:20]...)
			payload := binary.LittleEndian.AppendUint32(nil, uint32(len(h)))
			payload = append(payload, h...)
			payload = append(payload, b[24+hl:len(b)-32]...)
			binary.LittleEndian.PutUint64(out[12:], uint64(len(payload)))
			out = append(out, payload...)
			out = append(out, make([]byte, 32)...)
			return resum(out)
		})
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), "magic"},
		{"format", mut(func(b []byte) []byte { b[8] = 9; return b }), "format version 9"},
		{"truncated", good[:len(good)-100], "truncated"},
		{"bit flip", mut(func(b []byte) []byte { b[len(b)/2] ^= 1; return b }), "checksum"},
		{"schema", hdrReplace(`"feature_schema":1`, `"feature_schema":7`), "feature schema 7"},
		{"shape", hdrReplace(`"hidden":16`, `"hidden":17`), ""},
		{"nan weight", mut(func(b []byte) []byte {
			copy(b[len(b)-36:], []byte{0, 0, 0xc0, 0x7f})
			return resum(b)
		}), "not finite"},
	}
	for _, c := range cases {
		_, err := Unmarshal(c.data)
		if err == nil || !errors.Is(err, ErrBadModel) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want ErrBadModel containing %q", c.name, err, c.want)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	ex := synthExamples(f, 1, 20)
	cfg := smallConfig()
	cfg.Epochs, cfg.OneClassEpochs, cfg.Hidden, cfg.HeadHidden = 1, 1, 2, 2
	m, err := Train(cfg, ex, nil)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := m.Marshal()
	f.Add(good)
	f.Add(good[:100])
	f.Add([]byte("FAASMONM"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Unmarshal(data)
		if err == nil {
			// a model that loads must classify without panicking
			if _, err := m.Classify(ex[0].Graph, Options{}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestExplanation(t *testing.T) {
	m, _ := trainSmall(t)
	rng := rand.New(rand.NewPCG(42, 42))
	g := SyntheticGraph(rng, 60, true)
	r, err := m.Classify(g, Options{TopK: 5})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != verdict.Attack || r.Explanation == nil {
		t.Fatalf("%+v", r)
	}
	t.Logf("verdict %s score %.3f (sup %.3f, anomaly %.3g/τ %.3g) source %s", r.Verdict, r.Score, r.Supervised, r.Anomaly, r.AnomalyThreshold, r.Source)
	chain := map[string]bool{"203.0.113.7:4444": true, "/tmp/.x/p.sh": true, "sh /tmp/.x/p.sh": true, "node index.js": true}
	hits := 0
	for _, n := range r.Explanation.Nodes {
		t.Logf("node %3d %-8s %-40q %.4f", n.ID, n.Kind, n.Label, n.Weight)
		if chain[n.Label] {
			hits++
		}
	}
	for _, e := range r.Explanation.Edges {
		t.Logf("edge %-8s %q → %q %.4f", e.Kind, e.From, e.To, e.Weight)
		if chain[e.From] && chain[e.To] {
			hits++
		}
	}
	if len(r.Explanation.Nodes) == 0 || len(r.Explanation.Nodes) > 5 || len(r.Explanation.Edges) > 5 {
		t.Fatalf("explanation size: %d nodes, %d edges", len(r.Explanation.Nodes), len(r.Explanation.Edges))
	}
	if hits < 2 {
		t.Errorf("explanation names %d parts of the dropper chain", hits)
	}
}

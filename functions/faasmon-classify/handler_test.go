package function

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/faasmon/faasmon/pkg/fnhttp/fnhttptest"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/classify/gnn"
	"github.com/faasmon/faasmon/pkg/classify/gnn/gnntest"
	"github.com/faasmon/faasmon/pkg/fnhttp"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/hopauth/hoptest"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// setup trains a small model on synthetic graphs (seconds) so the handler
// runs a real model; the committed model is tested in pkg/classify/gnn and the lab.
func setup(t testing.TB) (modelPath string, attack *provenance.Graph) {
	t.Helper()
	m, rng := gnntest.SmallModel(t)
	p := filepath.Join(t.TempDir(), "m.model")
	if err := m.Save(p); err != nil {
		t.Fatal(err)
	}
	return p, gnn.SyntheticGraph(rng, 30, true)
}

func TestHandle(t *testing.T) {
	p, g := setup(t)
	t.Setenv("model_path", p)
	t.Setenv("profile_dir", t.TempDir())
	modelOnce, detOnce, detector = sync.Once{}, sync.Once{}, nil
	one, _ := json.Marshal(g)
	two, _ := json.Marshal([]*provenance.Graph{g, g})
	badVersion := *g
	badVersion.Version = 9
	bv, _ := json.Marshal(&badVersion)
	dangling := *g
	dangling.Edges = append([]provenance.Edge{{Src: 0, Dst: 99999, Kind: provenance.EdgeRead, Count: 1}}, g.Edges...)
	dg, _ := json.Marshal(&dangling)
	huge := provenance.Graph{Version: provenance.SchemaVersion, Nodes: make([]provenance.Node, maxNodes+1)}
	for i := range huge.Nodes {
		huge.Nodes[i] = provenance.Node{ID: i, Kind: provenance.NodeFile}
	}
	hg, _ := json.Marshal(&huge)
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		msg    string
	}{
		{"one graph", one, 200, `"verdict"`},
		{"a batch", two, 200, `[{"graph_id"`},
		{"not JSON", []byte("nope"), 400, "decode graph"},
		{"wrong schema version", bv, 400, "schema version 9"},
		{"edge to a missing node", dg, 400, "points outside"},
		// Too big is a 413 (issue 14), found before decoding.
		{"over the node limit", hg, 413, "limit 20000"},
		{"empty batch", []byte("[]"), 400, "want 1 to"},
		{"empty", nil, 400, "empty body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handle(rec, httptest.NewRequest("POST", "/", bytes.NewReader(tc.body)))
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.msg) {
				t.Fatalf("status %d body %.300s; want %d containing %q", rec.Code, rec.Body.String(), tc.status, tc.msg)
			}
		})
	}
	rec := httptest.NewRecorder()
	Handle(rec, httptest.NewRequest("POST", "/?graph=true", bytes.NewReader(one)))
	var v verdict.Verdict
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(); err != nil {
		t.Errorf("answer breaks the contract: %v", err)
	}
	if v.Explanation == nil || len(v.Explanation.Nodes) == 0 || v.ModelVersion == "" || v.GraphID != g.ID {
		t.Errorf("answer lacks explanation or identity: %+v", v)
	}
}

// TestHandleAuth: a graph signed by faasmon-graph gets a signed verdict
// (what faasmon-alert accepts); a direct, unsigned call gets an unsigned
// one and is never learnt into a profile; a graph with a bad, stale,
// retired-key or misdirected MAC is refused.
func TestHandleAuth(t *testing.T) {
	p, _ := setup(t)
	profiles := t.TempDir()
	t.Setenv("model_path", p)
	t.Setenv("profile_dir", profiles)
	t.Setenv("profile_learn_graphs", "1000")
	modelOnce, detOnce, detector = sync.Once{}, sync.Once{}, nil
	fnhttp.DefaultHop.Keys = hoptest.Source()
	benign := gnn.SyntheticGraph(rand.New(rand.NewPCG(5, 6)), 25, false)
	body, _ := json.Marshal(benign)
	// learnt sums the graphs learnt by every stored profile, once the
	// learner wrote what it batches (as on SIGTERM).
	learnt := func() int {
		if detector != nil && detector.Profiles != nil {
			if err := detector.Profiles.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		_ = filepath.WalkDir(profiles, func(path string, d os.DirEntry, _ error) error {
			if d != nil && !d.IsDir() {
				var p struct {
					Graphs int `json:"graphs"`
				}
				if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &p) == nil {
					n += p.Graphs
				}
			}
			return nil
		})
		return n
	}
	for _, way := range append([]hoptest.Way{hoptest.Unsigned, hoptest.Good}, hoptest.BadMAC, hoptest.Stale, hoptest.OldKey, hoptest.Altered, hoptest.WrongFor) {
		t.Run(string(way), func(t *testing.T) {
			before := learnt()
			req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
			hoptest.Sign(req.Header, hopauth.KindGraph, body, way)
			rec := httptest.NewRecorder()
			Handle(rec, req)
			want := hoptest.Status(way)
			if way == hoptest.Unsigned {
				want = 200 // the documented direct use
			}
			if rec.Code != want {
				t.Fatalf("status %d body %.300s; want %d", rec.Code, rec.Body.String(), want)
			}
			verr := hoptest.Keys.Verify(hopauth.KindVerdict, rec.Header(), rec.Body.Bytes(), time.Now(), 0)
			switch way {
			case hoptest.Good:
				if verr != nil {
					t.Errorf("verdict of a signed graph does not verify: %v", verr)
				}
				if learnt() == before {
					t.Errorf("a signed benign graph was not learnt")
				}
			case hoptest.Unsigned:
				if !errors.Is(verr, hopauth.ErrUnsigned) {
					t.Errorf("verdict of an unsigned graph is signed (%v): faasmon-alert would act on it", verr)
				}
				if learnt() != before {
					t.Errorf("an unsigned graph was learnt into a profile")
				}
			}
		})
	}
}

// FuzzHandle feeds arbitrary bodies to the handler: any answer but a panic
// or a 5xx is fine.
func FuzzHandle(f *testing.F) {
	p, _ := setup(f)
	m, err := gnn.LoadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Setenv("profile_dir", f.TempDir())
	modelOnce, detOnce, detector = sync.Once{}, sync.Once{}, nil
	modelOnce.Do(func() { model, modelErr = m, nil })
	f.Add([]byte(`{"version":1,"nodes":[{"id":0,"kind":"process"}],"edges":[{"src":0,"dst":0,"kind":"fork","count":1}]}`))
	f.Add([]byte(`[{"version":1,"nodes":[],"edges":[]}]`))
	f.Add([]byte(`{"version":1,"nodes":[{"id":0,"kind":"file","label":"\u0000"}],"edges":[{"src":0,"dst":-1}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		Handle(rec, httptest.NewRequest("POST", "/", bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
	})
}

func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // error substring, "" = ok
		dir  string
	}{
		{"defaults", nil, "", "/var/tmp/faasmon/profiles"},
		{"profiles off", map[string]string{"profile_dir": ""}, "", ""},
		{"bad count", map[string]string{"profile_learn_graphs": "many"}, "profile_learn_graphs", ""},
		{"bad duration", map[string]string{"profile_learn_for": "1 day"}, "profile_learn_for", ""},
		{"exceptions twice", map[string]string{"invariant_exceptions": "exceptions: []", "invariant_exceptions_file": "/x"}, "both set", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil || c.ProfileDir != tc.dir {
				t.Fatalf("%+v, %v", c, err)
			}
		})
	}
}

// TestOversizeRefusedBeforeDecoding: too many bytes (declared or not) and
// too many nodes within the byte limit are each a 413, and the handler
// allocates about the body at most — not the gigabyte that decoding a million
// nodes costs (issue 14).
func TestOversizeRefusedBeforeDecoding(t *testing.T) {
	p, _ := setup(t)
	t.Setenv("model_path", p)
	modelOnce = sync.Once{}
	nodes := fnhttptest.TinyNodes(1_000_000)
	if len(nodes) > maxBodyBytes {
		t.Fatalf("test body of %d bytes is over the byte limit; it must test the node count", len(nodes))
	}
	for _, c := range []struct {
		name     string
		body     func() io.Reader
		length   int64
		maxAlloc uint64
	}{
		{"32 MiB declared", func() io.Reader { return &fnhttptest.Endless{N: 32 << 20} }, 32 << 20, 1 << 20},
		{"32 MiB chunked", func() io.Reader { return &fnhttptest.Endless{N: 32 << 20} }, -1, 3 * maxBodyBytes},
		{"1 M nodes under the byte limit", func() io.Reader { return bytes.NewReader(nodes) }, int64(len(nodes)), uint64(len(nodes)) + 1<<20},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", c.body())
			req.ContentLength = c.length
			w := httptest.NewRecorder()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			Handle(w, req)
			runtime.ReadMemStats(&after)
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d (%s), want 413", w.Code, w.Body.String())
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > c.maxAlloc {
				t.Errorf("allocated %d bytes refusing it, bound %d", got, c.maxAlloc)
			} else {
				t.Logf("refused with %d bytes allocated: %s", got, strings.TrimSpace(w.Body.String()))
			}
		})
	}
}

// TestLoadConfigOutbox: the outbox channel's key is snake_case now; the
// upper-case name it had is still read for one release, and the new one
// wins.
func TestLoadConfigOutbox(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unset: off", nil, ""},
		{"new name", map[string]string{"faasmon_outbox": "faasmon-outbox"}, "faasmon-outbox"},
		{"old name, still read", map[string]string{"FAASMON_OUTBOX": "old-outbox"}, "old-outbox"},
		{"new wins", map[string]string{"faasmon_outbox": "new", "FAASMON_OUTBOX": "old"}, "new"},
		{"new set empty turns it off", map[string]string{"faasmon_outbox": "", "FAASMON_OUTBOX": "old"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if err != nil || c.Outbox != tc.want {
				t.Errorf("outbox %q %v, want %q", c.Outbox, err, tc.want)
			}
		})
	}
}

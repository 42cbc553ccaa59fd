package provenance

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
)

// TestCollect: states of containers gone quiet for longer than keep are
// removed with their lock files, a state in use or recent is not, and
// everything the store and the archive write is private to the detector.
func TestCollect(t *testing.T) {
	now := time.Now()
	old := now.Add(-48 * time.Hour)
	cases := []struct {
		name   string
		age    time.Time
		locked bool
		kept   bool
	}{
		{"recent", now.Add(-time.Hour), false, true},
		{"old", old, false, false},
		{"old but in use", old, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := FileStore{Dir: t.TempDir()}
			h := hdr(chunk.KindStrace, "c1-strace-1", 0)
			key := StateKey(h)
			if err := fs.Update(key, func(*State) (*State, error) { return NewState(h), nil }); err != nil {
				t.Fatal(err)
			}
			p := fs.path(key)
			for _, f := range []string{p, p + ".lock"} {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v", filepath.Base(f), fi.Mode())
				}
				os.Chtimes(f, c.age, c.age)
			}
			os.WriteFile(p+".tmp", nil, 0o600) // a killed writer's
			os.Chtimes(p+".tmp", old, old)
			if c.locked {
				l, err := lockFile(p+".lock", syscall.LOCK_EX)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
			}
			n, err := fs.Collect(24*time.Hour, now)
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(p)
			_, lockErr := os.Stat(p + ".lock")
			if kept := statErr == nil; kept != c.kept || (lockErr == nil) != c.kept || (n == 1) == c.kept {
				t.Errorf("state kept %v (lock %v), removed %d; want kept %v", kept, lockErr == nil, n, c.kept)
			}
			if _, err := os.Stat(p + ".tmp"); err == nil {
				t.Error("old temporary file left")
			}
			// The store works on after a collection.
			if !c.locked {
				if err := fs.Update(key, func(st *State) (*State, error) {
					if st == nil {
						st = NewState(h)
					}
					return st, nil
				}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestArchivePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "graphs")
	g := &Graph{Version: SchemaVersion, ID: "ns.fn.c/call", Function: "fn", Window: WindowInvocation, Nodes: []Node{}, Edges: []Edge{}}
	p, err := Archive(dir, g)
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]os.FileMode{dir: 0o700, p: 0o600} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", f, fi.Mode(), err, want)
		}
	}
}

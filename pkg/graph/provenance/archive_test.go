package provenance

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPruneArchive(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now()
	for i := range 5 {
		p, err := Archive(dir, &Graph{Version: 1, ID: fmt.Sprintf("g-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, t0, t0.Add(time.Duration(i)*time.Second))
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
	n, err := PruneArchive(dir, 3)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2", n, err)
	}
	for i, want := range []bool{false, false, true, true, true} {
		_, err := os.Stat(filepath.Join(dir, FileName(fmt.Sprintf("g-%d", i))))
		if (err == nil) != want {
			t.Errorf("g-%d kept=%v, want %v", i, err == nil, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Error("pruned a file that is not a graph")
	}
	if _, err := PruneArchive(filepath.Join(dir, "missing"), 3); err == nil {
		t.Error("no error for a missing directory")
	}
}

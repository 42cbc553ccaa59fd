package strace

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func testdataFiles(t testing.TB) []string {
	files, err := filepath.Glob("testdata/*.strace")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	return files
}

// TestTestdataNoUnparsed parses every captured trace: no line may fail.
func TestTestdataNoUnparsed(t *testing.T) {
	for _, f := range testdataFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			evs, errs, unparsed := ParseBytes(data, -1)
			for _, e := range errs {
				t.Error(e)
			}
			if unparsed != 0 {
				t.Errorf("%d unparsed lines", unparsed)
			}
			if len(evs) == 0 {
				t.Error("no events")
			}
			if os.Getenv("STRACE_DUMP") != "" {
				enc := json.NewEncoder(os.Stdout)
				for _, ev := range evs {
					enc.Encode(ev)
				}
			}
		})
	}
}

func readFile(t testing.TB, f string) []byte {
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

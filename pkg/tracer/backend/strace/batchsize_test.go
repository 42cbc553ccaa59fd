package strace_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
	"github.com/faasmon/faasmon/pkg/parse/strace"
	stracebe "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
)

// TestStraceChunksFitTheQueue takes the real captures of pkg/parse/strace
// (repeated to fill many chunks) through the tracer's path — scrubber,
// StraceUnit, a Cutter with the strace bounds — and faasmon-parse's: every
// event batch must fit the queue's limit, or faasmon-graph never gets it.
// Without the line bound (ChunkLines) the scrubbed lines of a Go
// server's trace made 410 KB batches of 256 KB chunks.
func TestStraceChunksFitTheQueue(t *testing.T) {
	files, err := filepath.Glob("../../../parse/strace/testdata/*.strace")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	var raw []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	// Many short lines: the dense case (reads whose data the scrubber drops).
	dense := bytes.Repeat([]byte(`9091 1795430166.308680 read(4<pipe:[14248]>, "x", 1) = 1`+"\n"), 5000)
	for name, data := range map[string][]byte{"captures x8": bytes.Repeat(raw, 8), "short reads": dense} {
		t.Run(name, func(t *testing.T) {
			meta := chunk.Header{Node: "n1", Function: "f", Container: "c1", PID: 1, Kind: chunk.KindStrace, Stream: "s"}
			var chunks []chunker.Chunk
			cut := chunker.NewCutter(stracebe.Chunking(chunker.Config{MaxAge: time.Hour, Quiet: time.Hour}), meta, func(c chunker.Chunk) { chunks = append(chunks, c) })
			now := time.Now()
			_ = stracebe.Read(bytes.NewReader(data), cut.Room(), strace.NewScrubber(), func(u chunker.Unit) { cut.Add(u, now) })
			cut.Flush()
			largest := 0
			for _, c := range chunks {
				b, err := ingest.Chunk(c.Header, c.Body)
				if err != nil {
					t.Fatal(err)
				}
				js, _ := json.Marshal(b)
				largest = max(largest, len(js))
				if len(js) > chunk.MaxBytes {
					t.Errorf("chunk %d (%d bytes) gives a %d-byte batch of %d events, over the queue's %d", c.Header.Seq, len(c.Body), len(js), len(b.Events), chunk.MaxBytes)
				}
			}
			t.Logf("%d chunks, largest batch %d bytes", len(chunks), largest)
		})
	}
}

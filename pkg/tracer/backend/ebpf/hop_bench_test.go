package ebpf_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
	"github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
)

// BenchmarkParseHop splits what faasmon-parse's handler does with one
// eBPF chunk besides HTTP into its steps, over the recorded chunks in
// testdata/trace: verify the hop MAC over the body, ingest.Chunk (the
// backend's Parse), marshal the batch, sign it for the next hop. It shows
// which of them is left to cut once the lines are read without
// encoding/json (BENCHMARKS.md, "What the detector costs").
func BenchmarkParseHop(b *testing.B) {
	files, err := filepath.Glob("testdata/trace/*.ndjson")
	if err != nil || len(files) == 0 {
		b.Fatalf("no recorded chunks: %v", err)
	}
	kr := hopauth.NewKeyring(hopauth.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")})
	h := chunk.Header{Kind: ebpf.Kind, Function: "node-record", Node: "n1", Container: "c1", Stream: "s", Start: time.Now()}
	type step struct {
		body, data []byte
		batch      event.Batch
		hdr        http.Header
	}
	var steps []step
	size := 0
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		hdr := http.Header{}
		if err := kr.Sign(hopauth.KindChunk, hdr, body, time.Now()); err != nil {
			b.Fatal(err)
		}
		batch, err := ingest.Chunk(h, body)
		if err != nil {
			b.Fatal(err)
		}
		data, err := json.Marshal(batch)
		if err != nil {
			b.Fatal(err)
		}
		steps = append(steps, step{body, data, batch, hdr})
		size += len(body)
	}
	run := func(name string, f func(s step) error) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			cpu := ebpf.CPUTime()
			for b.Loop() {
				for _, s := range steps {
					if err := f(s); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(ebpf.CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
	run("verify", func(s step) error {
		return kr.Verify(hopauth.KindChunk, s.hdr, s.body, time.Now(), time.Hour)
	})
	run("ingest", func(s step) error {
		_, err := ingest.Chunk(h, s.body)
		return err
	})
	run("marshal", func(s step) error {
		_, err := json.Marshal(s.batch)
		return err
	})
	run("sign", func(s step) error {
		return kr.Sign(hopauth.KindEvents, http.Header{}, s.data, time.Now())
	})
}

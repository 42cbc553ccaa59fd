package strace

import (
	"bytes"
	"testing"

	"github.com/faasmon/faasmon/pkg/event"
)

func benchData(b *testing.B) ([]byte, int) {
	var all []byte
	for _, f := range testdataFiles(b) {
		all = append(all, readFile(b, f)...)
	}
	return all, bytes.Count(all, []byte("\n"))
}

// BenchmarkParse parses all testdata as one chunk in memory (what
// faasmon-parse does with a request body).
func BenchmarkParse(b *testing.B) {
	data, lines := benchData(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	p := NewParser()
	dst := make([]event.Event, 0, lines+1)
	b.ResetTimer()
	for b.Loop() {
		dst, _, _ = p.ParseChunk(dst[:0], data, 10)
		p.Flush()
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkParseBytes is the one-shot API: a fresh Parser (empty intern
// table) and a fresh event slice per chunk.
func BenchmarkParseBytes(b *testing.B) {
	data, lines := benchData(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		ParseBytes(data, 10)
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkParseReader is Parse over an io.Reader.
func BenchmarkParseReader(b *testing.B) {
	data, lines := benchData(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		Parse(bytes.NewReader(data), 10)
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkLineScan is the limit: find every line with bytes.IndexByte.
func BenchmarkLineScan(b *testing.B) {
	data, lines := benchData(b)
	b.SetBytes(int64(len(data)))
	n := 0
	for b.Loop() {
		for d := data; len(d) > 0; n++ {
			i := bytes.IndexByte(d, '\n')
			if i < 0 {
				break
			}
			d = d[i+1:]
		}
	}
	if n == 0 {
		b.Fatal("no lines")
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkScrub runs the tracer's Scrubber over all testdata line by line
// (what the tracer does to every strace line before it joins a chunk).
func BenchmarkScrub(b *testing.B) {
	data, lines := benchData(b)
	ls := bytes.SplitAfter(data, []byte("\n"))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		s := NewScrubber()
		for _, l := range ls {
			dst = s.Line(dst[:0], l)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

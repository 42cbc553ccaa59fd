package strace

import (
	"bytes"
	"strings"
	"testing"
)

// seedLines adds every distinct line form of the testdata (first 400 lines
// of each file) to a fuzz corpus.
func seedLines(f *testing.F) {
	for _, name := range testdataFiles(f) {
		data := readFile(f, name)
		for i, l := range bytes.Split(data, []byte("\n")) {
			if i >= 400 {
				break
			}
			f.Add(l)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	seedLines(f)
	f.Add([]byte(`31 1795430166.302528 read(4</x>,  <unfinished ...>`))
	f.Add([]byte(`[pid  9091] 1795430166.302528 read(27<pipe:[14298]>, strace: Process 9121 attached`))
	f.Fuzz(func(t *testing.T, line []byte) {
		p := NewParser()
		// Feed the line twice (the second may resume the first) and once
		// more as a resumed half, then flush: nothing may panic.
		for i := 0; i < 2; i++ {
			ev, ok, err := p.ParseLine(line, i+1)
			if err != nil && ok {
				t.Fatalf("ok with error %v", err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "parse strace line ") {
				t.Fatalf("error format: %v", err)
			}
			_ = ev
		}
		p.Flush()
		if p.Pending() != 0 {
			t.Fatal("pending after flush")
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, name := range testdataFiles(f) {
		data := readFile(f, name)
		if len(data) > 8<<10 {
			// A window of each file keeps the corpus fast to mutate.
			cut := bytes.IndexByte(data[4<<10:], '\n')
			data = data[:4<<10+cut+1]
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, errs, unparsed := ParseBytes(data, 5)
		evs2, errs2, unparsed2, err := Parse(bytes.NewReader(data), 5)
		if err != nil {
			t.Fatal(err)
		}
		if unparsed != unparsed2 || len(evs) != len(evs2) || len(errs) != len(errs2) {
			t.Fatalf("bytes %d/%d, reader %d/%d", len(evs), unparsed, len(evs2), unparsed2)
		}
		if len(errs) > 5 || unparsed < len(errs) {
			t.Fatalf("errs %d unparsed %d", len(errs), unparsed)
		}
		if n := bytes.Count(data, []byte("\n")) + 1; len(evs)+unparsed > n+MaxPending {
			t.Fatalf("%d events+errors from %d lines", len(evs)+unparsed, n)
		}
	})
}

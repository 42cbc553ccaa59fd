package strace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/faasmon/faasmon/pkg/event"
)

// Parse reads a whole strace stream (one chunk) and returns its events in
// output order (a joined call appears where its resumed half was printed,
// timed at its start), then the calls left unfinished at the end (see
// Flush).
//
// Why this shape: a chunk is parsed alone and must never be refused for its
// content, so bad lines do not stop the parse. unparsed counts every line
// that failed; errs keeps only the first maxErrs of them (each "parse
// strace line N: ...") because a garbage chunk could otherwise produce a
// million error values; err is reserved for the reader failing. A
// negative maxErrs keeps every error. Lines longer than MaxLineLen are
// skipped (and counted) without being held in memory.
//
// When the chunk is already in memory, ParseBytes is faster (no copy).
func Parse(r io.Reader, maxErrs int) (events []event.Event, errs []error, unparsed int, err error) {
	p := NewParser()
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	tooLong := false
	lineNo := 0
	for {
		line, rerr := br.ReadSlice('\n')
		if rerr == bufio.ErrBufferFull {
			if !tooLong {
				if len(long)+len(line) > MaxLineLen {
					tooLong, long = true, long[:0]
				} else {
					long = append(long, line...)
				}
			}
			continue
		}
		if len(long) > 0 || tooLong {
			if !tooLong {
				long = append(long, line...)
				line = long
			}
		}
		if len(line) > 0 || rerr == nil {
			lineNo++
			var ev event.Event
			var ok bool
			var perr error
			if tooLong {
				p.stats.Lines++
				p.stats.Unparsed++
				perr = fmt.Errorf("parse strace line %d: %w", lineNo, ErrLineTooLong)
			} else {
				ev, ok, perr = p.ParseLine(line, lineNo)
			}
			if perr != nil {
				unparsed++
				if maxErrs < 0 || len(errs) < maxErrs {
					errs = append(errs, perr)
				}
			} else if ok {
				events = append(events, ev)
			}
			long, tooLong = long[:0], false
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
	}
	events = append(events, p.Flush()...)
	return events, errs, unparsed, err
}

// ParseBytes is Parse over a chunk in memory, without copying lines.
func ParseBytes(data []byte, maxErrs int) (events []event.Event, errs []error, unparsed int) {
	p := NewParser()
	events = make([]event.Event, 0, bytes.Count(data, []byte{'\n'})+1)
	events, errs, unparsed = p.ParseChunk(events, data, maxErrs)
	events = append(events, p.Flush()...)
	return events, errs, unparsed
}

// ParseChunk parses every line of data with p's state, appending events to
// dst; it does not Flush, so a caller feeding consecutive pieces of one
// stream keeps unfinished calls across them. Line numbers restart at 1.
func (p *Parser) ParseChunk(dst []event.Event, data []byte, maxErrs int) ([]event.Event, []error, int) {
	var errs []error
	unparsed := 0
	lineNo := 0
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		lineNo++
		ev, ok, err := p.ParseLine(line, lineNo)
		if err != nil {
			unparsed++
			if maxErrs < 0 || len(errs) < maxErrs {
				errs = append(errs, err)
			}
			continue
		}
		if ok {
			dst = append(dst, ev)
		}
	}
	return dst, errs, unparsed
}

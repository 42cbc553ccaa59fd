package ebpf

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
)

// This file is faasmon-parse's side of the sensor: a chunk's event lines,
// as event.AppendLine writes them, read by event.ReadLine (the Event
// contract's line reader, pkg/event/lineread.go) or, for any line it does
// not take, by encoding/json as before (event.UnmarshalLine).
// encoding/json over those lines was 12% of faasmon-parse's CPU and most
// of its allocation (issue 15, BENCHMARKS.md "What the detector costs");
// FuzzParseLines holds parseLines to the Parse before the reader.

// minLine is the shortest line that can hold an event valid() accepts
// (`{"k":"exit","pid":1}`): it bounds how many events a body can yield, so
// the events slice can be sized once without trusting the line count (at
// most 12,801 events, 4.0 MB, for chunk.MaxBytes: what a body of such
// lines needs anyway, and allocated only once a line is an event).
const minLine = len(`{"k":"exit","pid":1}`)

// parseLines is Parse: the chunk is cut into lines as bufio.Scanner with
// ScanLines and a maxLine buffer cut it (same line numbers, same
// ErrTooLong), each line read by event.ReadLine or, failing that, by
// encoding/json, and checked by valid.
func parseLines(body []byte) (backend.Parsed, error) {
	var out backend.Parsed
	if len(body) == 0 {
		return out, fmt.Errorf("%w: empty body", backend.ErrInput)
	}
	if len(body) > chunk.MaxBytes {
		return out, fmt.Errorf("%w: %d bytes, limit %d", backend.ErrInput, len(body), chunk.MaxBytes)
	}
	// One copy of the body: the strings of the events event.ReadLine
	// accepts are substrings of it instead of one allocation each. It
	// lives as long as any of the chunk's events does (faasmon-parse
	// encodes the batch and drops it), and is bounded by chunk.MaxBytes.
	text := string(body)
	n := bytes.Count(body, []byte{'\n'}) + 1
	if most := len(body)/minLine + 1; n > most {
		n = most
	}
	line := 0
	fail := func(err error) {
		out.Unparsed++
		if len(out.Errors) < 8 {
			out.Errors = append(out.Errors, fmt.Sprintf("line %d: %v", line, err))
		}
	}
	for off := 0; off < len(body); {
		end, next := len(body), len(body)
		if i := bytes.IndexByte(body[off:], '\n'); i >= 0 {
			end, next = off+i, off+i+1
		}
		// bufio.Scanner with a maxLine buffer fails on a line that does not
		// fit the buffer with room for its newline, with or without one.
		if end-off >= maxLine {
			return out, fmt.Errorf("%w: line %d: %v", backend.ErrInput, line+1, bufio.ErrTooLong)
		}
		line++
		// ScanLines drops a final '\r'; TrimSpace would trim it anyway.
		s := strings.TrimSpace(text[off:end])
		l := bytes.TrimSpace(body[off:end])
		off = next
		if len(s) == 0 {
			continue
		}
		var ev event.Event
		if !event.ReadLine(s, &ev) {
			// Not through &ev: encoding/json would make every line's ev
			// escape to the heap, the fast path's too.
			var err error
			if ev, err = jsonEvent(l); err != nil {
				fail(err)
				continue
			}
		}
		if err := valid(ev); err != nil {
			fail(err)
			continue
		}
		if out.Events == nil {
			// Allocated at the first event, not before: a chunk without
			// one keeps a nil slice (a batch's "events":null, as before).
			out.Events = make([]event.Event, 0, n)
		}
		out.Events = append(out.Events, ev)
	}
	if len(out.Events) == 0 && out.Unparsed > 0 {
		return out, fmt.Errorf("%w: no event line could be read (%d unparsed; first: %s)", backend.ErrInput, out.Unparsed, out.Errors[0])
	}
	return out, nil
}

// jsonEvent is event.UnmarshalLine into a new Event.
func jsonEvent(l []byte) (event.Event, error) {
	var ev event.Event
	err := event.UnmarshalLine(l, &ev)
	return ev, err
}

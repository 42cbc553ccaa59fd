package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"

	"github.com/faasmon/faasmon/pkg/chunk"
)

// The two wire forms of a Batch, told apart by the body's Content-Type:
//
//   - BatchContentType (what faasmon-parse sends): AppendBatch's lines,
//     one JSON object with everything of the Batch but its events and
//     their count ("n"), then one AppendLine line per event;
//   - anything else: the Batch as one JSON document (encoding/json), as
//     faasmon-parse sent it before and as people and tests post it.
//
// Both carry SchemaVersion, which is not bumped: the version says what the
// fields mean, and they mean the same in either form; the form is how they
// are framed, which the content type says. A version-1 JSON body posted by
// hand or by an older faasmon-parse is read as before, and the version
// check of the reader stays one comparison.
//
// The content type is not covered by the hop MAC (pkg/hopauth signs the
// body and the X-Faasmon-* headers), and need not be: a body that both
// forms read gives the same Batch in both (FuzzDecodeBatch checks it), so
// changing the content type of a signed body can only make it unreadable.

// BatchContentType is the content type of AppendBatch's form.
const BatchContentType = "application/x-ndjson"

// batchHead is the first line of AppendBatch's form: Batch without its
// events, and how many event lines follow.
type batchHead struct {
	Version  int          `json:"version"`
	Chunk    chunk.Header `json:"chunk"`
	Events   int          `json:"n"`
	Unparsed int          `json:"unparsed,omitempty"`
	Errors   []string     `json:"errors,omitempty"`
}

// minEventLine is the shortest line AppendLine writes
// ({"k":"","t":"0001-01-01T00:00:00Z"} and its newline): DecodeBatch
// refuses a head that promises more events than the body has room for,
// before it allocates them, so that the events slice is at most
// 312/36 = 8.7 times the body, 9.7 with the body's copy
// (TestDecodeBatchMemory); a JSON body of "events":[{},{},…] costs
// encoding/json at least 104 times its size.
const minEventLine = len(`{"k":"","t":"0001-01-01T00:00:00Z"}` + "\n")

// AppendBatch appends b in BatchContentType's form. It fails where
// json.Marshal(b) fails (a time RFC 3339 cannot write, see TimeErr).
func AppendBatch(dst []byte, b *Batch) ([]byte, error) {
	head, err := json.Marshal(batchHead{Version: b.Version, Chunk: b.Chunk, Events: len(b.Events), Unparsed: b.Unparsed, Errors: b.Errors})
	if err != nil {
		return dst, fmt.Errorf("encode event batch: %w", err)
	}
	dst = append(dst, head...)
	dst = append(dst, '\n')
	for i := range b.Events {
		e := &b.Events[i]
		if TimeErr(e) {
			return dst, fmt.Errorf("encode event batch: event %d: a time outside what RFC 3339 can write (%v)", i, e.Time)
		}
		dst = AppendLine(dst, e)
	}
	return dst, nil
}

// DecodeBatch reads a body in BatchContentType's form: exactly the head
// line and as many event lines as it says, each ending in '\n', nothing
// else. Event lines are read by ReadLine or, failing that, by encoding/json
// (strictly: an unknown field is an error), as ParseLine reads them; the
// events' strings share one copy of the body. It does not check the
// version: the caller refuses a batch of another SchemaVersion.
//
// The body is untrusted: its size is the caller's bound (fnhttp.ReadBody),
// and nothing here allocates more than a fixed multiple of it, whatever
// the head says; no input panics (FuzzDecodeBatch).
func DecodeBatch(body []byte) (Batch, error) {
	var b Batch
	nl := bytes.IndexByte(body, '\n')
	if nl < 0 {
		return b, errors.New("no head line")
	}
	var head batchHead
	dec := json.NewDecoder(bytes.NewReader(body[:nl]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&head); err != nil {
		return b, fmt.Errorf("head line: %w", err)
	}
	if dec.More() {
		return b, errors.New("head line: trailing data")
	}
	b.Version, b.Chunk, b.Unparsed, b.Errors = head.Version, head.Chunk, head.Unparsed, head.Errors
	rest := body[nl+1:]
	n := head.Events
	switch {
	case n < 0 || n > len(rest)/minEventLine:
		return b, fmt.Errorf("head says %d events, the body has room for at most %d", n, len(rest)/minEventLine)
	case bytes.Count(rest, []byte{'\n'}) != n:
		return b, fmt.Errorf("head says %d events, the body has %d lines after it", n, bytes.Count(rest, []byte{'\n'}))
	case len(rest) > 0 && rest[len(rest)-1] != '\n':
		return b, errors.New("last line is not terminated")
	case n == 0:
		return b, nil
	}
	// One copy: the strings ReadLine returns are substrings of it, not
	// one allocation each.
	text := string(rest)
	b.Events = make([]Event, n)
	for i, off := 0, 0; i < n; i++ {
		end := off + bytes.IndexByte(rest[off:], '\n')
		// ParseLine, into the slice: an Event copied is 312 bytes and a
		// write barrier per pointer.
		e, s := &b.Events[i], text[off:end]
		if !ReadLine(s, e) {
			*e = Event{}
			if err := UnmarshalLine([]byte(s), e); err != nil {
				return Batch{}, fmt.Errorf("event %d (line %d): %w", i, i+2, err)
			}
		}
		off = end + 1
	}
	return b, nil
}

// UnmarshalBatch reads a body of the form contentType names: DecodeBatch
// for BatchContentType, encoding/json for anything else (the form every
// batch had before, what people post with curl; its errors are
// encoding/json's, as before).
func UnmarshalBatch(contentType string, body []byte) (Batch, error) {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && mt == BatchContentType {
		return DecodeBatch(body)
	}
	var b Batch
	err := json.Unmarshal(body, &b)
	return b, err
}

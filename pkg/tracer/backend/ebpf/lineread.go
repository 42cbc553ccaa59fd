package ebpf

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
)

// This file is faasmon-parse's side of line.go: a reader for the event
// lines as appendLine writes them. encoding/json over those lines was 12% of
// faasmon-parse's CPU and most of its allocation (issue 15, BENCHMARKS.md
// "What the detector costs"): a Decoder, its buffer and reflection per line.
//
// The body is untrusted, so the reader only ever says "this line is
// exactly what encoding/json would make of it" or "not mine": it accepts
// the canonical form (no whitespace, known keys spelt exactly, each at most
// once, integers without fraction or exponent that fit their field, strings
// of valid UTF-8 with the simple escapes) and hands every other line to
// encoding/json unchanged. Errors therefore always come from encoding/json,
// the same as before; FuzzReadLine holds the two to the same Event.

// minLine is the shortest line that can hold an event valid() accepts
// (`{"k":"exit","pid":1}`): it bounds how many events a body can yield, so
// the events slice can be sized once without trusting the line count (at
// most 12,801 events, 4.0 MB, for chunk.MaxBytes: what a body of such
// lines needs anyway, and allocated only once a line is an event).
const minLine = len(`{"k":"exit","pid":1}`)

// parseLines is Parse: the chunk is cut into lines as bufio.Scanner with
// ScanLines and a maxLine buffer cut it (same line numbers, same
// ErrTooLong), each line read by readLine or, failing that, by
// encoding/json, and checked by valid.
func parseLines(body []byte) (backend.Parsed, error) {
	var out backend.Parsed
	if len(body) == 0 {
		return out, fmt.Errorf("%w: empty body", backend.ErrInput)
	}
	if len(body) > chunk.MaxBytes {
		return out, fmt.Errorf("%w: %d bytes, limit %d", backend.ErrInput, len(body), chunk.MaxBytes)
	}
	// One copy of the body: the strings of the events readLine accepts are
	// substrings of it instead of one allocation each. It lives as long as
	// any of the chunk's events does (faasmon-parse marshals the batch and
	// drops it), and is bounded by chunk.MaxBytes.
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
		if !readLine(s, &ev) {
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

// jsonEvent is decodeJSON into a new Event.
func jsonEvent(l []byte) (event.Event, error) {
	var ev event.Event
	err := decodeJSON(l, &ev)
	return ev, err
}

// decodeJSON is how every line was read before readLine, and still how
// the lines readLine does not take are: strictly, one document per line.
func decodeJSON(l []byte, ev *event.Event) error {
	dec := json.NewDecoder(bytes.NewReader(l))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ev); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the event")
	}
	return nil
}

// Fields of event.Event readLine knows, one bit each so that a key seen
// twice (encoding/json keeps the last) is not the fast path's.
const (
	fK = 1 << iota
	fT
	fPID
	fSC
	fRet
	fThread
	fTarget
	fErrno
	fFD
	fPath
	fPath2
	fArgv
	fFlags
	fMode
	fProto
	fLocal
	fRemote
	fBytes
	fSig
	fExit
	fCallID
)

// readLine reads s, one trimmed line, into the zero Event ev and says
// whether it did. When it says false ev is garbage and the line must go to
// encoding/json; when it says true ev is what encoding/json (with
// DisallowUnknownFields) would have decoded, and s was a valid JSON
// document with nothing after it. Strings in ev are substrings of s.
//
// It accepts any order of the keys (appendLine's is fixed, but nothing
// depends on it) and leaves out nothing but the cases it does not decode:
// whitespace between tokens, null, false, fractions and exponents, numbers
// of more than 18 digits or out of their field's range, invalid UTF-8,
// surrogate escapes, a key with an escape or in another case, the pcap
// fields (flow, http, dns) this sensor never writes.
func readLine(s string, ev *event.Event) bool {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return false
	}
	i := 1
	if s[i] == '}' {
		return i == len(s)-1
	}
	seen := 0
	for {
		// "key":
		if s[i] != '"' {
			return false
		}
		j := strings.IndexByte(s[i+1:], '"')
		if j < 0 {
			return false
		}
		key := s[i+1 : i+1+j]
		i += j + 2
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i++
		var bit int
		var ok bool
		switch key {
		case "k":
			bit = fK
			var v string
			v, i, ok = readString(s, i)
			ev.Kind = event.Kind(v)
		case "t":
			bit = fT
			i, ok = readTime(s, i, ev)
		case "pid":
			bit = fPID
			ev.PID, i, ok = readInt(s, i)
		case "sc":
			bit = fSC
			ev.Syscall, i, ok = readString(s, i)
		case "ret":
			bit = fRet
			ev.Ret, i, ok = readInt64(s, i)
		case "thread":
			bit = fThread
			ok = strings.HasPrefix(s[i:], "true")
			ev.Thread = ok
			i += len("true")
		case "target":
			bit = fTarget
			ev.Target, i, ok = readInt(s, i)
		case "errno":
			bit = fErrno
			ev.Errno, i, ok = readString(s, i)
		case "fd":
			bit = fFD
			ev.FD, i, ok = readInt(s, i)
		case "path":
			bit = fPath
			ev.Path, i, ok = readString(s, i)
		case "path2":
			bit = fPath2
			ev.Path2, i, ok = readString(s, i)
		case "argv":
			bit = fArgv
			ev.Argv, i, ok = readStrings(s, i)
		case "flags":
			bit = fFlags
			ev.Flags, i, ok = readString(s, i)
		case "mode":
			bit = fMode
			// encoding/json reads a uint with ParseUint: no sign at all,
			// not even "-0".
			if i < len(s) && s[i] != '-' {
				var v int64
				v, i, ok = readInt64(s, i)
				ok = ok && v <= math.MaxUint32
				ev.Mode = uint32(v)
			}
		case "proto":
			bit = fProto
			ev.Proto, i, ok = readString(s, i)
		case "local":
			bit = fLocal
			ev.Local, i, ok = readString(s, i)
		case "remote":
			bit = fRemote
			ev.Remote, i, ok = readString(s, i)
		case "bytes":
			bit = fBytes
			ev.Bytes, i, ok = readInt64(s, i)
		case "sig":
			bit = fSig
			ev.Signal, i, ok = readString(s, i)
		case "exit":
			bit = fExit
			ev.ExitCode, i, ok = readInt(s, i)
		case "call_id":
			bit = fCallID
			ev.CallID, i, ok = readString(s, i)
		}
		if !ok || seen&bit != 0 || i >= len(s) {
			return false
		}
		seen |= bit
		switch s[i] {
		case ',':
			i++
		case '}':
			return i == len(s)-1
		default:
			return false
		}
	}
}

// readTime reads a JSON string at s[i] into ev.Time with time.Time's own
// UnmarshalJSON, what encoding/json calls with the raw literal (quotes
// included, escapes not undone: so a string with any, or with a byte a
// JSON string may not hold raw, is not the fast path's).
func readTime(s string, i int, ev *event.Event) (int, bool) {
	if i >= len(s) || s[i] != '"' {
		return i, false
	}
	j := i + 1
	for ; j < len(s) && s[j] != '"'; j++ {
		if c := s[j]; c < 0x20 || c >= utf8.RuneSelf || c == '\\' {
			return i, false
		}
	}
	if j >= len(s) {
		return i, false
	}
	// A time string is at most a few dozen bytes: the copy stays on the
	// stack.
	var buf [64]byte
	if j+1-i > len(buf) {
		return i, false
	}
	raw := append(buf[:0], s[i:j+1]...)
	if err := ev.Time.UnmarshalJSON(raw); err != nil {
		return i, false
	}
	return j + 1, true
}

// readString reads the JSON string at s[i] and returns it and the index
// after it. Without escapes it is a substring of s; with the escapes
// appendString writes (and \/ \b \f, and any \u escape outside the
// surrogates) it is a new string.
func readString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", i, false
	}
	start := i + 1
	for j := start; j < len(s); {
		c := s[j]
		switch {
		case c == '"':
			return s[start:j], j + 1, true
		case c == '\\':
			return unescape(s, start, j)
		case c < 0x20:
			return "", i, false
		case c < utf8.RuneSelf:
			j++
		default:
			// encoding/json turns invalid UTF-8 into U+FFFD; appendString
			// never writes it, so it is not the fast path's.
			r, size := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && size == 1 {
				return "", i, false
			}
			j += size
		}
	}
	return "", i, false
}

// unescape finishes a string from s[start:] that has an escape at s[j].
func unescape(s string, start, j int) (string, int, bool) {
	b := make([]byte, 0, j-start+16)
	b = append(b, s[start:j]...)
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			return string(b), j + 1, true
		case c == '\\':
			if j+1 >= len(s) {
				return "", j, false
			}
			switch e := s[j+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				if j+6 > len(s) {
					return "", j, false
				}
				r := rune(0)
				for _, h := range []byte(s[j+2 : j+6]) {
					switch {
					case h >= '0' && h <= '9':
						h -= '0'
					case h >= 'a' && h <= 'f':
						h -= 'a' - 10
					case h >= 'A' && h <= 'F':
						h -= 'A' - 10
					default:
						return "", j, false
					}
					r = r<<4 | rune(h)
				}
				// encoding/json pairs surrogates or replaces them; not
				// this reader's business.
				if r >= 0xd800 && r < 0xe000 {
					return "", j, false
				}
				b = utf8.AppendRune(b, r)
				j += 6
				continue
			default:
				return "", j, false
			}
			j += 2
		case c < 0x20:
			return "", j, false
		case c < utf8.RuneSelf:
			b = append(b, c)
			j++
		default:
			r, size := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && size == 1 {
				return "", j, false
			}
			b = append(b, s[j:j+size]...)
			j += size
		}
	}
	return "", j, false
}

// readStrings reads a JSON array of strings. An empty array is an empty,
// not nil, slice, as encoding/json leaves it.
func readStrings(s string, i int) ([]string, int, bool) {
	if i >= len(s) || s[i] != '[' {
		return nil, i, false
	}
	i++
	out := []string{}
	if i < len(s) && s[i] == ']' {
		return out, i + 1, true
	}
	for {
		v, j, ok := readString(s, i)
		if !ok || j >= len(s) {
			return nil, i, false
		}
		out = append(out, v)
		i = j + 1
		switch s[j] {
		case ',':
		case ']':
			return out, i, true
		default:
			return nil, i, false
		}
	}
}

// readInt64 reads a JSON integer -?(0|[1-9][0-9]*) of at most 18 digits
// (so it cannot overflow); anything longer, or a fraction or exponent,
// stops at the next byte, which the caller does not accept.
func readInt64(s string, i int) (int64, int, bool) {
	neg := false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	start := i
	var v int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + int64(s[i]-'0')
		i++
		if i-start > 18 {
			return 0, i, false
		}
	}
	if i == start || (s[start] == '0' && i-start > 1) {
		return 0, i, false
	}
	if neg {
		v = -v
	}
	return v, i, true
}

// readInt is readInt64 for an int field (which encoding/json bounds to
// the platform's int).
func readInt(s string, i int) (int, int, bool) {
	v, i, ok := readInt64(s, i)
	return int(v), i, ok && int64(int(v)) == v
}

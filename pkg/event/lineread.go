package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is the reading side of line.go: a reader for the event lines
// as AppendLine writes them. encoding/json over those lines was 12% of
// faasmon-parse's CPU and most of its allocation (issue 15, BENCHMARKS.md
// "What the detector costs"): a Decoder, its buffer and reflection per line.
//
// The lines are untrusted, so the reader only ever says "this line is
// exactly what encoding/json would make of it" or "not mine": it accepts
// the canonical form (no whitespace, known keys spelt exactly, each at most
// once, integers without fraction or exponent that fit their field, strings
// of valid UTF-8 with the simple escapes) and hands every other line to
// encoding/json unchanged (UnmarshalLine). Errors therefore always come
// from encoding/json, the same as before; FuzzReadLine holds the two to the
// same Event.

// ParseLine reads one line (without its newline) as ReadLine does or,
// when ReadLine does not take it, as UnmarshalLine does. Strings of the
// Event are substrings of s where ReadLine read it.
func ParseLine(s string) (Event, error) {
	var e Event
	if ReadLine(s, &e) {
		return e, nil
	}
	// Not through &e: encoding/json would make every line's e escape to
	// the heap, the fast path's too.
	return unmarshalEvent([]byte(s))
}

func unmarshalEvent(l []byte) (Event, error) {
	var e Event
	err := UnmarshalLine(l, &e)
	return e, err
}

// UnmarshalLine is how every line was read before ReadLine, and still how
// the lines ReadLine does not take are: encoding/json, strictly (no
// unknown field), one document per line.
func UnmarshalLine(l []byte, e *Event) error {
	dec := json.NewDecoder(bytes.NewReader(l))
	dec.DisallowUnknownFields()
	if err := dec.Decode(e); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the event")
	}
	return nil
}

// Fields of Event ReadLine knows, one bit each so that a key seen
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
	fFlow
	fHTTP
	fDNS
)

// ReadLine reads s, one trimmed line, into the zero Event ev and says
// whether it did. When it says false ev is garbage and the line must go to
// encoding/json; when it says true ev is what encoding/json (with
// DisallowUnknownFields) would have decoded, and s was a valid JSON
// document with nothing after it. Strings in ev are substrings of s.
//
// It accepts any order of the keys (AppendLine's is fixed, but nothing
// depends on it) and leaves out nothing but the cases it does not decode:
// whitespace between tokens, null, false, fractions and exponents, numbers
// of more than 18 digits or out of their field's range, invalid UTF-8,
// surrogate escapes, a key with an escape or in another case. The pcap
// parts (flow, http, dns: the tcpdump sensor's events and the eBPF
// sensor's DNS queries) are read the same way, an object of their own
// keys; null for one of them is left to encoding/json.
func ReadLine(s string, ev *Event) bool {
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
			ev.Kind = Kind(v)
		case "t":
			bit = fT
			i, ok = readTime(s, i, &ev.Time)
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
		case "flow":
			bit = fFlow
			ev.Flow = &Flow{}
			i, ok = readFlow(s, i, ev.Flow)
		case "http":
			bit = fHTTP
			ev.HTTP = &HTTPRequest{}
			i, ok = readHTTP(s, i, ev.HTTP)
		case "dns":
			bit = fDNS
			ev.DNS = &DNSQuery{}
			i, ok = readDNS(s, i, ev.DNS)
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

// readObject reads the JSON object at s[i] and returns the index after
// it; field reads the value of key at s[j] and returns the index after it
// and the key's bit (0 for a key it does not know: not the fast path's,
// as a key seen twice is not).
func readObject(s string, i int, field func(key string, j int) (int, int, bool)) (int, bool) {
	if i >= len(s) || s[i] != '{' {
		return i, false
	}
	i++
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	seen := 0
	for {
		if i >= len(s) || s[i] != '"' {
			return i, false
		}
		j := strings.IndexByte(s[i+1:], '"')
		if j < 0 {
			return i, false
		}
		key := s[i+1 : i+1+j]
		i += j + 2
		if i >= len(s) || s[i] != ':' {
			return i, false
		}
		var bit int
		var ok bool
		i, bit, ok = field(key, i+1)
		if !ok || bit == 0 || seen&bit != 0 || i >= len(s) {
			return i, false
		}
		seen |= bit
		switch s[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// readFlow reads a Flow object into the zero f.
func readFlow(s string, i int, f *Flow) (int, bool) {
	return readObject(s, i, func(key string, j int) (int, int, bool) {
		var ok bool
		switch key {
		case "proto":
			f.Proto, j, ok = readString(s, j)
			return j, 1 << 0, ok
		case "src":
			f.Src, j, ok = readString(s, j)
			return j, 1 << 1, ok
		case "dst":
			f.Dst, j, ok = readString(s, j)
			return j, 1 << 2, ok
		case "packets":
			f.Packets, j, ok = readInt(s, j)
			return j, 1 << 3, ok
		case "bytes":
			f.Bytes, j, ok = readInt64(s, j)
			return j, 1 << 4, ok
		case "first":
			j, ok = readTime(s, j, &f.First)
			return j, 1 << 5, ok
		case "last":
			j, ok = readTime(s, j, &f.Last)
			return j, 1 << 6, ok
		case "syn":
			f.SawSYN = strings.HasPrefix(s[j:], "true")
			return j + len("true"), 1 << 7, f.SawSYN
		case "outbound":
			f.Outbound = strings.HasPrefix(s[j:], "true")
			return j + len("true"), 1 << 8, f.Outbound
		}
		return j, 0, false
	})
}

// readHTTP reads an HTTPRequest object into the zero h.
func readHTTP(s string, i int, h *HTTPRequest) (int, bool) {
	return readStringFields(s, i, []string{"src", "dst", "method", "host", "path", "call_id"},
		[]*string{&h.Src, &h.Dst, &h.Method, &h.Host, &h.Path, &h.CallID})
}

// readDNS reads a DNSQuery object into the zero d.
func readDNS(s string, i int, d *DNSQuery) (int, bool) {
	return readStringFields(s, i, []string{"src", "dst", "name", "type"},
		[]*string{&d.Src, &d.Dst, &d.Name, &d.Type})
}

// readStringFields reads an object whose fields are all strings: keys[k]
// into *dst[k] (its bit for readObject is 1<<k); any other key is not the
// fast path's.
func readStringFields(s string, i int, keys []string, dst []*string) (int, bool) {
	return readObject(s, i, func(key string, j int) (int, int, bool) {
		for k, name := range keys {
			if key == name {
				v, j, ok := readString(s, j)
				*dst[k] = v
				return j, 1 << k, ok
			}
		}
		return j, 0, false
	})
}

// readTime reads a JSON string at s[i] into *t with time.Time's own
// UnmarshalJSON, what encoding/json calls with the raw literal (quotes
// included, escapes not undone: so a string with any, or with a byte a
// JSON string may not hold raw, is not the fast path's).
func readTime(s string, i int, t *time.Time) (int, bool) {
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
	if err := t.UnmarshalJSON(raw); err != nil {
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

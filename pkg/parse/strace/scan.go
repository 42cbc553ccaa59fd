package strace

import "bytes"

// Low-level, allocation-free scanning of strace's argument syntax. Every
// function here works on sub-slices of the input line and never panics on
// malformed input: indexes are always checked against len.

// maxArgs is the number of top-level arguments kept per call. No syscall in
// the traced set has more than six; a seventh slot catches garbage.
const maxArgs = 8

type span struct{ lo, hi int }

// argList is the result of splitArgs: the spans of the top-level arguments
// inside the parentheses and the position just after the closing ')', or -1
// when the text ended before it (an unfinished call).
type argList struct {
	a   [maxArgs]span
	n   int
	end int
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipString returns the index just after the closing quote of the C string
// starting at b[i] == '"', or len(b) when it is unterminated.
func skipString(b []byte, i int) int {
	i++
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		i += j
		// The quote is escaped if an odd number of backslashes precede it.
		k := i - 1
		for k >= 0 && b[k] == '\\' {
			k--
		}
		if (i-1-k)%2 == 0 {
			return i + 1
		}
		i++
	}
	return len(b)
}

// skipAnnotation returns the index just after the '>' that closes the -yy
// annotation opening at b[i] == '<', or -1 if it is unterminated. Inside, a
// socket's "PROTO:[...]" is skipped as a bracketed unit (its "->" and
// IPv6 "[::1]" must not close anything), and a nested "<char 1:3>" device
// annotation is counted. strace escapes '<' and '>' inside paths, so a raw
// '>' outside brackets always closes.
func skipAnnotation(b []byte, i int) int {
	// Fast path: a plain path "<...>" with no nesting, socket or escape.
	if j := bytes.IndexByte(b[i+1:], '>'); j >= 0 {
		seg := b[i+1 : i+1+j]
		if bytes.IndexByte(seg, '<') < 0 && bytes.IndexByte(seg, '[') < 0 && bytes.IndexByte(seg, '\\') < 0 {
			return i + 2 + j
		}
	}
	angle, bracket := 0, 0
	for ; i < len(b); i++ {
		c := b[i]
		if bracket > 0 {
			switch c {
			case '[':
				bracket++
			case ']':
				bracket--
			case '"':
				i = skipString(b, i) - 1
			case '\\':
				i++
			}
			continue
		}
		switch c {
		case '<':
			angle++
		case '>':
			angle--
			if angle == 0 {
				return i + 1
			}
		case '[':
			if i > 0 && b[i-1] == ':' {
				bracket = 1
			}
		case '\\':
			i++
		}
	}
	return -1
}

// splitArgs splits the text after a syscall's '(' into top-level arguments.
// It understands strings, (), [], {}, -yy annotations and /* comments */.
func splitArgs(b []byte) (l argList) {
	l.end = -1
	depth := 0
	start := 0
	add := func(lo, hi int) {
		for lo < hi && b[lo] == ' ' {
			lo++
		}
		for hi > lo && b[hi-1] == ' ' {
			hi--
		}
		if l.n < maxArgs {
			l.a[l.n] = span{lo, hi}
			l.n++
		}
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			i = skipString(b, i) - 1
		case '(', '[', '{':
			depth++
		case ']', '}':
			if depth > 0 {
				depth--
			}
		case ')':
			if depth == 0 {
				if i > start || l.n > 0 {
					add(start, i)
				}
				l.end = i + 1
				return l
			}
			depth--
		case '<':
			if i+1 < len(b) && b[i+1] == '<' {
				// A shift in a capability or flag set ("1<<CAP_SYS_ADMIN"),
				// not an fd annotation (those never start with '<').
				i++
				break
			}
			if i > 0 && isAlnum(b[i-1]) {
				j := skipAnnotation(b, i)
				if j < 0 {
					i = len(b)
					break
				}
				i = j - 1
			}
		case '/':
			if i+1 < len(b) && b[i+1] == '*' {
				j := bytes.Index(b[i+2:], []byte("*/"))
				if j < 0 {
					i = len(b)
					break
				}
				i += j + 3
			}
		case ',':
			if depth == 0 {
				add(start, i)
				start = i + 1
			}
		}
	}
	if start < len(b) {
		add(start, len(b))
	}
	return l
}

func (l *argList) get(b []byte, i int) []byte {
	if i < 0 || i >= l.n {
		return nil
	}
	return b[l.a[i].lo:l.a[i].hi]
}

// parseInt parses an optional '-' and decimal digits at the start of b,
// returning the value and the number of bytes used (0 if none). Overflow
// saturates rather than wrapping.
func parseInt(b []byte) (int64, int) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		neg, i = true, 1
	}
	st := i
	var v int64
	for ; i < len(b) && isDigit(b[i]); i++ {
		if v < 1<<59 {
			v = v*10 + int64(b[i]-'0')
		}
	}
	if i == st {
		return 0, 0
	}
	if neg {
		v = -v
	}
	return v, i
}

// parseNumber parses a decimal, 0x-hex or 0-octal integer.
func parseNumber(b []byte) (int64, int) {
	if len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		var v uint64
		i := 2
		for ; i < len(b); i++ {
			c := b[i]
			var d byte
			switch {
			case c >= '0' && c <= '9':
				d = c - '0'
			case c >= 'a' && c <= 'f':
				d = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				d = c - 'A' + 10
			default:
				goto done
			}
			v = v<<4 | uint64(d)
		}
	done:
		if i == 2 {
			return 0, 1
		}
		return int64(v), i
	}
	return parseInt(b)
}

// parseOctal parses a mode like "0755" or "0640"; ok is false if b is not
// purely octal digits (e.g. a symbolic S_IRUSR|... form).
func parseOctal(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	var v uint32
	for _, c := range b {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v<<3 | uint32(c-'0')
	}
	return v, true
}

// unquote decodes a C string literal as strace prints it ("..." with
// escapes, possibly followed by "..." for truncation) and appends the bytes
// to dst. ok is false if b does not start with a quote.
func unquote(dst, b []byte) ([]byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return dst, false
	}
	for i := 1; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			return dst, true
		}
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(b) {
			break
		}
		switch c = b[i]; c {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'v':
			dst = append(dst, '\v')
		case 'f':
			dst = append(dst, '\f')
		case 'a':
			dst = append(dst, '\a')
		case 'b':
			dst = append(dst, '\b')
		case 'x':
			var v byte
			n := 0
			for n < 2 && i+1 < len(b) {
				d := b[i+1]
				switch {
				case d >= '0' && d <= '9':
					v = v<<4 | (d - '0')
				case d >= 'a' && d <= 'f':
					v = v<<4 | (d - 'a' + 10)
				case d >= 'A' && d <= 'F':
					v = v<<4 | (d - 'A' + 10)
				default:
					n = 2
					continue
				}
				i++
				n++
			}
			dst = append(dst, v)
		default:
			if c >= '0' && c <= '7' {
				v := c - '0'
				for n := 1; n < 3 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7'; n++ {
					i++
					v = v<<3 | (b[i] - '0')
				}
				dst = append(dst, v)
			} else {
				dst = append(dst, c)
			}
		}
	}
	return dst, true
}

// unescapeAnn decodes the escapes strace uses inside -yy paths (octal for
// '<', '>', non-printables) and appends the result to dst.
func unescapeAnn(dst, b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 {
		return append(dst, b...)
	}
	// Reuse the string decoder: a path is a string body without quotes.
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			dst = append(dst, c)
			continue
		}
		if b[i+1] >= '0' && b[i+1] <= '7' {
			v := byte(0)
			n := 0
			for n < 3 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7' {
				i++
				v = v<<3 | (b[i] - '0')
				n++
			}
			dst = append(dst, v)
			continue
		}
		var one [4]byte
		one[0], one[1], one[2] = '"', '\\', b[i+1]
		one[3] = '"'
		dst, _ = unquote(dst, one[:])
		i++
	}
	return dst
}

// findFold returns the index of the ASCII-lowercase needle in b, ignoring
// case, or -1.
func findFold(b []byte, needle string) int {
	if len(needle) == 0 {
		return 0
	}
	first := needle[0]
	for i := 0; i+len(needle) <= len(b); i++ {
		j := indexFoldByte(b[i:len(b)-len(needle)+1], first)
		if j < 0 {
			return -1
		}
		i += j
		k := 1
		for ; k < len(needle); k++ {
			c := b[i+k]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != needle[k] {
				break
			}
		}
		if k == len(needle) {
			return i
		}
	}
	return -1
}

// indexFoldByte finds lower-case letter c or its upper-case form.
func indexFoldByte(b []byte, c byte) int {
	lo := bytes.IndexByte(b, c)
	up := -1
	if c >= 'a' && c <= 'z' {
		if lo >= 0 {
			up = bytes.IndexByte(b[:lo], c-('a'-'A'))
		} else {
			up = bytes.IndexByte(b, c-('a'-'A'))
		}
	}
	if up >= 0 {
		return up
	}
	return lo
}

// findCallID returns the value of an "X-Call-Id:" header in the escaped
// text of a data argument (the header name is matched case-insensitively;
// the value ends at the first \r, \n, escaped "\r"/"\n", quote or end), or
// nil.
func findCallID(b []byte) []byte {
	if bytes.IndexByte(b, ':') < 0 {
		return nil
	}
	for {
		i := findFold(b, "x-call-id:")
		if i < 0 {
			return nil
		}
		v := b[i+len("x-call-id:"):]
		for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
			v = v[1:]
		}
		end := 0
		for end < len(v) && end < 256 {
			c := v[end]
			if c == '\\' || c == '\r' || c == '\n' || c == '"' {
				break
			}
			end++
		}
		for end > 0 && (v[end-1] == ' ' || v[end-1] == '\t') {
			end--
		}
		if end > 0 {
			return v[:end]
		}
		b = v
	}
}

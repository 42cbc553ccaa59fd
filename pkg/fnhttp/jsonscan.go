package fnhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Untrusted sizes. A JSON body is small on the wire and large in memory:
// a 32 MiB graph of 1.2 M tiny nodes took faasmon-alert to 1 GB (issue 14),
// because every node becomes a struct of a dozen fields. A handler
// therefore checks, before decoding, both the bytes (ReadBody) and the
// number of elements the decoder would build (LargestArray, a scan that
// allocates nothing but its nesting stack).

// MaxJSONDepth bounds nesting; a graph or verdict is at most 6 deep.
const MaxJSONDepth = 64

// ErrJSONSyntax marks a body the scan cannot read as JSON.
var ErrJSONSyntax = errors.New("malformed JSON")

// LargestArray scans body and returns the length of the longest array
// that is the value of an object member named key (e.g. "nodes"), at any
// depth, and the total of such arrays' lengths. It does not decode: it
// allocates only its nesting stack, bounded by maxDepth (0: MaxJSONDepth).
// Syntax it cannot follow (unbalanced brackets, an unterminated string,
// too deep) is an error wrapping ErrJSONSyntax; finer syntax errors are
// left to the decoder.
func LargestArray(body []byte, key string, maxDepth int) (largest, total int, err error) {
	if maxDepth <= 0 {
		maxDepth = MaxJSONDepth
	}
	type frame struct {
		array   bool
		counted bool // array under key
		n       int
		wantKey bool // object: the next string is a member name
	}
	stack := make([]frame, 0, 16)
	keyMatch := false // the last member name read equals key
	value := func() {
		if len(stack) > 0 && stack[len(stack)-1].array {
			stack[len(stack)-1].n++
		}
	}
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case ' ', '\t', '\n', '\r', ':':
		case ',':
			if len(stack) > 0 && !stack[len(stack)-1].array {
				stack[len(stack)-1].wantKey = true
			}
		case '{', '[':
			value()
			if len(stack) >= maxDepth {
				return largest, total, fmt.Errorf("%w: nested deeper than %d", ErrJSONSyntax, maxDepth)
			}
			f := frame{array: c == '[', wantKey: c == '{'}
			if c == '[' && keyMatch && len(stack) > 0 && !stack[len(stack)-1].array {
				f.counted = true
			}
			keyMatch = false
			stack = append(stack, f)
		case '}', ']':
			if len(stack) == 0 || stack[len(stack)-1].array != (c == ']') {
				return largest, total, fmt.Errorf("%w: unbalanced %q at byte %d", ErrJSONSyntax, c, i)
			}
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.counted {
				total += f.n
				largest = max(largest, f.n)
			}
			keyMatch = false
		case '"':
			j := i + 1
			for j < len(body) && body[j] != '"' {
				if body[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(body) {
				return largest, total, fmt.Errorf("%w: unterminated string at byte %d", ErrJSONSyntax, i)
			}
			if len(stack) > 0 && !stack[len(stack)-1].array && stack[len(stack)-1].wantKey {
				stack[len(stack)-1].wantKey = false
				keyMatch = memberIs(body[i:j+1], key)
			} else {
				value()
				keyMatch = false
			}
			i = j
		default:
			// A number or literal: one value, skip to its end.
			value()
			keyMatch = false
			for i+1 < len(body) {
				switch body[i+1] {
				case ',', ']', '}', ' ', '\t', '\n', '\r':
					goto next
				}
				i++
			}
		next:
		}
	}
	if len(stack) != 0 {
		return largest, total, fmt.Errorf("%w: %d unclosed brackets", ErrJSONSyntax, len(stack))
	}
	return largest, total, nil
}

// CheckArrays answers, before anything is decoded, a body with an array
// under key longer than limit, or with more than totalLimit elements in all
// such arrays together (0: no total limit), with a 413 (too big, not
// malformed: the sender may split it). A body the scan cannot follow is
// left to the decoder, which says what is wrong in its own words:
// encoding/json checks the whole input is valid before it allocates
// anything, so malformed input costs no memory there either.
func CheckArrays(body []byte, key string, limit, totalLimit int) error {
	largest, total, err := LargestArray(body, key, 0)
	switch {
	case err != nil:
		return nil
	case largest > limit:
		return &Error{Status: http.StatusRequestEntityTooLarge, Err: fmt.Errorf("an array %q of %d elements, limit %d", key, largest, limit)}
	case totalLimit > 0 && total > totalLimit:
		return &Error{Status: http.StatusRequestEntityTooLarge, Err: fmt.Errorf("%d elements in arrays %q, limit %d", total, key, totalLimit)}
	}
	return nil
}

// memberIs says whether the quoted member name q is one encoding/json
// would decode into a field named key: it matches names case-insensitively
// (with Unicode folding: "NODES", "nodeſ") and after unescaping
// ("node\u0073"), so the scan must too or a renamed key would slip past it.
func memberIs(q []byte, key string) bool {
	name := q[1 : len(q)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		var s string
		if json.Unmarshal(q, &s) != nil {
			return false
		}
		name = []byte(s)
	}
	return bytes.EqualFold(name, []byte(key))
}

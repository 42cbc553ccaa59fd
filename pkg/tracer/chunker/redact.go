package chunker

import "bytes"

// secretHeaders are HTTP headers whose values never leave the node: the
// gateway forwards the caller's credentials to the function, and strace's
// -s 256 and tcpdump's snap length both keep the request's header block,
// which the detector needs for X-Call-Id but not for these.
var secretHeaders = [][]byte{
	[]byte("authorization:"), []byte("proxy-authorization:"), []byte("cookie:"),
	[]byte("set-cookie:"), []byte("x-api-key:"), []byte("x-auth-token:"),
}

// Redact overwrites, in place, the values of secret headers in b with '*'.
// It works on raw payloads (values end at CR or LF) and on strace's quoted
// strings (values end at the escape "\r", "\n" or the closing quote), and
// keeps b's length so that records and lines keep their framing.
func Redact(b []byte) {
	// Header names are matched case-insensitively on a lower-case copy of
	// the positions only when a colon is there at all: most lines have none
	// of these headers, and the common path allocates nothing.
	if bytes.IndexByte(b, ':') < 0 {
		return
	}
	for _, h := range secretHeaders {
		for off := 0; off < len(b); {
			i := indexFold(b[off:], h)
			if i < 0 {
				break
			}
			start := off + i + len(h)
			// The name must begin a header line: after a newline (raw or
			// escaped) or at the start of the data.
			if !lineStart(b, off+i) {
				off = start
				continue
			}
			end := start
			for end < len(b) && b[end] != '\r' && b[end] != '\n' && b[end] != '"' && b[end] != '\\' {
				end++
			}
			for k := start; k < end; k++ {
				if b[k] != ' ' {
					b[k] = '*'
				}
			}
			off = end
		}
	}
}

func lineStart(b []byte, i int) bool {
	return i == 0 || b[i-1] == '\n' || (i >= 2 && b[i-2] == '\\' && b[i-1] == 'n') || b[i-1] == '"'
}

// indexFold is bytes.Index ignoring ASCII case; pat is lower-case.
func indexFold(s, pat []byte) int {
	n := len(pat)
	for i := 0; i+n <= len(s); i++ {
		if lower(s[i]) != pat[0] {
			continue
		}
		j := 1
		for j < n && lower(s[i+j]) == pat[j] {
			j++
		}
		if j == n {
			return i
		}
	}
	return -1
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

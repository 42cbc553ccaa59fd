package pcap

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"

	"github.com/faasmon/faasmon/pkg/event"
)

// Bounds on the strings kept from a request.
const (
	maxPathLen   = 2048
	maxHostLen   = 256
	maxCallIDLen = 128
)

var httpMethods = [...]string{"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "}

// looksLikeHTTPRequest reports whether a TCP payload starts with an HTTP/1.x
// method and a space.
func looksLikeHTTPRequest(p []byte) bool {
	if len(p) < 4 {
		return false
	}
	switch p[0] {
	case 'G', 'P', 'D', 'H', 'O', 'C', 'T':
	default:
		return false
	}
	for _, m := range httpMethods {
		if len(p) >= len(m) && string(p[:len(m)]) == m {
			return true
		}
	}
	return false
}

// httpParser reads the request line and the Host and X-Call-Id headers of
// one payload. Bodies and all other header values are never kept.
type httpParser struct {
	rd bytes.Reader
	br *bufio.Reader
}

// parse returns the request (Src and Dst unset), whether it came from an
// incomplete header block, and ok=false when the payload is not a request.
func (h *httpParser) parse(p []byte) (req *event.HTTPRequest, partial, ok bool) {
	// net/http only when the header block is whole: the payload is the bound,
	// ReadRequest never reads past it and never reads the body.
	if bytes.Contains(p, []byte("\r\n\r\n")) {
		h.rd.Reset(p)
		if h.br == nil {
			h.br = bufio.NewReaderSize(&h.rd, 4096)
		} else {
			h.br.Reset(&h.rd)
		}
		if r, err := http.ReadRequest(h.br); err == nil {
			path := r.URL.EscapedPath()
			switch {
			case r.Method == http.MethodConnect:
				path = ""
			case r.RequestURI == "*":
				path = "*"
			}
			return &event.HTTPRequest{
				Method: r.Method,
				Host:   clean(r.Host, maxHostLen),
				Path:   truncate(path, maxPathLen),
				CallID: clean(r.Header.Get("X-Call-Id"), maxCallIDLen),
			}, false, true
		}
	}
	req, ok = parseManual(p)
	return req, true, ok
}

// parseManual reads what there is of a request cut by the snap length or by
// segmentation: the request line (its target possibly cut) and the header
// lines that end in a newline. A header line cut short is not used, so a
// partial X-Call-Id is never reported.
func parseManual(p []byte) (*event.HTTPRequest, bool) {
	line, rest, complete := cutLine(p)
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return nil, false
	}
	method := string(line[:sp])
	target := line[sp+1:]
	if i := bytes.IndexByte(target, ' '); i >= 0 {
		ver := bytes.TrimSpace(target[i+1:])
		target = target[:i]
		if !validVersion(ver, complete) {
			return nil, false
		}
	} else if complete {
		return nil, false // HTTP/0.9 or not HTTP
	}
	if len(target) == 0 || !validTarget(target) {
		return nil, false
	}
	req := &event.HTTPRequest{Method: method}
	host := ""
	req.Path, host = splitTarget(string(target), method)
	for complete {
		var l []byte
		l, rest, complete = cutLine(rest)
		if !complete || len(l) == 0 {
			break
		}
		name, value, found := bytes.Cut(l, []byte(":"))
		if !found {
			continue
		}
		switch {
		case bytes.EqualFold(name, []byte("Host")):
			req.Host = clean(string(value), maxHostLen)
		case bytes.EqualFold(name, []byte("X-Call-Id")):
			req.CallID = clean(string(value), maxCallIDLen)
		}
	}
	if req.Host == "" {
		req.Host = clean(host, maxHostLen)
	}
	return req, true
}

// cutLine splits off the first line; complete is false when no newline
// ends it.
func cutLine(p []byte) (line, rest []byte, complete bool) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return p, nil, false
	}
	line = p[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, p[i+1:], true
}

// validVersion accepts "HTTP/1.x", or on a line the capture cut, any
// prefix of it.
func validVersion(v []byte, complete bool) bool {
	const want = "HTTP/1."
	if len(v) >= len(want) {
		return string(v[:len(want)]) == want && (!complete || len(v) == len(want)+1)
	}
	return !complete && strings.HasPrefix(want, string(v))
}

func validTarget(t []byte) bool {
	for _, c := range t {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// splitTarget returns the path of a request target without its query string
// and fragment, and the host of an absolute-form or authority-form target.
func splitTarget(t, method string) (path, host string) {
	if method == http.MethodConnect {
		return "", t
	}
	if i := strings.Index(t, "://"); i > 0 && !strings.HasPrefix(t, "/") {
		rest := t[i+3:]
		j := strings.IndexAny(rest, "/?#")
		if j < 0 {
			return "/", rest
		}
		host, t = rest[:j], rest[j:]
		if t[0] != '/' {
			t = "/" + t
		}
	}
	if i := strings.IndexAny(t, "?#"); i >= 0 {
		t = t[:i]
	}
	return truncate(t, maxPathLen), host
}

// clean trims a header value, bounds it and drops it when it holds control
// characters.
func clean(v string, max int) string {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' || c == 0x7f {
			return ""
		}
	}
	return truncate(v, max)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

package strace

import (
	"bytes"
	"strconv"
)

// Scrubbing: what of strace's text may leave the node.
//
// strace prints the data of every read and write it traces (up to -s
// bytes), the argv of every execve and the options of every mount. The
// detector needs almost none of it: from data only the request line and the
// X-Call-Id of requests the handler receives (to tie events to an
// invocation) and DNS names; from argv the command, with credentials masked.
// Everything else that strace shows — secret files read, /proc/*/environ,
// request and response bodies, tokens in headers, private keys — must not
// leave the node, so the tracer runs a Scrubber over each line before it
// becomes part of a chunk (pkg/tracer/sensor). It is the one place that sees
// the whole stream in order: it knows which ports the container listens on
// (from /proc at attach and from listen/accept lines), which fd an
// unfinished call was on when its "<... resumed>" half carries the data, and
// that a request's head continues in the next read of the same connection.
// faasmon-parse runs the stateless part again (ScrubArgv on execve argv) as
// a second line of defence for chunks from an older tracer.
//
// The scrubbed line stays strace syntax: dropped data becomes "" followed by
// strace's own truncation marker "...", so the parser reads it unchanged
// and knows the data was cut. Return values (Bytes) are kept.

// maxKeptHead bounds the request line kept from an inbound read.
const maxKeptHead = 2048

// maxConns bounds the connections whose request head is still being read.
const maxConns = 4096

// maxListen bounds the listening ports remembered.
const maxListen = 1024

// Scrubber rewrites one strace stream line by line. Not safe for concurrent
// use; one per stream.
type Scrubber struct {
	listen  map[string]bool   // local ports the container serves on ("8080")
	pending map[int]scrubCall // pid → unfinished call
	// heads holds the connections (by fd annotation) whose request head
	// continues in the next read; the value says whether the last read
	// ended at the start of a line (only then may the next read begin
	// with the header).
	heads map[string]bool
	carry map[string][]byte // connections whose last read was a few bytes of a request line
	tmp   []byte
}

type scrubCall struct {
	name string
	ann  string // the fd annotation of the first argument
	sa   bool   // the call's sockaddr named port 53 (sendto/sendmsg DNS)
}

// NewScrubber returns a Scrubber that knows no listening port yet.
func NewScrubber() *Scrubber {
	return &Scrubber{listen: map[string]bool{}, pending: map[int]scrubCall{}, heads: map[string]bool{}, carry: map[string][]byte{}}
}

// AddListenPort records a TCP port the container listens on: reads on
// connections whose local side is this port are inbound requests.
func (s *Scrubber) AddListenPort(port int) {
	if port > 0 && len(s.listen) < maxListen {
		s.listen[strconv.Itoa(port)] = true
	}
}

// ListenPorts is the number of listening ports known.
func (s *Scrubber) ListenPorts() int { return len(s.listen) }

func isReadCall(name string) bool {
	switch name {
	case "read", "readv", "recvfrom", "recvmsg", "recvmmsg", "pread64", "preadv", "preadv2":
		return true
	}
	return false
}

func isDataCall(name string) bool {
	switch name {
	case "write", "writev", "sendto", "sendmsg", "sendmmsg", "pwrite64", "pwritev", "pwritev2":
		return true
	}
	return isReadCall(name)
}

// Line returns line scrubbed (appended to dst[:0]; line is not modified).
// Lines that carry nothing secret come back unchanged. An empty result
// means the line is dropped whole (an mmap that maps no file executable).
func (s *Scrubber) Line(dst, line []byte) []byte {
	dst = dst[:0]
	// The newline and the tracer's cut marker are put back after the line:
	// a line cut inside a string must not swallow them.
	var tail []byte
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line, tail = line[:n-1], line[n-1:]
	}
	if bytes.HasSuffix(line, []byte(truncatedMarker)) {
		n := len(line) - len(truncatedMarker)
		line, tail = line[:n], line[n:len(line)+len(tail)]
	}
	dst = s.line(dst, line)
	if len(dst) == 0 && len(line) > 0 {
		return dst // dropped whole: no newline either
	}
	return append(dst, tail...)
}

// truncatedMarker is how the tracer ends a line it had to cut
// (chunker.TruncMarker without its newline).
const truncatedMarker = " <faasmon:truncated>"

// execMapping says whether an mmap line's arguments map a file (an fd
// with -yy's path) executable. An unfinished line (arguments cut) keeps
// its line: the parser and builder decide once it resumes.
func execMapping(body []byte) bool {
	if bytes.Contains(body, []byte("<unfinished ...>")) {
		return true
	}
	args := splitArgs(body)
	if !bytes.Contains(args.get(body, 2), []byte("PROT_EXEC")) {
		return false
	}
	_, ann, ok := fdArg(args.get(body, 4))
	return ok && ann != nil
}

func (s *Scrubber) line(dst, line []byte) []byte {
	// Prefix: "[pid  N] " or "N ", then an optional time stamp.
	rest := line
	pid := 0
	if bytes.HasPrefix(rest, []byte("[pid ")) {
		if i := bytes.IndexByte(rest, ']'); i > 4 {
			v, _ := parseInt(bytes.TrimLeft(rest[4:i], " "))
			pid = int(v)
			rest = bytes.TrimLeft(rest[i+1:], " ")
		}
	} else if v, n := parseInt(rest); n > 0 && n < len(rest) && rest[n] == ' ' {
		pid = int(v)
		rest = bytes.TrimLeft(rest[n:], " ")
	}
	if len(rest) > 0 && isDigit(rest[0]) {
		if i := bytes.IndexByte(rest, ' '); i > 0 {
			rest = rest[i+1:]
		}
	}
	head := line[:len(line)-len(rest)]
	var name string
	var body []byte
	resumed := false
	switch {
	case bytes.HasPrefix(rest, []byte("<... ")):
		i := bytes.Index(rest, []byte(" resumed>"))
		if i < 5 {
			return s.dropStrings(append(dst, head...), rest)
		}
		name = string(rest[5:i])
		body = rest[i+len(" resumed>"):]
		resumed = true
	default:
		n, b, err := callName(rest)
		if err != nil {
			// "+++ exited", "--- SIG", "strace: ..." and garbage: no data.
			return s.dropStrings(append(dst, head...), rest)
		}
		name, body = string(n), b
	}
	call := scrubCall{name: name}
	if resumed {
		if pc, ok := s.pending[pid]; ok && pc.name == name {
			call = pc
		}
		delete(s.pending, pid)
	} else {
		args := splitArgs(body)
		_, ann, _ := fdArg(args.get(body, 0))
		call.ann = string(ann)
		if isDataCall(name) {
			call.sa = bytes.Contains(body, []byte("htons(53)"))
		}
		if bytes.HasSuffix(bytes.TrimRight(body, " \n"), []byte("<unfinished ...>")) {
			if len(s.pending) >= MaxPending {
				clear(s.pending)
			}
			s.pending[pid] = call
		}
		s.learn(name, ann)
	}
	if name == "mmap" && !resumed && !execMapping(body) {
		// The runtime's and the loader's ordinary maps (heap arenas,
		// read-only data, the locale archive) are most mmap lines: only
		// a file mapped executable leaves the node.
		return dst[:0]
	}
	dst = append(dst, head...)
	switch {
	case isDataCall(name):
		return s.scrubData(dst, rest, body, call, isReadCall(name))
	case name == "execve" || name == "execveat":
		return s.scrubExec(dst, rest, body)
	case name == "mount" && !resumed:
		// mount's data argument can hold credentials (cifs "password=").
		return s.dropArg(dst, rest, body, 4)
	case name == "accept" || name == "accept4":
		// The returned connection's local port is a listening port.
		if i := bytes.LastIndex(body, []byte(") = ")); i >= 0 {
			if r, err := parseRet(body[i+1:]); err == nil && r.ann != nil {
				s.learnPort(r.ann)
			}
		}
	}
	return append(dst, rest...)
}

// learn records listening ports from a listen() line.
func (s *Scrubber) learn(name string, ann []byte) {
	if name == "listen" && ann != nil {
		s.learnPort(ann)
	}
}

func (s *Scrubber) learnPort(ann []byte) {
	e := classify(ann)
	if e.proto == nil || string(e.proto) != ProtoTCP || e.local == nil {
		return
	}
	if p := portOf(e.local); p != "" && len(s.listen) < maxListen {
		s.listen[p] = true
	}
}

// portOf returns the port of "ip:port" or "[ip6]:port".
func portOf(addr []byte) string {
	i := bytes.LastIndexByte(addr, ':')
	if i < 0 || i+1 >= len(addr) || !isAllDigits(addr[i+1:]) {
		return ""
	}
	return string(addr[i+1:])
}

// inbound says whether a fd annotation is the server side of a TCP
// connection to one of the container's listening ports.
func (s *Scrubber) inbound(ann string) bool {
	e := classify([]byte(ann))
	if e.proto == nil || string(e.proto) != ProtoTCP || e.local == nil || e.remote == nil {
		return false
	}
	return s.listen[portOf(e.local)]
}

// dns says whether the call is on a UDP or TCP socket to or from port 53.
func dns(call scrubCall) bool {
	if call.sa {
		return true
	}
	e := classify([]byte(call.ann))
	if e.proto == nil || e.remote == nil {
		return false
	}
	return portOf(e.remote) == "53"
}

// scrubData rewrites a read or write: every string argument is dropped
// except a sockaddr's sun_path, DNS messages, and — for a read on an
// inbound connection — the request line and X-Call-Id header.
func (s *Scrubber) scrubData(dst, rest, body []byte, call scrubCall, read bool) []byte {
	keepDNS := dns(call)
	inbound := read && s.inbound(call.ann)
	first := true
	return s.rewriteStrings(dst, rest, func(dst, str []byte, truncated bool) []byte {
		if keepDNS {
			return append(dst, str...)
		}
		if inbound && first {
			first = false
			return s.inboundHead(dst, call.ann, str, truncated)
		}
		return append(dst, `""...`...)
	})
}

// inboundHead keeps the request line and the X-Call-Id header of the data
// a handler read from an inbound connection. When the head does not end
// in this read (a Go server reads 4 KiB at a time; strace's -s may cut
// it), the connection is remembered and the next read on it is searched
// for X-Call-Id too, so that the header is found wherever it stands.
func (s *Scrubber) inboundHead(dst []byte, ann string, str []byte, truncated bool) []byte {
	s.tmp = s.tmp[:0]
	if c, ok := s.carry[ann]; ok {
		// Go's server reads one byte of the next request in the
		// background (to notice a closed connection): that byte and the
		// rest of the request line are in two reads.
		s.tmp = append(s.tmp, c...)
		delete(s.carry, ann)
	}
	s.tmp, _ = unquote(s.tmp, str)
	data := s.tmp
	var kept []byte
	atLine, cont := s.heads[ann]
	if !cont && len(data) == 1 && !truncated {
		// Only Go's one-byte read is carried: a body that happens to be
		// read in small pieces must not become a request line.
		if len(s.carry) >= maxConns {
			clear(s.carry)
		}
		s.carry[ann] = append([]byte(nil), data...)
		return append(dst, `""...`...)
	}
	if m := requestLine(data); m > 0 {
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			end = len(data)
		}
		lineEnd := end
		if lineEnd > 0 && data[lineEnd-1] == '\r' {
			lineEnd--
		}
		rl := data[:min(lineEnd, maxKeptHead)]
		kept = append(kept, ScrubURLBytes(rl)...)
		kept = append(kept, "\r\n"...)
		cont, atLine = true, false
	}
	if cont {
		hdrEnd := headEnd(data)
		block := data
		if hdrEnd >= 0 {
			block = data[:hdrEnd]
		}
		if id := findCallIDRaw(block, atLine); id != nil {
			kept = append(append(append(kept, "X-Call-Id: "...), id...), "\r\n"...)
		}
		switch {
		case hdrEnd >= 0:
			delete(s.heads, ann)
		case truncated:
			// strace cut this read before the head ended: where the body
			// starts is unknown, and a body line "X-Call-Id: ..." must
			// not name an invocation. (16 KiB is Node's whole header
			// limit; Go reads 4 KiB at a time, so neither gets here.)
			delete(s.heads, ann)
		default:
			if len(s.heads) >= maxConns {
				clear(s.heads)
			}
			s.heads[ann] = len(data) > 0 && data[len(data)-1] == '\n'
		}
	}
	if kept == nil {
		return append(dst, `""...`...)
	}
	dst = quote(dst, kept)
	return append(dst, "..."...)
}

// headEnd returns the index of the blank line ending an HTTP head, or -1.
func headEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i
	}
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return 0
	}
	return -1
}

// findCallIDRaw finds an "X-Call-Id:" header's value in raw header bytes:
// at the start of a line, or at b's start when atLine says b begins one.
func findCallIDRaw(b []byte, atLine bool) []byte {
	for off := 0; off < len(b); {
		i := findFold(b[off:], "x-call-id:")
		if i < 0 {
			return nil
		}
		at := off + i
		off = at + len("x-call-id:")
		if at > 0 && b[at-1] != '\n' || at == 0 && !atLine {
			continue // not at the start of a header line
		}
		v := b[off:]
		for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
			v = v[1:]
		}
		end := 0
		for end < len(v) && end < 256 && v[end] != '\r' && v[end] != '\n' && v[end] >= 0x20 && v[end] != '"' && v[end] != '\\' {
			end++
		}
		if end > 0 {
			return v[:end]
		}
	}
	return nil
}

var methods = []string{"GET ", "POST ", "PUT ", "DELETE ", "PATCH ", "HEAD ", "OPTIONS ", "CONNECT ", "TRACE "}

// requestLine returns the method's length+1 if b starts with an HTTP
// request line, else 0.
func requestLine(b []byte) int {
	for _, m := range methods {
		if bytes.HasPrefix(b, []byte(m)) {
			return len(m)
		}
	}
	return 0
}

// scrubExec masks credentials in an execve's argv (the third argument of
// execveat), keeping the program path.
func (s *Scrubber) scrubExec(dst, rest, body []byte) []byte {
	args := splitArgs(body)
	// Find the argv array: the first argument that starts with '['.
	for i := 0; i < args.n; i++ {
		a := args.a[i]
		if a.hi > a.lo && body[a.lo] == '[' {
			off := len(rest) - len(body)
			dst = append(dst, rest[:off+a.lo]...)
			dst = s.scrubArgvText(dst, body[a.lo:a.hi])
			return append(dst, rest[off+a.hi:]...)
		}
	}
	return append(dst, rest...)
}

// scrubArgvText rewrites a printed string array with each element scrubbed.
func (s *Scrubber) scrubArgvText(dst, arr []byte) []byte {
	var argv [][]byte
	var trunc []bool
	for i := 0; i < len(arr); {
		if arr[i] != '"' {
			i++
			continue
		}
		j := skipString(arr, i)
		el, _ := unquote(nil, arr[i:j])
		argv = append(argv, el)
		trunc = append(trunc, bytes.HasPrefix(arr[j:], []byte("...")))
		i = j
	}
	strs := make([]string, len(argv))
	for i, a := range argv {
		strs[i] = string(a)
	}
	strs = ScrubArgv(strs)
	// Keep strace's framing: '[' elements ']' and a trailing "..." (more
	// elements than strace prints) if there was one.
	dst = append(dst, '[')
	for i, a := range strs {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = quote(dst, []byte(a))
		if trunc[i] {
			dst = append(dst, "..."...)
		}
	}
	if c := bytes.LastIndexByte(arr, ']'); c >= 0 {
		if bytes.HasSuffix(bytes.TrimRight(arr[:c], " "), []byte(", ...")) {
			dst = append(dst, ", ..."...)
		}
		return append(dst, arr[c:]...)
	}
	return dst
}

// dropArg replaces string argument i of a call with "" (keeping the rest).
func (s *Scrubber) dropArg(dst, rest, body []byte, i int) []byte {
	args := splitArgs(body)
	if i >= args.n {
		return append(dst, rest...)
	}
	a := args.a[i]
	if a.hi <= a.lo || body[a.lo] != '"' {
		return append(dst, rest...)
	}
	off := len(rest) - len(body)
	dst = append(dst, rest[:off+a.lo]...)
	dst = append(dst, `""...`...)
	end := skipString(body, a.lo)
	if bytes.HasPrefix(body[end:], []byte("...")) {
		end += 3
	}
	return append(dst, rest[off+end:]...)
}

// dropStrings drops every string of a line that is not a call (nothing
// strace prints there holds data, but a garbled line might).
func (s *Scrubber) dropStrings(dst, rest []byte) []byte {
	if bytes.IndexByte(rest, '"') < 0 || bytes.HasPrefix(rest, []byte("--- ")) || bytes.HasPrefix(rest, []byte("+++ ")) || bytes.HasPrefix(rest, []byte("strace: ")) {
		return append(dst, rest...)
	}
	return s.rewriteStrings(dst, rest, func(dst, _ []byte, _ bool) []byte { return append(dst, `""...`...) })
}

// rewriteStrings copies rest to dst, passing each quoted string outside a
// -yy annotation and not a sockaddr's sun_path through f. f gets the quoted
// string and whether strace cut it ("..." follows); it appends the
// replacement including any "...".
func (s *Scrubber) rewriteStrings(dst, rest []byte, f func(dst, str []byte, truncated bool) []byte) []byte {
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '<' && i > 0 && isAlnum(rest[i-1]) && !(i+1 < len(rest) && rest[i+1] == '<'):
			j := skipAnnotation(rest, i)
			if j < 0 {
				return append(dst, rest[i:]...)
			}
			dst = append(dst, rest[i:j]...)
			i = j - 1
		case c == '"':
			j := skipString(rest, i)
			if bytes.HasSuffix(rest[:i], []byte("sun_path=")) || bytes.HasSuffix(rest[:i], []byte("sun_path=@")) {
				dst = append(dst, rest[i:j]...)
				i = j - 1
				continue
			}
			truncated := bytes.HasPrefix(rest[j:], []byte("..."))
			dst = f(dst, rest[i:j], truncated)
			if truncated {
				j += 3
			}
			i = j - 1
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// quote appends b as a C string literal the way strace prints one.
func quote(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range b {
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 || c >= 0x7f {
				dst = append(dst, '\\', 'x', hex[c>>4], hex[c&15])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}

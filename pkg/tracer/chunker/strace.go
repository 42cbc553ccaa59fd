package chunker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// TruncMarker ends a strace line that was too long for one chunk, so the
// parser knows the line is incomplete rather than malformed.
const TruncMarker = " <faasmon:truncated>\n"

// LineReader reads strace output line by line, never holding more than max
// bytes of one line: a longer line is cut to max bytes, ending in
// TruncMarker, and the rest of it is skipped.
type LineReader struct {
	r   *bufio.Reader
	max int
}

// NewLineReader returns a reader whose lines never exceed max bytes.
func NewLineReader(r io.Reader, max int) *LineReader {
	if max < len(TruncMarker)+1 {
		max = len(TruncMarker) + 1
	}
	size := 64 << 10
	if max < size {
		size = max
	}
	return &LineReader{r: bufio.NewReaderSize(r, size), max: max}
}

// Next returns the next line, newline included (a last line without one gets
// one), and whether it was truncated. The slice is a fresh copy.
func (l *LineReader) Next() (line []byte, truncated bool, err error) {
	for {
		frag, err := l.r.ReadSlice('\n')
		if !truncated {
			line = append(line, frag...)
			if len(line) > l.max {
				// Keep what fits with the marker; the rest of the line is
				// read and thrown away so that memory stays bounded.
				line = append(line[:l.max-len(TruncMarker)], TruncMarker...)
				truncated = true
			}
		}
		switch {
		case err == nil:
			return line, truncated, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			if !truncated {
				if len(line) >= l.max {
					line, truncated = append(line[:l.max-len(TruncMarker)], TruncMarker...), true
				} else {
					line = append(line, '\n')
				}
			}
			return line, truncated, nil
		default:
			return nil, false, err
		}
	}
}

// readSyscalls are the syscalls through which a handler receives the
// upstream request: a line of one of them showing X-Call-Id starts an
// invocation.
var readSyscalls = map[string]bool{
	"read": true, "readv": true, "recvfrom": true, "recvmsg": true, "pread64": true, "preadv": true,
}

// StraceUnit turns one line of `strace -f -ttt` output into a Unit: its
// timestamp (else now) and, for a read of an HTTP request, its X-Call-Id.
// Credentials in the line's header block are masked first (Redact).
func StraceUnit(line []byte, now time.Time) Unit {
	Redact(line)
	u := Unit{Data: line, At: now}
	rest := line
	// Optional "PID " prefix (strace -f with -o).
	if i := bytes.IndexByte(rest, ' '); i > 0 && allDigits(rest[:i]) {
		rest = rest[i+1:]
	}
	// "SECONDS.MICROS " (-ttt).
	if i := bytes.IndexByte(rest, ' '); i > 0 {
		if ts, ok := parseEpoch(rest[:i]); ok {
			u.At = ts
			rest = rest[i+1:]
		}
	}
	if !bytes.Contains(rest, []byte("X-Call-Id:")) && !bytes.Contains(bytes.ToLower(rest), []byte("x-call-id:")) {
		return u
	}
	if !readSyscalls[syscallName(rest)] {
		return u
	}
	u.CallID = callID(rest)
	return u
}

// syscallName reads "name(" or "<... name resumed>" at the start of s.
func syscallName(s []byte) string {
	if bytes.HasPrefix(s, []byte("<... ")) {
		s = s[5:]
		if i := bytes.IndexByte(s, ' '); i > 0 {
			return string(s[:i])
		}
		return ""
	}
	if i := bytes.IndexByte(s, '('); i > 0 {
		return string(s[:i])
	}
	return ""
}

// callID extracts the value of the first X-Call-Id header in s, which holds
// strace-escaped request bytes (a CRLF shows as the four characters \r\n).
func callID(s []byte) string {
	i := bytes.Index(bytes.ToLower(s), []byte("x-call-id:"))
	if i < 0 {
		return ""
	}
	v := s[i+len("x-call-id:"):]
	v = bytes.TrimLeft(v, " ")
	end := 0
	for end < len(v) && end < 128 && v[end] != '\\' && v[end] != '"' && v[end] != '\r' && v[end] != '\n' {
		end++
	}
	if end == 0 {
		// Header name visible but value cut by -s: still an invocation start.
		return "?"
	}
	return string(v[:end])
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// parseEpoch parses "1700000000.123456" without allocating a float's
// rounding error into the microseconds.
func parseEpoch(b []byte) (time.Time, bool) {
	dot := bytes.IndexByte(b, '.')
	if dot <= 0 || !allDigits(b[:dot]) || !allDigits(b[dot+1:]) || len(b)-dot-1 > 9 {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(string(b[:dot]), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	frac := string(b[dot+1:])
	ns, _ := strconv.ParseInt(frac, 10, 64)
	for i := len(frac); i < 9; i++ {
		ns *= 10
	}
	return time.Unix(sec, ns), true
}

// ErrPcap marks a malformed pcap stream.
var ErrPcap = errors.New("malformed pcap stream")

func pcapErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrPcap}, a...)...)
}

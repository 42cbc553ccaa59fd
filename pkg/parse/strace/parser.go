package strace

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/faasmon/faasmon/pkg/event"
)

const (
	// MaxLineLen bounds one input line (a chunk is at most 256,000 bytes;
	// strace lines with -s 16384 stay under 64 KiB of escapes).
	MaxLineLen = 256 << 10
	// MaxPending bounds the unfinished calls kept across lines (one per
	// traced thread at most); beyond it the oldest is emitted as partial.
	MaxPending = 4096
	// maxIntern bounds the intern table; maxInternLen the strings it keeps.
	maxIntern    = 16384
	maxInternLen = 512
	// maxHead bounds the bytes kept of an unfinished call's first half.
	maxHead = 64 << 10
)

// ErrnoUnknown is the Errno of a call whose result strace did not print: a
// call still unfinished at the end of the input, or "= ?" (the thread died
// in the call). exit_group, which never returns, does not get it.
const ErrnoUnknown = "?"

// Errors wrapped in a line's error.
var (
	ErrLineTooLong = errors.New("line too long")
	ErrSyntax      = errors.New("syntax error")
)

func syntaxErr(what string) error { return fmt.Errorf("%w: %s", ErrSyntax, what) }

// Stats counts what a Parser has seen.
type Stats struct {
	Lines    int // lines given to ParseLine
	Events   int // events returned (ParseLine and Flush)
	Unparsed int // lines that returned an error
	Messages int // "strace: ..." lines (Process N attached/detached, ...)
	Attached int // "strace: Process N attached" (and "attached with N threads")
	Detached int // "strace: Process N detached"
	Joined   int // unfinished/resumed pairs joined
	Orphans  int // resumed halves with no unfinished half seen
	Partial  int // unfinished halves emitted without their result
}

type pending struct {
	pid    int
	name   string
	t      time.Time
	lineNo int
	head   []byte // the text after "name(" up to " <unfinished ...>"
}

// Parser parses one strace stream line by line. The zero value is not
// ready: use NewParser. A Parser is not safe for concurrent use.
type Parser struct {
	// DefaultPID is the pid given to lines without a pid prefix (strace
	// without -f); the tracer knows it from the chunk header.
	DefaultPID int
	// Date is the day that -tt/-t time-of-day stamps fall on (midnight in
	// Location); zero means the current day. The day advances when a stamp
	// goes back by more than 12 h (midnight passed). -ttt needs neither.
	Date time.Time
	// Location of -tt/-t stamps; nil means UTC.
	Location *time.Location

	pending   map[int]*pending
	free      []*pending
	seq       []int // pids in order of their unfinished call, for eviction
	dangling  []byte
	hasDangle bool
	scratch   []byte
	join      []byte
	strs      map[string]string
	lastTOD   time.Duration
	haveTOD   bool
	stats     Stats
}

// NewParser returns a Parser with empty state.
func NewParser() *Parser {
	return &Parser{
		pending: make(map[int]*pending),
		strs:    make(map[string]string, 256),
	}
}

// Stats returns the counters so far.
func (p *Parser) Stats() Stats { return p.stats }

// Pending is the number of unfinished calls waiting for their second half.
func (p *Parser) Pending() int { return len(p.pending) }

// str returns b as a string, interned when short and the table has room.
func (p *Parser) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= maxInternLen && len(p.strs) < maxIntern {
		p.strs[s] = s
	}
	return s
}

// ParseLine parses one line (with or without its trailing newline). It
// returns ok=false for lines that complete no event: an unfinished call
// (kept until its resumed half), strace's own messages, blank lines, and
// errors. Errors are fmt.Errorf("parse strace line %d: %w", lineNo, err)
// and never leave state inconsistent; ParseLine never panics.
func (p *Parser) ParseLine(line []byte, lineNo int) (event.Event, bool, error) {
	p.stats.Lines++
	if len(line) > MaxLineLen {
		p.stats.Unparsed++
		return event.Event{}, false, fmt.Errorf("parse strace line %d: %w (%d bytes)", lineNo, ErrLineTooLong, len(line))
	}
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r' || line[len(line)-1] == ' ') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 {
		return event.Event{}, false, nil
	}
	if p.hasDangle {
		// The previous line was a call cut by a strace message; strace ends
		// it on this line with " <unfinished ...>".
		p.hasDangle = false
		t := bytes.TrimLeft(line, " ")
		if bytes.HasPrefix(t, []byte("<unfinished ...>")) {
			p.join = append(append(p.join[:0], p.dangling...), " <unfinished ...>"...)
		} else {
			p.join = append(append(p.join[:0], p.dangling...), line...)
		}
		line = p.join
		if len(line) > MaxLineLen {
			p.stats.Unparsed++
			return event.Event{}, false, fmt.Errorf("parse strace line %d: %w", lineNo, ErrLineTooLong)
		}
		// p.join is reused by the resumed join below; move it aside.
		p.dangling = append(p.dangling[:0], line...)
		line = p.dangling
	}
	if bytes.HasPrefix(line, []byte("strace: ")) {
		p.message(line)
		return event.Event{}, false, nil
	}
	if i := embeddedMessage(line); i > 0 {
		p.message(line[i:])
		if i > maxHead {
			p.stats.Unparsed++
			return event.Event{}, false, fmt.Errorf("parse strace line %d: %w", lineNo, ErrLineTooLong)
		}
		p.dangling = append(p.dangling[:0], line[:i]...)
		p.hasDangle = true
		return event.Event{}, false, nil
	}
	ev, ok, err := p.parse(line, lineNo)
	if err != nil {
		p.stats.Unparsed++
		return event.Event{}, false, fmt.Errorf("parse strace line %d: %w", lineNo, err)
	}
	if ok {
		p.stats.Events++
	}
	return ev, ok, nil
}

func (p *Parser) message(m []byte) {
	p.stats.Messages++
	if bytes.HasPrefix(m, []byte("strace: Process ")) {
		switch {
		case bytes.Contains(m, []byte(" attached")):
			p.stats.Attached++
		case bytes.HasSuffix(m, []byte(" detached")):
			p.stats.Detached++
		}
	}
}

// embeddedMessage finds "strace: Process N attached" printed after the
// start of a call on the same line, returning its index or -1. It only
// accepts one at the very end, after ", " or "(" outside any string, so
// data that merely contains the words is not taken for it.
func embeddedMessage(line []byte) int {
	const m = "strace: Process "
	if !bytes.HasSuffix(line, []byte(" attached")) {
		return -1
	}
	i := bytes.LastIndex(line, []byte(m))
	if i <= 0 || !(line[i-1] == ' ' || line[i-1] == '(') {
		return -1
	}
	rest := line[i+len(m):]
	_, n := parseInt(rest)
	if n == 0 || n != len(rest)-len(" attached") || !bytes.HasSuffix(rest, []byte(" attached")) {
		return -1
	}
	// The head must not end inside a string.
	q := false
	for j := 0; j < i; j++ {
		switch line[j] {
		case '\\':
			j++
		case '"':
			q = !q
		}
	}
	if q {
		return -1
	}
	return i
}

// parse handles one line without trailing whitespace.
func (p *Parser) parse(line []byte, lineNo int) (event.Event, bool, error) {
	pid, rest, err := p.prefix(line)
	if err != nil {
		return event.Event{}, false, err
	}
	t, rest, err := p.stamp(rest)
	if err != nil {
		return event.Event{}, false, err
	}
	if len(rest) == 0 {
		return event.Event{}, false, syntaxErr("no call after prefix")
	}
	switch {
	case bytes.HasPrefix(rest, []byte("+++ ")):
		return p.exit(pid, t, rest)
	case bytes.HasPrefix(rest, []byte("--- ")):
		return p.signal(pid, t, rest)
	case bytes.HasPrefix(rest, []byte("<... ")):
		return p.resumed(pid, t, rest, lineNo)
	}
	name, body, err := callName(rest)
	if err != nil {
		return event.Event{}, false, err
	}
	if h, ok := bytes.CutSuffix(body, []byte("<unfinished ...>")); ok {
		p.stash(pid, t, name, bytes.TrimRight(h, " "), lineNo)
		return event.Event{}, false, nil
	}
	return p.call(pid, t, p.syscallName(name), body, false)
}

// prefix strips "[pid  N] " or "N " and returns the pid.
func (p *Parser) prefix(line []byte) (int, []byte, error) {
	if line[0] == '[' {
		if !bytes.HasPrefix(line, []byte("[pid ")) {
			return 0, nil, syntaxErr("bad [pid prefix")
		}
		r := bytes.TrimLeft(line[5:], " ")
		v, n := parseInt(r)
		if n == 0 || n >= len(r) || r[n] != ']' || v < 0 {
			return 0, nil, syntaxErr("bad [pid prefix")
		}
		return int(v), bytes.TrimLeft(r[n+1:], " "), nil
	}
	if isDigit(line[0]) {
		v, n := parseInt(line)
		if n < len(line) && line[n] == ' ' {
			return int(v), bytes.TrimLeft(line[n:], " "), nil
		}
	}
	return p.DefaultPID, line, nil
}

// stamp parses an optional -ttt ("1795430140.155158"), -tt
// ("10:35:57.032272") or -t ("10:35:57") time stamp.
func (p *Parser) stamp(b []byte) (time.Time, []byte, error) {
	if len(b) == 0 || !isDigit(b[0]) {
		return time.Time{}, b, nil
	}
	sec, n := parseInt(b)
	if n >= len(b) {
		return time.Time{}, nil, syntaxErr("bad time stamp")
	}
	switch b[n] {
	case '.':
		ns, m := frac(b[n+1:])
		if m == 0 {
			return time.Time{}, nil, syntaxErr("bad time stamp")
		}
		r := b[n+1+m:]
		if len(r) == 0 || r[0] != ' ' {
			return time.Time{}, nil, syntaxErr("bad time stamp")
		}
		return time.Unix(sec, ns), r[1:], nil
	case ':':
		// HH:MM:SS[.frac]
		if n != 2 || len(b) < 8 || b[5] != ':' {
			return time.Time{}, nil, syntaxErr("bad time of day")
		}
		mm, k1 := parseInt(b[3:5])
		ss, k2 := parseInt(b[6:8])
		if k1 != 2 || k2 != 2 || sec > 23 || mm > 59 || ss > 60 {
			return time.Time{}, nil, syntaxErr("bad time of day")
		}
		r := b[8:]
		var ns int64
		if len(r) > 0 && r[0] == '.' {
			var m int
			ns, m = frac(r[1:])
			if m == 0 {
				return time.Time{}, nil, syntaxErr("bad time of day")
			}
			r = r[1+m:]
		}
		if len(r) == 0 || r[0] != ' ' {
			return time.Time{}, nil, syntaxErr("bad time of day")
		}
		tod := time.Duration(sec)*time.Hour + time.Duration(mm)*time.Minute + time.Duration(ss)*time.Second + time.Duration(ns)
		return p.dayTime(tod), r[1:], nil
	}
	// Digits then something else: no time stamp (e.g. a bare line).
	return time.Time{}, b, nil
}

// frac parses up to 9 fractional digits as nanoseconds.
func frac(b []byte) (int64, int) {
	var v int64
	i := 0
	for ; i < len(b) && isDigit(b[i]); i++ {
		if i < 9 {
			v = v*10 + int64(b[i]-'0')
		}
	}
	for k := i; k < 9; k++ {
		v *= 10
	}
	return v, i
}

func (p *Parser) dayTime(tod time.Duration) time.Time {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	if p.Date.IsZero() {
		y, m, d := time.Now().In(loc).Date()
		p.Date = time.Date(y, m, d, 0, 0, 0, 0, loc)
	}
	if p.haveTOD && tod+12*time.Hour < p.lastTOD {
		p.Date = p.Date.AddDate(0, 0, 1)
	}
	p.lastTOD, p.haveTOD = tod, true
	return p.Date.Add(tod)
}

// callName splits "name(rest" into name and rest.
func callName(b []byte) ([]byte, []byte, error) {
	i := 0
	for i < len(b) && isAlnum(b[i]) {
		i++
	}
	if i == 0 || i >= len(b) || b[i] != '(' {
		return nil, nil, syntaxErr("expected syscall name and '('")
	}
	return b[:i], b[i+1:], nil
}

func (p *Parser) exit(pid int, t time.Time, b []byte) (event.Event, bool, error) {
	body, ok := bytes.CutSuffix(b[4:], []byte(" +++"))
	if !ok {
		return event.Event{}, false, syntaxErr("unterminated +++ line")
	}
	ev := event.Event{Kind: event.KindExit, Time: t, PID: pid, FD: -1}
	switch {
	case bytes.HasPrefix(body, []byte("exited with ")):
		v, n := parseInt(body[len("exited with "):])
		if n == 0 {
			return event.Event{}, false, syntaxErr("bad exit code")
		}
		ev.ExitCode = int(v)
	case bytes.HasPrefix(body, []byte("killed by ")):
		s := body[len("killed by "):]
		s, _ = bytes.CutSuffix(s, []byte(" (core dumped)"))
		if len(s) == 0 {
			return event.Event{}, false, syntaxErr("bad killed-by line")
		}
		ev.Signal = p.str(s)
	case bytes.HasPrefix(body, []byte("superseded by execve")):
		// A non-leader thread's execve replaced the leader: no exit event.
		return event.Event{}, false, nil
	default:
		return event.Event{}, false, syntaxErr("unknown +++ line")
	}
	return ev, true, nil
}

func (p *Parser) signal(pid int, t time.Time, b []byte) (event.Event, bool, error) {
	body, ok := bytes.CutSuffix(b[4:], []byte(" ---"))
	if !ok {
		return event.Event{}, false, syntaxErr("unterminated --- line")
	}
	// "SIGCHLD {si_signo=...}" or "stopped by SIGSTOP".
	i := bytes.Index(body, []byte("SIG"))
	if i < 0 {
		return event.Event{}, false, syntaxErr("no signal name")
	}
	j := i
	for j < len(body) && isAlnum(body[j]) {
		j++
	}
	return event.Event{Kind: event.KindSignal, Time: t, PID: pid, FD: -1, Signal: p.str(body[i:j])}, true, nil
}

// stash keeps the first half of an unfinished call.
func (p *Parser) stash(pid int, t time.Time, name, head []byte, lineNo int) {
	if len(head) > maxHead {
		head = head[:maxHead]
	}
	if old, ok := p.pending[pid]; ok {
		// A second unfinished call from one pid: the first one's end was
		// lost (cannot happen in a whole strace stream). Drop it.
		p.release(old)
		p.stats.Partial++
	} else if len(p.pending) >= MaxPending {
		p.evictOldest()
	}
	var pe *pending
	if n := len(p.free); n > 0 {
		pe, p.free = p.free[n-1], p.free[:n-1]
	} else {
		pe = new(pending)
	}
	pe.pid, pe.name, pe.t, pe.lineNo = pid, p.syscallName(name), t, lineNo
	pe.head = append(pe.head[:0], head...)
	p.pending[pid] = pe
	p.seq = append(p.seq, pid)
	if len(p.seq) > 4*MaxPending {
		p.compactSeq()
	}
}

func (p *Parser) release(pe *pending) {
	delete(p.pending, pe.pid)
	if cap(pe.head) <= 4096 {
		p.free = append(p.free, pe)
	}
}

func (p *Parser) compactSeq() {
	out := p.seq[:0]
	seen := make(map[int]bool, len(p.pending))
	for i := len(p.seq) - 1; i >= 0; i-- {
		pid := p.seq[i]
		if _, ok := p.pending[pid]; ok && !seen[pid] {
			seen[pid] = true
			out = append(out, pid)
		}
	}
	slices.Reverse(out)
	p.seq = out
}

func (p *Parser) evictOldest() {
	for len(p.seq) > 0 {
		pid := p.seq[0]
		p.seq = p.seq[1:]
		if pe, ok := p.pending[pid]; ok {
			p.release(pe)
			p.stats.Partial++
			return
		}
	}
}

// resumed handles "<... name resumed>rest".
func (p *Parser) resumed(pid int, t time.Time, b []byte, lineNo int) (event.Event, bool, error) {
	b = b[len("<... "):]
	i := bytes.Index(b, []byte(" resumed>"))
	if i <= 0 {
		return event.Event{}, false, syntaxErr("bad resumed marker")
	}
	name := b[:i]
	tail := b[i+len(" resumed>"):]
	// "<... read resumed> <unfinished ...>) = ?": the thread died in the call.
	if r, ok := bytes.CutPrefix(tail, []byte(" <unfinished ...>")); ok {
		tail = r
	}
	pe, ok := p.pending[pid]
	if ok && pe.name == string(name) {
		p.join = append(append(p.join[:0], pe.head...), tail...)
		start, sc := pe.t, pe.name
		p.release(pe)
		p.stats.Joined++
		return p.call(pid, start, sc, p.join, false)
	}
	p.stats.Orphans++
	return p.call(pid, t, p.syscallName(name), tail, true)
}

// Flush emits every call still unfinished (its result was not in the
// input), oldest first, with Errno ErrnoUnknown, and clears the state. Call
// it at the end of a chunk.
func (p *Parser) Flush() []event.Event {
	if len(p.pending) == 0 {
		p.seq = p.seq[:0]
		return nil
	}
	out := make([]event.Event, 0, len(p.pending))
	for _, pid := range p.seq {
		pe, ok := p.pending[pid]
		if !ok {
			continue
		}
		ev, ok, err := p.call(pe.pid, pe.t, pe.name, pe.head, false)
		p.release(pe)
		if err == nil && ok {
			out = append(out, ev)
			p.stats.Events++
			p.stats.Partial++
		}
	}
	p.seq = p.seq[:0]
	for pid, pe := range p.pending { // not reachable through seq (cannot happen)
		p.release(pe)
		delete(p.pending, pid)
	}
	return out
}

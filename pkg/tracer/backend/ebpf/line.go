package ebpf

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/faasmon/faasmon/pkg/event"
)

// appendLine appends ev as one JSON line, the same document json.Marshal
// writes for the fields this backend fills (encoding/json's reflection cost
// several times the decoding of a record: on a node running a syscall-heavy
// function that CPU is taken from the function). TestAppendLineMatches
// holds it to encoding/json's output; a field this backend does not fill
// (Flow, HTTP, DNS) is not written.
func appendLine(b []byte, ev *event.Event) []byte {
	b = append(b, `{"k":`...)
	b = appendString(b, string(ev.Kind))
	b = append(b, `,"t":"`...)
	b = ev.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	num := func(name string, v int64) {
		if v != 0 {
			b = append(b, `,"`...)
			b = append(b, name...)
			b = append(b, `":`...)
			b = strconv.AppendInt(b, v, 10)
		}
	}
	str := func(name, v string) {
		if v != "" {
			b = append(b, `,"`...)
			b = append(b, name...)
			b = append(b, `":`...)
			b = appendString(b, v)
		}
	}
	num("pid", int64(ev.PID))
	str("sc", ev.Syscall)
	num("ret", ev.Ret)
	if ev.Thread {
		b = append(b, `,"thread":true`...)
	}
	num("target", int64(ev.Target))
	str("errno", ev.Errno)
	num("fd", int64(ev.FD))
	str("path", ev.Path)
	str("path2", ev.Path2)
	if len(ev.Argv) > 0 {
		b = append(b, `,"argv":[`...)
		for i, a := range ev.Argv {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	str("flags", ev.Flags)
	num("mode", int64(ev.Mode))
	str("proto", ev.Proto)
	str("local", ev.Local)
	str("remote", ev.Remote)
	num("bytes", ev.Bytes)
	str("sig", ev.Signal)
	num("exit", int64(ev.ExitCode))
	str("call_id", ev.CallID)
	return append(b, "}\n"...)
}

const hex = "0123456789abcdef"

// appendString quotes s as encoding/json does (HTML-safe escapes, invalid
// UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// This file and lineread.go are the Event contract's line codec: one Event
// as one line of JSON, the same document encoding/json writes for it, by
// hand. encoding/json's reflection costs several times the work of the
// sensor that made the event (the eBPF sensor writes its chunks with
// AppendLine) and was half of faasmon-parse's CPU per chunk when it
// encoded the batch for faasmon-graph (issue 15, BENCHMARKS.md "What the
// detector costs"). TestAppendLineMatches and FuzzAppendLine hold it to
// encoding/json's output.

// AppendLine appends e as one JSON line (the document json.Marshal(e)
// writes, then '\n'). A time json.Marshal refuses (a year outside
// [0,9999], a zone offset of 24 h or more) is written as time.RFC3339Nano
// formats it, which no reader accepts: TimeErr says whether e has one.
func AppendLine(b []byte, e *Event) []byte {
	b = append(b, `{"k":`...)
	b = appendString(b, string(e.Kind))
	b = append(b, `,"t":`...)
	b = appendTime(b, e.Time)
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
	num("pid", int64(e.PID))
	str("sc", e.Syscall)
	num("ret", e.Ret)
	if e.Thread {
		b = append(b, `,"thread":true`...)
	}
	num("target", int64(e.Target))
	str("errno", e.Errno)
	num("fd", int64(e.FD))
	str("path", e.Path)
	str("path2", e.Path2)
	if len(e.Argv) > 0 {
		b = append(b, `,"argv":[`...)
		for i, a := range e.Argv {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	str("flags", e.Flags)
	num("mode", int64(e.Mode))
	str("proto", e.Proto)
	str("local", e.Local)
	str("remote", e.Remote)
	num("bytes", e.Bytes)
	str("sig", e.Signal)
	num("exit", int64(e.ExitCode))
	str("call_id", e.CallID)
	// The pcap parts (the tcpdump sensor's events): no omitempty inside
	// them, as their struct tags say.
	if f := e.Flow; f != nil {
		b = append(b, `,"flow":{"proto":`...)
		b = appendString(b, f.Proto)
		b = append(b, `,"src":`...)
		b = appendString(b, f.Src)
		b = append(b, `,"dst":`...)
		b = appendString(b, f.Dst)
		b = append(b, `,"packets":`...)
		b = strconv.AppendInt(b, int64(f.Packets), 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, f.Bytes, 10)
		b = append(b, `,"first":`...)
		b = appendTime(b, f.First)
		b = append(b, `,"last":`...)
		b = appendTime(b, f.Last)
		if f.SawSYN {
			b = append(b, `,"syn":true`...)
		}
		if f.Outbound {
			b = append(b, `,"outbound":true`...)
		}
		b = append(b, '}')
	}
	if h := e.HTTP; h != nil {
		b = append(b, `,"http":{"src":`...)
		b = appendString(b, h.Src)
		b = append(b, `,"dst":`...)
		b = appendString(b, h.Dst)
		b = append(b, `,"method":`...)
		b = appendString(b, h.Method)
		if h.Host != "" {
			b = append(b, `,"host":`...)
			b = appendString(b, h.Host)
		}
		b = append(b, `,"path":`...)
		b = appendString(b, h.Path)
		if h.CallID != "" {
			b = append(b, `,"call_id":`...)
			b = appendString(b, h.CallID)
		}
		b = append(b, '}')
	}
	if d := e.DNS; d != nil {
		b = append(b, `,"dns":{"src":`...)
		b = appendString(b, d.Src)
		b = append(b, `,"dst":`...)
		b = appendString(b, d.Dst)
		b = append(b, `,"name":`...)
		b = appendString(b, d.Name)
		b = append(b, `,"type":`...)
		b = appendString(b, d.Type)
		b = append(b, '}')
	}
	return append(b, "}\n"...)
}

// appendTime quotes t as time.Time's MarshalJSON does when it does not
// fail.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// TimeErr says whether json.Marshal would refuse e for one of its times
// (time.Time's MarshalJSON: a year outside [0,9999] or a zone offset of
// 24 hours or more, which RFC 3339 cannot write), so that an encoder built
// on AppendLine fails where encoding/json fails.
func TimeErr(e *Event) bool {
	if badTime(e.Time) {
		return true
	}
	return e.Flow != nil && (badTime(e.Flow.First) || badTime(e.Flow.Last))
}

func badTime(t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return true
	}
	_, off := t.Zone()
	// RFC 3339 writes the offset in whole minutes: hh is off/3600 rounded
	// towards zero.
	return off/3600 >= 24 || off/3600 <= -24
}

const hex = "0123456789abcdef"

// plain[c] says that byte c stands for itself in a JSON string as
// encoding/json writes it: printable ASCII but " \\ < > &. One lookup per
// byte: appendString's scan was a third of AppendLine's time.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString quotes s as encoding/json does (HTML-safe escapes, invalid
// UTF-8 as U+FFFD, \b and \f as encoding/json has written them since Go
// 1.22).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if plain[s[i]] {
			i++
			continue
		}
		if c := s[i]; c < utf8.RuneSelf {
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
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
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

package ebpf

import (
	"errors"
	"testing"

	"github.com/faasmon/faasmon/pkg/tracer/backend"
)

// FuzzDecode feeds arbitrary records to the decoder: records come from the
// kernel, but a decoder that panics on one would take every container's
// stream down with it.
func FuzzDecode(f *testing.F) {
	f.Add(rec{nr: 257, pid: 10, ret: 3, args: [6]uint64{atFDCWD, 0, 0}, s1: "/etc/passwd"}.bytes())
	f.Add(rec{nr: 42, pid: 10, args: [6]uint64{3, 0, 16}, bytes1: sockaddrIn([4]byte{127, 0, 0, 1}, 80)}.bytes())
	f.Add(rec{nr: 59, enter: true, pid: 20, s1: "/bin/sh"}.bytes())
	f.Add(rec{nr: 316, pid: 10, s1: "a", s2: "b"}.bytes())
	f.Add(rec{nr: 56, fork: true, pid: 10, ret: 11}.bytes()) // a fork record
	// DNS queries: a sendto naming the resolver, a sendmmsg.
	f.Add(rec{nr: 44, pid: 10, ret: 29, args: [6]uint64{3}, dns: dnsQuery(1, "example.com", 1), dnsAddr: sockaddrIn([4]byte{127, 0, 0, 53}, 53)}.bytes())
	f.Add(rec{nr: 307, pid: 10, ret: 1, args: [6]uint64{3}, dns: dnsQuery(1, "example.com", 28), dnsAddr: sockaddrIn6([16]byte{15: 1}, 53)}.bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &Decoder{}
		for i := 0; i < 2; i++ { // twice: the second sees the state the first left
			evs, err := d.Decode(b)
			if err != nil {
				if !errors.Is(err, ErrRecord) {
					t.Fatalf("error not ErrRecord: %v", err)
				}
				continue
			}
			for _, e := range evs {
				line, _ := appendLine(nil, e, 0)
				if _, err := Parse(line); err != nil {
					t.Fatalf("decoded event does not parse back: %v\n%s", err, line)
				}
			}
		}
	})
}

// FuzzParse: chunk bodies come from the queue, untrusted.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"k":"syscall","t":"2026-12-01T21:00:00Z","pid":7,"sc":"openat","ret":-1,"errno":"EACCES","fd":-1,"path":"/etc/shadow","flags":"O_RDONLY"}` + "\n"))
	f.Add([]byte(`{"k":"exit","t":"2026-12-01T21:00:00Z","pid":7,"fd":-1,"exit":3}`))
	f.Add([]byte("{\"k\":\"flow\"}\n\x00\xff"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Parse(body)
		if err != nil {
			if !errors.Is(err, backend.ErrInput) {
				t.Fatalf("error not ErrInput: %v", err)
			}
			return
		}
		for _, e := range p.Events {
			if err := valid(e); err != nil {
				t.Fatalf("Parse returned an invalid event: %v", err)
			}
		}
	})
}

package ebpf

import (
	"errors"
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
)

func TestParse(t *testing.T) {
	ok := `{"k":"syscall","t":"2026-12-01T21:00:00Z","pid":7,"sc":"openat","ret":3,"fd":3,"path":"/etc/hosts","flags":"O_RDONLY"}`
	tests := []struct {
		name           string
		body           string
		events, unpars int
		err            bool
	}{
		{"one event", ok + "\n", 1, 0, false},
		{"no final newline, blank lines", "\n" + ok + "\n\n" + ok, 2, 0, false},
		{"unknown field", strings.Replace(ok, `"fd"`, `"fdx"`, 1) + "\n" + ok, 1, 1, false},
		{"pcap kind", `{"k":"flow","t":"2026-12-01T21:00:00Z","pid":7}` + "\n" + ok, 1, 1, false},
		{"syscall not recorded", strings.Replace(ok, "openat", "mmap", 1) + "\n" + ok, 1, 1, false},
		{"no pid", strings.Replace(ok, `"pid":7,`, "", 1) + "\n" + ok, 1, 1, false},
		{"two documents on a line", ok + ok + "\n" + ok, 1, 1, false},
		{"pcap fields on a syscall", strings.Replace(ok, `"fd":3`, `"fd":3,"dns":{"src":"a","dst":"b","name":"x","type":"A"}`, 1) + "\n" + ok, 1, 1, false},
		{"nothing readable", "not json\n", 0, 1, true},
		{"empty", "", 0, 0, true},
		{"too large", strings.Repeat(ok+"\n", chunk.MaxBytes/len(ok)+1), 0, 0, true},
		{"line too long", `{"k":"syscall","path":"` + strings.Repeat("a", maxLine) + `"}`, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.body))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err != nil {
				if !errors.Is(err, backend.ErrInput) {
					t.Errorf("error %v does not wrap ErrInput", err)
				}
				return
			}
			if len(p.Events) != tt.events || p.Unparsed != tt.unpars {
				t.Errorf("%d events, %d unparsed (%v); want %d, %d", len(p.Events), p.Unparsed, p.Errors, tt.events, tt.unpars)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	b, ok := backend.Lookup(Kind)
	if !ok {
		t.Fatalf("kind %q not registered (have %v)", Kind, backend.Kinds())
	}
	if b.ContentType() != ContentType || b.Kind() != Kind {
		t.Errorf("registered backend: kind %q type %q", b.Kind(), b.ContentType())
	}
}

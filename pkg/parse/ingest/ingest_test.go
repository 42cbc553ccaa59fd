package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
)

func header(kind chunk.Kind) chunk.Header {
	t := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	return chunk.Header{Node: "n", Function: "f", Container: "c", PID: 1, Kind: kind, Stream: "s", Start: t, End: t}
}

func TestChunk(t *testing.T) {
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	node := read("../strace/testdata/node.strace")
	pcapBytes := read("../pcap/testdata/sll2_any.pcap")
	for _, tc := range []struct {
		name    string
		kind    chunk.Kind
		body    []byte
		wantErr bool
		want    event.Kind // an event kind the batch must hold
	}{
		{"real node.js strace", chunk.KindStrace, node, false, event.KindSyscall},
		{"real pcap, tcpdump -i any", chunk.KindPcap, pcapBytes, false, event.KindHTTP},
		{"empty", chunk.KindStrace, nil, true, ""},
		{"over the async limit", chunk.KindStrace, bytes.Repeat([]byte("x\n"), chunk.MaxBytes), true, ""},
		{"binary garbage as strace", chunk.KindStrace, []byte("\x00\x01\x02\xff\xfe garbage"), true, ""},
		{"text lines that are not strace", chunk.KindStrace, []byte("hello\nworld\n"), true, ""},
		{"strace text sent as pcap", chunk.KindPcap, node[:1000], true, ""},
		{"truncated pcap keeps what it read", chunk.KindPcap, pcapBytes[:len(pcapBytes)-7], false, event.KindFlow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Chunk(header(tc.kind), tc.body)
			if tc.wantErr {
				if !errors.Is(err, ErrInput) {
					t.Fatalf("err = %v, want ErrInput", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Version != event.SchemaVersion || b.Chunk.Kind != tc.kind {
				t.Errorf("batch header %+v", b.Chunk)
			}
			found := false
			for _, e := range b.Events {
				found = found || e.Kind == tc.want
			}
			if !found {
				t.Errorf("no %s event among %d", tc.want, len(b.Events))
			}
		})
	}
}

// TestChunkFromOldTracerKeepsNoCredentials: a chunk that was not scrubbed
// on the node (an older tracer) still gives a batch without the command
// line's credentials or data read, and without a call id from a response.
func TestChunkFromOldTracerKeepsNoCredentials(t *testing.T) {
	body := []byte(`9 1700000000.000001 execve("/usr/bin/curl", ["curl", "-u", "admin:CANARY-1", "https://bob:CANARY-2@x/?token=CANARY-3", "-H", "Private-Token: CANARY-4"], 0x1 /* 3 vars */) = 0
9 1700000000.000002 openat(AT_FDCWD</>, "/run/secrets/db", O_RDONLY) = 3</run/secrets/db>
9 1700000000.000003 read(3</run/secrets/db>, "CANARY-5\n", 4096) = 9
9 1700000000.000004 read(4<TCP:[10.0.0.2:40000->10.0.0.9:80]>, "HTTP/1.1 200 OK\r\nX-Call-Id: forged\r\n\r\n", 4096) = 38
`)
	b, err := Chunk(header(chunk.KindStrace), body)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(b)
	for i := 1; i <= 5; i++ {
		if c := fmt.Sprintf("CANARY-%d", i); bytes.Contains(js, []byte(c)) {
			t.Errorf("%s in the batch: %s", c, js)
		}
	}
	if bytes.Contains(js, []byte("forged")) {
		t.Errorf("call id taken from a response: %s", js)
	}
	if len(b.Events) != 4 || b.Events[1].Path != "/run/secrets/db" {
		t.Errorf("events: %+v", b.Events)
	}
}

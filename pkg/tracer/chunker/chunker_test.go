package chunker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/faasmon/faasmon/pkg/chunk"
)

var t0 = time.Unix(1_700_000_000, 0)

func meta() chunk.Header {
	return chunk.Header{Node: "n1", Function: "fn", Container: "c1", PID: 42, Kind: chunk.KindStrace, Stream: "c1-strace-1"}
}

type step struct {
	data   string
	call   string
	after  time.Duration // wall time of this unit, from t0
	tickAt time.Duration // if > 0, Tick at this wall time after Add
}

func TestCutter(t *testing.T) {
	line := func(n int) string { return strings.Repeat("a", n-1) + "\n" }
	tests := []struct {
		name  string
		cfg   Config
		steps []step
		want  []string // bodies
	}{
		{
			name:  "cut before a new call id, not twice for the same one",
			steps: []step{{data: "x\n"}, {data: "req1\n", call: "A"}, {data: "y\n"}, {data: "req1-again\n", call: "A"}, {data: "req2\n", call: "B"}},
			want:  []string{"x\n", "req1\ny\nreq1-again\n", "req2\n"},
		},
		{
			name:  "call id on the very first unit gives no empty chunk",
			steps: []step{{data: "req\n", call: "A"}, {data: "z\n"}},
			want:  []string{"req\nz\n"},
		},
		{
			name:  "size cap cuts on unit boundaries",
			cfg:   Config{MaxBytes: 10},
			steps: []step{{data: line(4)}, {data: line(4)}, {data: line(4)}, {data: line(10)}, {data: line(1)}},
			want:  []string{line(4) + line(4), line(4), line(10), line(1)},
		},
		{
			name:  "oversize unit is shortened to the cap",
			cfg:   Config{MaxBytes: 8},
			steps: []step{{data: "0123456789\n"}},
			want:  []string{"01234567"},
		},
		{
			name: "quiet period closes the chunk",
			cfg:  Config{Quiet: 200 * time.Millisecond, MaxAge: time.Hour},
			steps: []step{{data: "a\n", after: 0, tickAt: 100 * time.Millisecond}, {data: "b\n", after: 150 * time.Millisecond, tickAt: 349 * time.Millisecond},
				{data: "c\n", after: 360 * time.Millisecond, tickAt: 560 * time.Millisecond}, {data: "d\n", after: 600 * time.Millisecond}},
			want: []string{"a\nb\nc\n", "d\n"},
		},
		{
			name: "time cap closes a busy chunk",
			cfg:  Config{Quiet: time.Hour, MaxAge: time.Second},
			steps: []step{{data: "a\n", after: 0}, {data: "b\n", after: 500 * time.Millisecond, tickAt: 999 * time.Millisecond},
				{data: "c\n", after: 999 * time.Millisecond, tickAt: 1000 * time.Millisecond}, {data: "d\n", after: 1100 * time.Millisecond}},
			want: []string{"a\nb\nc\n", "d\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []Chunk
			c := NewCutter(tc.cfg, meta(), func(ch Chunk) { got = append(got, ch) })
			for i, s := range tc.steps {
				c.Add(Unit{Data: []byte(s.data), At: t0.Add(time.Duration(i) * time.Millisecond), CallID: s.call}, t0.Add(s.after))
				if s.tickAt > 0 {
					c.Tick(t0.Add(s.tickAt))
				}
			}
			c.Flush()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d chunks %q, want %d %q", len(got), bodies(got), len(tc.want), tc.want)
			}
			for i, ch := range got {
				if string(ch.Body) != tc.want[i] {
					t.Errorf("chunk %d = %q, want %q", i, ch.Body, tc.want[i])
				}
				if ch.Header.Seq != uint64(i) {
					t.Errorf("chunk %d has seq %d", i, ch.Header.Seq)
				}
				if ch.Header.End.Before(ch.Header.Start) || ch.Header.Stream != "c1-strace-1" {
					t.Errorf("chunk %d header %+v", i, ch.Header)
				}
				max := tc.cfg.MaxBytes
				if max == 0 {
					max = chunk.MaxBytes
				}
				if len(ch.Body) > max {
					t.Errorf("chunk %d has %d bytes > %d", i, len(ch.Body), max)
				}
			}
		})
	}
}

func bodies(cs []Chunk) []string {
	var s []string
	for _, c := range cs {
		s = append(s, string(c.Body))
	}
	return s
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 5000)
	in := "short\n" + long + "\nafter\nlast-no-newline"
	lr := NewLineReader(strings.NewReader(in), 100)
	var lines []string
	var truncs []bool
	for {
		l, tr, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(l))
		truncs = append(truncs, tr)
	}
	want := []string{"short\n", long[:100-len(TruncMarker)] + TruncMarker, "after\n", "last-no-newline\n"}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("lines = %q\nwant %q", lines, want)
	}
	if fmt.Sprint(truncs) != "[false true false false]" {
		t.Fatalf("truncated = %v", truncs)
	}
	for _, l := range lines {
		if len(l) > 100 {
			t.Errorf("line of %d bytes over the limit", len(l))
		}
	}
}

func TestStraceUnit(t *testing.T) {
	now := time.Unix(5, 0)
	tests := []struct {
		line string
		at   time.Time
		call string
	}{
		{`123 1700000000.123456 read(3<TCP:[10.62.3.2:8080->10.62.3.1:40000]>, "POST / HTTP/1.1\r\nHost: 10.62.3.2:8080\r\nX-Call-Id: 9b1c-77\r\nX-Start-Time: 1"..., 65536) = 412` + "\n",
			time.Unix(1700000000, 123456000), "9b1c-77"},
		{`123 1700000000.5 <... recvfrom resumed>"GET / HTTP/1.1\r\nx-call-id: abc\r\n", 256, 0, NULL, NULL) = 40` + "\n",
			time.Unix(1700000000, 500000000), "abc"},
		{`123 1700000000.000001 write(4<TCP:[1.2.3.4:1->5.6.7.8:2]>, "POST / HTTP/1.1\r\nX-Call-Id: out\r\n", 33) = 33` + "\n",
			time.Unix(1700000000, 1000), ""},
		{`1700000001.000000 openat(AT_FDCWD</>, "/etc/passwd", O_RDONLY) = 3</etc/passwd>` + "\n", time.Unix(1700000001, 0), ""},
		{"strace: garbage\n", now, ""},
	}
	for _, tc := range tests {
		u := StraceUnit([]byte(tc.line), now)
		if !u.At.Equal(tc.at) || u.CallID != tc.call {
			t.Errorf("StraceUnit(%.40q) = at %v call %q, want %v %q", tc.line, u.At, u.CallID, tc.at, tc.call)
		}
	}
}

// TestPcapRechunk cuts a real capture (tcpdump -i any -s 256 in a netns,
// three HTTP requests with X-Call-Id) into small chunks and checks that each
// parses alone with pcapgo, that nothing is lost or reordered, and that every
// request carrying X-Call-Id opens its chunk.
func TestPcapRechunk(t *testing.T) {
	raw, err := os.ReadFile("testdata/http-callid.pcap")
	if err != nil {
		t.Fatal(err)
	}
	for _, max := range []int{600, 2000, chunk.MaxBytes} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			var got []Chunk
			c := NewCutter(Config{MaxBytes: max}, meta(), func(ch Chunk) { got = append(got, ch) })
			pr, err := NewPcapReader(bytes.NewReader(raw), c.cfg.MaxBytes-24)
			if err != nil {
				t.Fatal(err)
			}
			if pr.LinkType() != linkSLL2 {
				t.Fatalf("link type %d, want LINUX_SLL2", pr.LinkType())
			}
			if err := c.SetPrefix(pr.GlobalHeader()); err != nil {
				t.Fatal(err)
			}
			var calls []string
			records := 0
			for {
				u, _, err := pr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				records++
				if u.CallID != "" {
					calls = append(calls, u.CallID)
				}
				c.Add(u, u.At)
			}
			c.Flush()
			if fmt.Sprint(calls) != "[call-1 call-2 call-3]" {
				t.Fatalf("call ids seen: %v", calls)
			}
			var rebuilt []byte
			total := 0
			var opened []string
			for i, ch := range got {
				if len(ch.Body) > max {
					t.Fatalf("chunk %d: %d bytes > %d", i, len(ch.Body), max)
				}
				r, err := pcapgo.NewReader(bytes.NewReader(ch.Body))
				if err != nil {
					t.Fatalf("chunk %d does not parse alone: %v", i, err)
				}
				first := true
				for {
					data, ci, err := r.ReadPacketData()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("chunk %d: %v", i, err)
					}
					total++
					if ci.Timestamp.Before(ch.Header.Start) || ci.Timestamp.After(ch.Header.End) {
						t.Errorf("chunk %d: packet at %v outside [%v, %v]", i, ci.Timestamp, ch.Header.Start, ch.Header.End)
					}
					p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
					if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && bytes.Contains(tcp.Payload, []byte("X-Call-Id")) && bytes.HasPrefix(tcp.Payload, []byte("POST")) {
						if !first {
							t.Errorf("chunk %d: request with X-Call-Id is not the first packet", i)
						}
						opened = append(opened, i2s(i))
					}
					first = false
				}
				rebuilt = append(rebuilt, ch.Body[24:]...)
			}
			if total != records {
				t.Fatalf("%d packets in chunks, %d in the capture", total, records)
			}
			// Every record is there, in order, with its framing; payloads
			// are scrubbed (ScrubPacket) as they are read.
			if !bytes.Equal(rebuilt, scrubCapture(t, raw)[24:]) {
				t.Fatal("chunks do not concatenate back to the (scrubbed) capture")
			}
			if len(opened) != 3 {
				t.Fatalf("requests with X-Call-Id found by gopacket: %v", opened)
			}
		})
	}
}

func i2s(i int) string { return fmt.Sprint(i) }

func TestPcapTruncatesAndRejects(t *testing.T) {
	raw, err := os.ReadFile("testdata/http-callid.pcap")
	if err != nil {
		t.Fatal(err)
	}
	pr, err := NewPcapReader(bytes.NewReader(raw), 16+40)
	if err != nil {
		t.Fatal(err)
	}
	u, trunc, err := pr.Next()
	if err != nil || !trunc || len(u.Data) != 56 {
		t.Fatalf("record = %d bytes, truncated %v, err %v", len(u.Data), trunc, err)
	}
	// A shortened record is still valid pcap.
	r, err := pcapgo.NewReader(bytes.NewReader(append(pr.GlobalHeader(), u.Data...)))
	if err != nil {
		t.Fatal(err)
	}
	if d, ci, err := r.ReadPacketData(); err != nil || len(d) != 40 || ci.Length <= 40 {
		t.Fatalf("shortened record: %d bytes, orig %d, %v", len(d), ci.Length, err)
	}
	if _, err := NewPcapReader(strings.NewReader(strings.Repeat("z", 24)), 1000); !errors.Is(err, ErrPcap) {
		t.Fatalf("bad magic: %v", err)
	}
	bad := append(append([]byte(nil), raw[:24]...), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0)
	pr, _ = NewPcapReader(bytes.NewReader(bad), 1000)
	if _, _, err := pr.Next(); !errors.Is(err, ErrPcap) {
		t.Fatalf("huge record: %v", err)
	}
}

// scrubCapture applies ScrubPacket to every record of a capture, walking
// the file format by hand (not through PcapReader, which is under test).
func scrubCapture(t *testing.T, raw []byte) []byte {
	t.Helper()
	out := append([]byte(nil), raw...)
	var order binary.ByteOrder = binary.LittleEndian
	if binary.BigEndian.Uint32(out[0:4]) == 0xa1b2c3d4 || binary.BigEndian.Uint32(out[0:4]) == 0xa1b23c4d {
		order = binary.BigEndian
	}
	link := order.Uint32(out[20:24]) & 0x0fffffff
	for off := 24; off+16 <= len(out); {
		incl := int(order.Uint32(out[off+8 : off+12]))
		if off+16+incl > len(out) {
			t.Fatalf("record at %d overruns the capture", off)
		}
		ScrubPacket(link, out[off+16:off+16+incl])
		off += 16 + incl
	}
	return out
}

func TestMaxUnits(t *testing.T) {
	var got []int
	c := NewCutter(Config{MaxUnits: 3, Quiet: time.Hour, MaxAge: time.Hour}, chunk.Header{Kind: chunk.KindStrace, Stream: "s"}, func(ch Chunk) {
		got = append(got, bytes.Count(ch.Body, []byte("\n")))
	})
	now := time.Now()
	for i := 0; i < 7; i++ {
		c.Add(Unit{Data: []byte("x\n"), At: now}, now)
	}
	c.Flush()
	if fmt.Sprint(got) != "[3 3 1]" {
		t.Errorf("lines per chunk %v, want [3 3 1]", got)
	}
}

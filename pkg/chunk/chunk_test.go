package chunk

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func header() Header {
	return Header{Node: "n", Function: "f", Container: "c", PID: 10, Kind: KindStrace, Stream: "s", Seq: 3,
		Start: time.Unix(1, 0).UTC(), End: time.Unix(2, 0).UTC(), Dropped: 2, DroppedBytes: 20480, Threads: map[int]int{11: 10, 12: 10, 21: 20}}
}

func TestRoundTrip(t *testing.T) {
	hdr := http.Header{}
	h := header()
	h.Set(hdr)
	if got := hdr.Get(HThreads); got != "11=10,12=10,21=20" {
		t.Errorf("%s = %q", HThreads, got)
	}
	back, err := Parse(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, h) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, h)
	}
	h.Born, h.Untraced, h.Lost = true, 3, 7
	hdr = http.Header{}
	h.Set(hdr)
	if back, err = Parse(hdr); err != nil || !back.Born || back.Untraced != 3 || back.Lost != 7 {
		t.Errorf("born: %+v %v", back, err)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, key, value string
	}{
		{"kind", HKind, "nosuch"},
		{"pid", HPID, "0"},
		{"seq", HSeq, "-1"},
		{"end before start", HEnd, time.Unix(0, 0).UTC().Format(time.RFC3339Nano)},
		{"control characters", HNode, "a\x00b"},
		{"long field", HFunction, strings.Repeat("f", maxField+1)},
		{"thread pair", HThreads, "11=10,12"},
		{"thread id", HThreads, "0=10"},
		{"thread pid", HThreads, "11=-1"},
		{"too many threads", HThreads, strings.Repeat("1=1,", MaxThreads) + "1=1"},
		{"dropped bytes", HDroppedBytes, "-5"},
		{"born", HBorn, "yes"},
		{"untraced", HUntraced, "-1"},
		{"lost", HLost, "x"},
		{"untraced too many", HUntraced, "99999999999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			header().Set(hdr)
			hdr.Set(tc.key, tc.value)
			if _, err := Parse(hdr); !errors.Is(err, ErrHeader) {
				t.Errorf("%s=%q: %v, want ErrHeader", tc.key, tc.value, err)
			}
		})
	}
}

func FuzzParseThreads(f *testing.F) {
	f.Add("11=10,12=10")
	f.Add("")
	f.Add("1=")
	f.Fuzz(func(t *testing.T, v string) {
		m, err := ParseThreads(v)
		if err != nil {
			return
		}
		if len(m) > MaxThreads {
			t.Fatalf("%d threads", len(m))
		}
		again, err := ParseThreads(FormatThreads(m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("%q: re-parse %v %v", v, again, err)
		}
	})
}

// TestEveryStageKnowsTheSensors: faasmon-graph links no sensor backend, yet
// must accept the headers of every kind the tracer sends (before, an ebpf
// batch was refused there as an unknown kind), and know pcap's role.
func TestEveryStageKnowsTheSensors(t *testing.T) {
	for _, k := range []Kind{KindStrace, KindPcap, KindEBPF} {
		h := header()
		h.Kind = k
		if err := h.Validate(); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if RoleOf(KindPcap) != RoleFlows || RoleOf(KindEBPF) != RoleProcess || RoleOf(KindStrace) != RoleProcess {
		t.Error("roles of the built-in kinds")
	}
}

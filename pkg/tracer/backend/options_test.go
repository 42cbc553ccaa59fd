package backend_test

import (
	"context"
	"io"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
	"github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	"github.com/faasmon/faasmon/pkg/tracer/backend/tcpdump"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// TestRegisteredSensors: strace, tcpdump and eBPF are all backends,
// answering what used to be chunk.Kind switches in the tracer, the sender
// and the graph builder.
func TestRegisteredSensors(t *testing.T) {
	for _, tc := range []struct {
		kind        chunk.Kind
		contentType string
		role        chunk.Role
	}{
		{chunk.KindStrace, "text/plain; charset=utf-8", chunk.RoleProcess},
		{chunk.KindPcap, tcpdump.ContentType, chunk.RoleFlows},
		{chunk.KindEBPF, ebpf.ContentType, chunk.RoleProcess},
	} {
		b, ok := backend.Lookup(tc.kind)
		if !ok {
			t.Errorf("%s: not registered", tc.kind)
			continue
		}
		if got := b.ContentType(); got != tc.contentType {
			t.Errorf("%s: content type %q, want %q", tc.kind, got, tc.contentType)
		}
		if got := chunk.RoleOf(tc.kind); got != tc.role {
			t.Errorf("%s: role %d, want %d", tc.kind, got, tc.role)
		}
	}
	// The tracer's default: strace and tcpdump, not eBPF (chosen by flag).
	if got := backend.Defaults(); !slices.Equal(got, []chunk.Kind{chunk.KindPcap, chunk.KindStrace}) {
		t.Errorf("Defaults() = %v", got)
	}
	// strace's line bound applies through the interface.
	b, _ := backend.Lookup(chunk.KindStrace)
	c, ok := b.(backend.Chunker)
	if !ok || c.Chunking(chunker.Config{}).MaxUnits != strace.ChunkLines {
		t.Errorf("strace backend does not bound its chunks in lines")
	}
}

// fake is a sensor defined only here: Run applies its chunk bounds and
// header annotation and its prefix with no case for its kind anywhere.
type fake struct{}

func (fake) Kind() chunk.Kind                                   { return "test-fake" }
func (fake) ContentType() string                                { return "text/plain" }
func (fake) Chunking(c chunker.Config) chunker.Config           { c.MaxUnits = 2; return c }
func (fake) Parse(chunk.Header, []byte) (backend.Parsed, error) { return backend.Parsed{}, nil }
func (fake) Attach(ctx context.Context, t discovery.Target, room int) (backend.Stream, error) {
	return &fakeStream{n: 5}, nil
}

type fakeStream struct {
	mu sync.Mutex
	n  int
}

func (s *fakeStream) Prefix() []byte           { return []byte("P") }
func (s *fakeStream) Annotate(h *chunk.Header) { h.Threads = map[int]int{11: 10} }
func (s *fakeStream) Close() error             { return nil }
func (s *fakeStream) Next() (chunker.Unit, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return chunker.Unit{}, false, io.EOF
	}
	s.n--
	return chunker.Unit{Data: []byte("u\n"), At: time.Now()}, false, nil
}

func TestRunAppliesBackendOptions(t *testing.T) {
	var mu sync.Mutex
	var got []chunker.Chunk
	// A target whose process is gone: Run stops after the first stream.
	tg := discovery.Target{Key: "k", Function: "f", Container: "c", PID: os.Getpid(), StartTicks: 1}
	backend.Run(context.Background(), fake{}, tg, backend.RunConfig{Node: "n"}, metrics.New(), func(c chunker.Chunk) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	})
	if len(got) != 3 {
		t.Fatalf("%d chunks of 5 units, want 3 (2 units each at most)", len(got))
	}
	for _, c := range got {
		if c.Header.Threads[11] != 10 {
			t.Errorf("chunk %d header not annotated: %+v", c.Header.Seq, c.Header)
		}
		if c.Body[0] != 'P' {
			t.Errorf("chunk %d without the prefix: %q", c.Header.Seq, c.Body)
		}
	}
}

// lossyFake's stream learns of its losses only as it ends (records it
// could not take while detaching): the last chunk must still say so.
type lossyFake struct{ fake }

func (lossyFake) Attach(ctx context.Context, t discovery.Target, room int) (backend.Stream, error) {
	return &lossyStream{fakeStream: fakeStream{n: 3}}, nil
}

type lossyStream struct {
	fakeStream
	dropped uint64
}

func (s *lossyStream) Next() (chunker.Unit, bool, error) {
	u, trunc, err := s.fakeStream.Next()
	if err != nil {
		s.mu.Lock()
		s.dropped = 7
		s.mu.Unlock()
	}
	return u, trunc, err
}

func (s *lossyStream) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// TestRunReportsLossAtTheEnd: losses a stream counts as it ends reach the
// last chunk's header (X-Faasmon-Lost, a blind spot for the container) and
// the metric, not only a chunk that never comes.
func TestRunReportsLossAtTheEnd(t *testing.T) {
	var got []chunker.Chunk
	m := metrics.New()
	tg := discovery.Target{Key: "k", Function: "f", Container: "c", PID: os.Getpid(), StartTicks: 1}
	backend.Run(context.Background(), lossyFake{}, tg, backend.RunConfig{Node: "n"}, m, func(c chunker.Chunk) { got = append(got, c) })
	if len(got) == 0 {
		t.Fatal("no chunk")
	}
	if last := got[len(got)-1].Header; last.Lost != 7 {
		t.Errorf("last chunk's Lost = %d, want 7", last.Lost)
	}
	if v := metrics.Value(m.Lost.WithLabelValues("test-fake", "f")); v != 7 {
		t.Errorf("lost metric = %v, want 7", v)
	}
}

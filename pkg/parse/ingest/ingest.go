package ingest

import (
	"errors"
	"fmt"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	// The sensor backends register their kinds and parsers at init.
	_ "github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
	_ "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	_ "github.com/faasmon/faasmon/pkg/tracer/backend/tcpdump"
)

// maxErrors is how many parse error messages a batch keeps for people; the
// count of unparsed lines is always exact.
const maxErrors = 8

// ErrInput marks input that is wrong as a whole (empty, too large, not the
// kind its header claims): the handler answers 4xx.
var ErrInput = errors.New("bad chunk")

// Chunk parses body according to h.Kind.
func Chunk(h chunk.Header, body []byte) (event.Batch, error) {
	b := event.Batch{Version: event.SchemaVersion, Chunk: h}
	switch {
	case len(body) == 0:
		return b, fmt.Errorf("%w: empty body", ErrInput)
	case len(body) > chunk.MaxBytes:
		return b, fmt.Errorf("%w: %d bytes, limit %d", ErrInput, len(body), chunk.MaxBytes)
	}
	if be, ok := backend.Lookup(h.Kind); ok {
		return backendBatch(b, be, body)
	}
	return b, fmt.Errorf("%w: unknown kind %q", ErrInput, h.Kind)
}

// backendBatch parses a chunk with the parser of its kind's sensor backend
// (pkg/tracer/backend).
func backendBatch(b event.Batch, be backend.Backend, body []byte) (event.Batch, error) {
	p, err := be.Parse(b.Chunk, body)
	b.Events, b.Unparsed = p.Events, p.Unparsed
	if len(p.Errors) > maxErrors {
		p.Errors = p.Errors[:maxErrors]
	}
	b.Errors = p.Errors
	if err != nil {
		if errors.Is(err, backend.ErrInput) {
			return b, fmt.Errorf("%w: %v", ErrInput, err)
		}
		return b, fmt.Errorf("%s chunk: %w", b.Chunk.Kind, err)
	}
	return b, nil
}

package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/pcap"
	"github.com/faasmon/faasmon/pkg/strace"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	// The sensor backends register their kinds and parsers at init.
	_ "github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
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
	switch h.Kind {
	case chunk.KindStrace:
		return straceBatch(b, body)
	case chunk.KindPcap:
		return pcapBatch(b, body)
	}
	if be, ok := backend.Lookup(h.Kind); ok {
		return backendBatch(b, be, body)
	}
	return b, fmt.Errorf("%w: unknown kind %q", ErrInput, h.Kind)
}

// backendBatch parses a chunk of a kind a sensor backend registered
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

func straceBatch(b event.Batch, body []byte) (event.Batch, error) {
	// strace prints text; a body that is not text is not strace output,
	// whatever its header says, and would only yield a flood of errors.
	probe := body[:min(len(body), 4096)]
	if bytes.IndexByte(probe, 0) >= 0 || !utf8.Valid(probe[:validPrefix(probe)]) {
		return b, fmt.Errorf("%w: strace chunk is binary, not strace text", ErrInput)
	}
	p := strace.NewParser()
	p.Date = b.Chunk.Start.UTC()
	evs, errs, unparsed := p.ParseChunk(nil, body, maxErrors)
	// Calls left unfinished at the chunk's end still say what they were
	// going to do (the program execve'd, the path opened); the resumed half
	// in the next chunk gives the result.
	evs = append(evs, p.Flush()...)
	b.Events, b.Unparsed = evs, unparsed
	for _, e := range errs {
		b.Errors = append(b.Errors, e.Error())
	}
	if len(evs) == 0 && unparsed > 0 {
		return b, fmt.Errorf("%w: no strace line could be read (%d unparsed; first: %v)", ErrInput, unparsed, errs[0])
	}
	return b, nil
}

// validPrefix cuts a probe back to a rune boundary: the chunk may end
// inside a multi-byte character of a quoted string.
func validPrefix(p []byte) int {
	n := len(p)
	for i := 0; i < utf8.UTFMax && n > 0; i++ {
		if utf8.Valid(p[:n]) {
			return n
		}
		n--
	}
	return n
}

func pcapBatch(b event.Batch, body []byte) (event.Batch, error) {
	evs, st, err := pcap.ParseBytes(body, pcap.Options{})
	b.Events = evs
	b.Unparsed = st.Undecodable + st.Truncated
	b.Errors = append(b.Errors, st.Errors...)
	if err != nil && len(evs) == 0 {
		return b, fmt.Errorf("%w: %v", ErrInput, err)
	}
	if err != nil {
		// Events before a damaged record are real; keep them and say so.
		b.Errors = append(b.Errors, err.Error())
		b.Unparsed++
	}
	return b, nil
}

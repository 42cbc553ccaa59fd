package provenance

import (
	"fmt"
	"strings"

	"github.com/faasmon/faasmon/pkg/chunk"
)

// Kinds of BlindSpot: the limits the builder, its store and the tracer hit
// for one container. A sequence gap is not among them: it is Graph.Gaps.
const (
	// BlindDropped: the tracer dropped chunks of the stream before sending
	// them (its queue was full, or faasmon-parse refused them), as the
	// chunk's X-Faasmon-Dropped header says.
	BlindDropped = "tracer-dropped"
	// BlindRestart: a sensor of the container started a new stream of a
	// kind it already had a stream of: the tracer restarted strace (or
	// tcpdump), and what ran between the two was not seen.
	BlindRestart = "tracer-restart"
	// BlindStateReset: the container's stored state was discarded (too
	// big, unreadable) and started again: its open invocations are lost.
	BlindStateReset = "state-reset"
	// BlindTableFull: one of the builder's per-container tables was full
	// (Limit names it), so what it would have recorded was not.
	BlindTableFull = "table-full"
	// BlindUntraced: the sensor could not trace some of the container's
	// processes (strace: another tracer held them, as a process that
	// ptraces itself or its child does to hide; or attaching failed), as
	// the chunk's X-Faasmon-Untraced header counts.
	BlindUntraced = "untraced-process"
	// BlindLost: the sensor lost records of the container before they
	// became chunk lines (eBPF: a full ring buffer or stream queue, or a
	// new container's first records expired before it was attached), as
	// the chunk's X-Faasmon-Lost header counts.
	BlindLost = "sensor-lost"
	// BlindRefused: a chunk numbered implausibly far ahead of its stream
	// (forged, or a broken tracer) was refused.
	BlindRefused = "chunk-refused"
	// BlindStale: a chunk too far behind its stream to tell from a
	// redelivery was not applied.
	BlindStale = "chunk-stale"
	// BlindQueueLimit: a finished graph of the container was refused for
	// good on its way to classification (too big for the queue): it got
	// no verdict. Stream holds the graph's id.
	BlindQueueLimit = "queue-limit"
)

// Names of the builder's tables, as BlindSpot.Limit gives them.
const (
	LimitOpenCalls = "open invocations"
	LimitProcs     = "processes"
	LimitFlows     = "network flows"
	LimitWritten   = "written files"
	LimitStreams   = "streams"
)

// MaxBlind bounds Graph.Blind (and the state's pending list): repeats of a
// kind merge, so this is only reached by many distinct streams.
const MaxBlind = 32

// BlindSpot is one limit hit for the graph's container since the previous
// graph of that container: the detector could not see part of what the
// container did. pkg/classify/detect turns each into a blind-spot finding.
type BlindSpot struct {
	Kind   string `json:"kind"`
	Stream string `json:"stream,omitempty"`
	// Limit names the table of a BlindTableFull, Max its size.
	Limit string `json:"limit,omitempty"`
	Max   int    `json:"max,omitempty"`
	// Count is how many times it happened (chunks dropped, entries not
	// recorded, invocations lost; 0 when not known).
	Count int `json:"count,omitempty"`
	// Bytes is the size of what was lost, when known (dropped chunks).
	Bytes int64 `json:"bytes,omitempty"`
	// Detail says why, in words (the state reset's reason).
	Detail string `json:"detail,omitempty"`
}

// maxBlindField bounds a BlindSpot's text fields in a graph (they come
// from chunk headers, bounded at 253, and from this package).
const maxBlindField = 512

func (b BlindSpot) validate() error {
	if b.Kind == "" || len(b.Kind) > 64 || len(b.Stream) > maxBlindField || len(b.Limit) > maxBlindField || len(b.Detail) > maxBlindField {
		return fmt.Errorf("%w: blind spot %.64q has an empty kind or an oversized field", ErrInvalid, b.Kind)
	}
	if b.Count < 0 || b.Max < 0 || b.Bytes < 0 {
		return fmt.Errorf("%w: blind spot %.64q has a negative count", ErrInvalid, b.Kind)
	}
	return nil
}

// noteBlind records a limit hit for the next graph of this container,
// merging it with an earlier one of the same kind, stream and limit.
func (st *State) noteBlind(b BlindSpot) {
	for i := range st.Blind {
		o := &st.Blind[i]
		if o.Kind == b.Kind && o.Stream == b.Stream && o.Limit == b.Limit {
			o.Count += b.Count
			o.Bytes += b.Bytes
			if b.Detail != "" {
				o.Detail = b.Detail
			}
			return
		}
	}
	if len(st.Blind) >= MaxBlind {
		// The last entry stands for everything past the bound.
		st.Blind[len(st.Blind)-1].Count += max(b.Count, 1)
		return
	}
	st.Blind = append(st.Blind, b)
}

// tableFull records that table limit (of size max) was full once more.
func (st *State) tableFull(limit string, max, n int) {
	st.noteBlind(BlindSpot{Kind: BlindTableFull, Limit: limit, Max: max, Count: n})
}

// NoteReset records that this (new) state replaces a stored one that was
// discarded for reason; lost is the number of open invocations it held
// (-1: not known, the file could not be read).
func (st *State) NoteReset(reason string, lost int) {
	st.noteBlind(BlindSpot{Kind: BlindStateReset, Count: max(lost, 0), Detail: bounded(reason, maxBlindField)})
}

// NoteRefusedGraph records that graph id of this container was refused
// for good on its way to faasmon-classify (why: the answer), for the
// container's next graph to report.
func (st *State) NoteRefusedGraph(id, why string) {
	st.noteBlind(BlindSpot{Kind: BlindQueueLimit, Stream: bounded(id, maxBlindField), Count: 1, Detail: bounded(why, 200)})
}

// GraphStateKey is the state key of the container graph g came from.
func GraphStateKey(g *Graph) string {
	return StateKey(chunk.Header{Namespace: g.Namespace, Function: g.Function, Container: g.Container})
}

// StreamKind is the sensor kind a stream id names (sensor.StreamID is
// "<container>-<kind>-<start>"), or "" when it does not say.
func StreamKind(stream string) chunk.Kind {
	i := strings.LastIndexByte(stream, '-')
	if i <= 0 {
		return ""
	}
	j := strings.LastIndexByte(stream[:i], '-')
	if j < 0 {
		return ""
	}
	return chunk.Kind(stream[j+1 : i])
}

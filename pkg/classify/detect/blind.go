package detect

import (
	"fmt"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// maxGapFindings bounds the gap findings of one graph: the builder lists
// at most 64 gaps per stream, and one finding per gap past a few says
// nothing more.
const maxGapFindings = 8

// BlindSpots are the blind-spot findings of g: every sequence gap it
// carries (Graph.Gaps) and every limit the builder, its store or the
// tracer hit for its container (Graph.Blind), in words. They are warnings
// about what the detector could not see, not evidence of an intrusion: they
// never make a verdict an attack (see pkg/verdict's doc).
func BlindSpots(g *provenance.Graph) []verdict.Finding {
	var out []verdict.Finding
	add := func(rule, text string) {
		out = append(out, verdict.Finding{Part: verdict.PartBlindSpot, Rule: rule, Severity: "warning", Tactic: "defense_evasion", Text: text})
	}
	for i, gp := range g.Gaps {
		if i == maxGapFindings {
			add(verdict.BlindGap, fmt.Sprintf("%d more sequence gaps in the container's streams", len(g.Gaps)-i))
			break
		}
		n := gp.To - gp.From + 1
		what := "chunks"
		if n == 1 {
			what = "chunk"
		}
		add(verdict.BlindGap, fmt.Sprintf("%s lost %s %s of stream %s (sequence gap): %d %s of the container's trace never arrived",
			sensor(gp.Stream), what, span(gp.From, gp.To), gp.Stream, n, what))
	}
	for _, b := range g.Blind {
		add(b.Kind, blindText(b))
	}
	return out
}

func span(from, to uint64) string {
	if from == to {
		return fmt.Sprint(from)
	}
	return fmt.Sprintf("%d–%d", from, to)
}

// sensor names the stream's sensor ("strace") for the sentence.
func sensor(stream string) string {
	if k := provenance.StreamKind(stream); k != "" {
		return string(k)
	}
	return "the tracer"
}

func blindText(b provenance.BlindSpot) string {
	switch b.Kind {
	case provenance.BlindDropped:
		size := ""
		if b.Bytes > 0 {
			size = fmt.Sprintf(" (%d KB)", (b.Bytes+1023)/1024)
		}
		return fmt.Sprintf("tracer dropped %d chunks%s of stream %s for this container before sending them (its queue was full or faasmon-parse refused them)", b.Count, size, b.Stream)
	case provenance.BlindRestart:
		return fmt.Sprintf("tracer restarted %s: new stream %s; what the container did between the two streams was not seen", sensor(b.Stream), b.Stream)
	case provenance.BlindStateReset:
		lost := "its open invocations are lost"
		if b.Count > 0 {
			lost = fmt.Sprintf("%d open invocations lost", b.Count)
		}
		return fmt.Sprintf("graph state reset: %s (%s)", lost, b.Detail)
	case provenance.BlindTableFull:
		return fmt.Sprintf("builder table full: %d %s is the bound; %d entries not recorded", b.Max, b.Limit, b.Count)
	case provenance.BlindRefused:
		return fmt.Sprintf("%d chunks of stream %s refused: numbered implausibly far ahead of the stream (forged, or a broken tracer)", b.Count, b.Stream)
	case provenance.BlindQueueLimit:
		return fmt.Sprintf("graph %s of this container was refused on its way to classification (%s): it got no verdict", b.Stream, b.Detail)
	case provenance.BlindLost:
		return fmt.Sprintf("%s lost %d records of the container before they reached a chunk (a full ring buffer or queue, or records of a new container expired before it was attached): what they recorded is not seen", sensor(b.Stream), b.Count)
	case provenance.BlindUntraced:
		return fmt.Sprintf("%s could not trace %d processes of the container (held by another tracer — a process that ptraces itself or its child hides from strace — or attaching failed): what they do is not seen", sensor(b.Stream), b.Count)
	case provenance.BlindStale:
		return fmt.Sprintf("%d chunks of stream %s not applied: too far behind the stream to tell from a redelivery", b.Count, b.Stream)
	}
	return fmt.Sprintf("%s (%s %s, %d times)", b.Kind, b.Stream, b.Limit, b.Count)
}

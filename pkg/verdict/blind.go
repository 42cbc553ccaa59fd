package verdict

// Rules of blind-spot findings beyond provenance's BlindSpot kinds (which
// are used as Rule as they are): a sequence gap in a stream, and a tracer
// that went silent or came back.
const (
	BlindGap    = "gap"
	BlindSilent = "tracer-silent"
	// BlindBack is the note that a silent tracer is heard again
	// (severity notice): a rule of its own, so that it is not
	// deduplicated as a repeat of the silence.
	BlindBack = "tracer-back"
)

// BlindSpots are v's blind-spot findings.
func (v *Verdict) BlindSpots() []Finding {
	var out []Finding
	for _, f := range v.Findings {
		if f.Part == PartBlindSpot {
			out = append(out, f)
		}
	}
	return out
}

// Alerting says whether v is alert material: an attack, or any verdict
// carrying a blind-spot finding (a Warning alert that the detector could
// not see part of a container). See the package doc.
func (v *Verdict) Alerting() bool {
	if v.Verdict == Attack {
		return true
	}
	for _, f := range v.Findings {
		if f.Part == PartBlindSpot {
			return true
		}
	}
	return false
}

package invariant

import "strings"

// Watched says whether a file's path (as seen) or label (normalised) is
// one a rule of this package reads by name: credential stores, persistence
// places, logs and histories, another process's memory or environment, and
// the function's own code. Graph compaction (provenance.Compact) keeps such
// files as nodes of their own, so a rule sees them after compaction exactly
// as before; every other file may be folded into a template node.
func Watched(path, label string) bool {
	p := strings.TrimSuffix(path, " (deleted)")
	if p == "" {
		p = label
	}
	if t, _ := credentialPath(p); t != "" {
		return true
	}
	if t, _ := persistencePath(p); t != "" {
		return true
	}
	if t, _ := logPath(p); t != "" {
		return true
	}
	// Any pid: the rule compares it with the reading process's own.
	if procOfOther(p, -1) {
		return true
	}
	return strings.HasPrefix(label, "$FUNC/") && isCode(label)
}

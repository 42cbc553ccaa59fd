package streaming

import (
	"strings"
	"testing"
)

// TestChannels checks what NATS Streaming requires of a channel name (a
// literal subject: no wildcards, spaces or empty tokens) and that the
// channels are distinct, since a shared name would mix verdicts, alerts and
// the outbox on one channel.
func TestChannels(t *testing.T) {
	seen := map[string]string{}
	for _, tc := range []struct{ name, channel string }{
		{"alerts", AlertChannel},
		{"verdicts", VerdictChannel},
		{"outbox", OutboxChannel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.channel
			if c == "" || strings.ContainsAny(c, "*> \t\r\n") || strings.HasPrefix(c, ".") || strings.HasSuffix(c, ".") || strings.Contains(c, "..") {
				t.Errorf("%q is not a literal NATS subject", c)
			}
			if other, ok := seen[c]; ok {
				t.Errorf("%q is both the %s and the %s channel", c, other, tc.name)
			}
			seen[c] = tc.name
		})
	}
}

package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestAlertsUsage: bad invocations are usage errors, not subscriptions.
func TestAlertsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"alerts", "extra"},
		{"alerts", "-n", "-1"},
		{"alerts", "-all", "-since", "1h"},
		{"alerts", "-since", "-1s"},
		{"alerts", "-bogus"},
	} {
		var stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), io.Discard, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}

// TestAlertsNoServer: a server that is not there is an error (exit 1) that
// names it, not a hang.
func TestAlertsNoServer(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"alerts", "-nats", "nats://127.0.0.1:1"}, strings.NewReader(""), io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "nats://127.0.0.1:1") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

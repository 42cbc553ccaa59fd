package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/stantest"
	"github.com/faasmon/faasmon/pkg/streaming"
)

// syncBuffer is a bytes.Buffer the subscriber and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// publisher publishes on the alert channel as faasmon-alert does: with its
// NATS Streaming sink for alerts, raw for what anyone else may put there.
type publisher struct {
	t    *testing.T
	sink *StanSink
}

func (p publisher) alert(a Alert) {
	p.t.Helper()
	if err := p.sink.Send(context.Background(), a); err != nil {
		p.t.Fatal(err)
	}
}

func (p publisher) raw(b string) {
	p.t.Helper()
	if err := p.sink.Publish(context.Background(), streaming.AlertChannel, []byte(b)); err != nil {
		p.t.Fatal(err)
	}
}

func hostileAlert(id string) Alert {
	return Alert{ID: id, Time: time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC), Rule: "faasmon: credential store read",
		Priority: "Critical", Function: "resize", Namespace: "openfaas-fn", CallID: "c-" + id,
		Process: &ProcessInfo{Name: "sh"}, Object: "/etc/shadow\n\x1b[2Jfake", Chain: "python3 → sh → /etc/shadow"}
}

// TestFollow subscribes Follow (`faasmon alerts`) to a real nats-streaming-server's
// alert channel, with what faasmon-alert publishes there and what else
// anyone may.
func TestFollow(t *testing.T) {
	url := stantest.Start(t, streaming.DefaultCluster)
	tests := []struct {
		name string
		f    Follow
		// before is published before the subscription starts, after once
		// it has.
		before, after func(p publisher)
		// want are substrings of the stdout lines, one per line, in order.
		want    []string
		wantErr string
	}{
		{
			name:   "new alerts only by default",
			f:      Follow{N: 1},
			before: func(p publisher) { p.alert(hostileAlert("old")) },
			after:  func(p publisher) { p.alert(hostileAlert("new")) },
			want:   []string{`{"id":"new",`},
		},
		{
			name:   "replay with -all, one JSON object a line",
			f:      Follow{All: true, N: 3},
			before: func(p publisher) { p.alert(hostileAlert("a")); p.alert(hostileAlert("b")) },
			after:  func(p publisher) { p.alert(hostileAlert("c")) },
			// -all replays the earlier cases' alerts too: the channel is shared.
			want: []string{`{"id":"old",`, `{"id":"new",`, `{"id":"a",`},
		},
		{
			name:  "text, values from the trace quoted",
			f:     Follow{Text: true, N: 1},
			after: func(p publisher) { p.alert(hostileAlert("t")) },
			want:  []string{`2026-12-01T23:00:00Z Critical "faasmon: credential store read" function=resize.openfaas-fn call_id=c-t process=sh object="/etc/shadow\n\x1b[2Jfake" chain="python3 → sh → /etc/shadow"`},
		},
		{
			name:    "a message that is not JSON is reported and skipped",
			f:       Follow{N: 1},
			after:   func(p publisher) { p.raw("not json\x00"); p.alert(hostileAlert("after-junk")) },
			want:    []string{`{"id":"after-junk",`},
			wantErr: "skipped a message on faasmon-alerts: not JSON (9 bytes)",
		},
		{
			name:    "text: JSON that is not an alert is skipped",
			f:       Follow{Text: true, N: 1},
			after:   func(p publisher) { p.raw(`{"time":42}`); p.alert(hostileAlert("x")) },
			want:    []string{`Critical "faasmon: credential store read" function=resize.openfaas-fn call_id=c-x `},
			wantErr: "not an alert (11 bytes)",
		},
	}
	sink := NewStanSink(url, "", "")
	t.Cleanup(func() { sink.Close() })
	p := publisher{t: t, sink: sink}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.t = t
			if tc.before != nil {
				tc.before(p)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan error, 1)
			go func() {
				f := tc.f
				f.URL = url
				done <- f.Run(ctx, &stdout, &stderr)
			}()
			// Run says so on stderr once it has subscribed. With a
			// replay it may also have printed its N alerts and ended.
			var runErr error
			ended := false
			for !ended && !strings.Contains(stderr.String(), "faasmon: alerts on ") {
				select {
				case runErr = <-done:
					ended = true
				case <-time.After(10 * time.Millisecond):
				}
			}
			if !strings.Contains(stderr.String(), "faasmon: alerts on ") {
				t.Fatalf("ended before subscribing: %v %s", runErr, stderr.String())
			}
			if tc.after != nil {
				tc.after(p)
			}
			if !ended {
				select {
				case runErr = <-done:
				case <-ctx.Done():
					t.Fatalf("no %d alerts within 20 s; stdout %s stderr %s", len(tc.want), stdout.String(), stderr.String())
				}
			}
			if runErr != nil {
				t.Fatalf("%v: %s", runErr, stderr.String())
			}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.want), stdout.String())
			}
			for i, l := range lines {
				if !strings.Contains(l, tc.want[i]) {
					t.Errorf("line %d %s\nwant %s", i, l, tc.want[i])
				}
				if !tc.f.Text && !json.Valid([]byte(l)) {
					t.Errorf("line %d is not JSON: %s", i, l)
				}
			}
			if tc.wantErr != "" && !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantErr)
			}
		})
	}
}

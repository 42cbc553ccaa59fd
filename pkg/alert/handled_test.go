package alert

import (
	"context"
	"fmt"
	"testing"

	"github.com/faasmon/faasmon/pkg/outbox"
)

func TestLedgers(t *testing.T) {
	fl, err := NewFileLedger(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]Ledger{"file": fl, "memory": NewMemoryLedger(2)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for _, id := range []string{"g-1", "g-2", "g-2"} {
				if err := l.Mark(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			for id, want := range map[string]bool{"g-1": true, "g-2": true, "g-3": false} {
				if got, err := l.Seen(ctx, id); err != nil || got != want {
					t.Errorf("Seen(%s) = %v, %v; want %v", id, got, err, want)
				}
			}
		})
	}
	// The memory ledger is bounded: the oldest graph goes first.
	m := NewMemoryLedger(2)
	for i := range 3 {
		m.Mark(context.Background(), fmt.Sprint("g-", i))
	}
	if seen, _ := m.Seen(context.Background(), "g-0"); seen {
		t.Error("memory ledger kept more than its bound")
	}
}

// The outbox path alerts what the callback did not bring, skips what it
// did, and refuses (so the entry is redelivered) when no sink took it.
func TestHandleOutbox(t *testing.T) {
	ctx := context.Background()
	rec := &recordSink{name: "rec"}
	p := &Processor{Dedupe: NewMemoryDedupe(0), Handled: NewMemoryLedger(0), Fanout: &Fanout{Sinks: []Sink{rec}, Policy: fastPolicy}, Stats: &Stats{}}

	// Delivered by the callback: the outbox entry is skipped.
	v := attackVerdict()
	if res, err := p.Process(ctx, v); err != nil || res.Outcome != OutcomeAlerted || res.Alert.Delivery != DeliveryCallback {
		t.Fatalf("%+v %v", res, err)
	}
	if err := p.HandleOutbox(ctx, outbox.Entry{Verdict: v}); err != nil {
		t.Fatal(err)
	}
	if n := p.Stats.OutboxSkipped.Load(); n != 1 || len(rec.sent()) != 1 {
		t.Errorf("skipped %d, sent %d; want 1 and 1", n, len(rec.sent()))
	}

	// Lost on the callback path: the outbox raises it, marked as such.
	lost := attackVerdict()
	lost.GraphID, lost.Container = "g-lost", "c-other"
	if err := p.HandleOutbox(ctx, outbox.Entry{Verdict: lost, Redelivered: true}); err != nil {
		t.Fatal(err)
	}
	sent := rec.sent()
	if len(sent) != 2 || sent[1].GraphID != "g-lost" || sent[1].Delivery != DeliveryOutbox {
		t.Fatalf("sent %+v", sent)
	}
	// ... once.
	if err := p.HandleOutbox(ctx, outbox.Entry{Verdict: lost}); err != nil || len(rec.sent()) != 2 {
		t.Errorf("second entry of g-lost: %v, %d sent", err, len(rec.sent()))
	}

	// No sink reached: an error, so the entry comes again.
	down := &Processor{Handled: NewMemoryLedger(0), Fanout: &Fanout{Sinks: []Sink{&flakySink{name: "down", failures: 1 << 30}}, Policy: fastPolicy}}
	if err := down.HandleOutbox(ctx, outbox.Entry{Verdict: attackVerdict()}); err == nil {
		t.Error("undelivered alert acknowledged")
	}
	if seen, _ := down.Handled.Seen(ctx, attackVerdict().GraphID); seen {
		t.Error("undelivered alert marked handled")
	}
	// An invalid verdict is done with: redelivering it cannot help.
	bad := attackVerdict()
	bad.Verdict = "maybe"
	if err := p.HandleOutbox(ctx, outbox.Entry{Verdict: bad}); err != nil {
		t.Errorf("invalid verdict: %v", err)
	}
}

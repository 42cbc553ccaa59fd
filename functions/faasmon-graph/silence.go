package function

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/faasmon/faasmon/pkg/heartbeat"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// silenceVerdict is the alert material for a node's tracer going silent
// (c.Silent) or being heard again: a benign verdict of the pseudo-function
// heartbeat.Function with one blind-spot finding (pkg/verdict's contract),
// which faasmon-alert raises on its sinks like any blind spot.
func silenceVerdict(c heartbeat.Change, after time.Duration, now time.Time) *verdict.Verdict {
	v := &verdict.Verdict{
		Function: heartbeat.Function, Node: c.Node, Container: c.Node, Verdict: verdict.Benign,
		ModelVersion: "heartbeat", Source: verdict.PartBlindSpot, Time: now.UTC(), GraphEnd: c.Last.UTC(),
	}
	f := verdict.Finding{Part: verdict.PartBlindSpot, Tactic: "defense_evasion"}
	if c.Silent {
		v.GraphID = "tracer-silent/" + c.Node + "/" + c.Last.UTC().Format(time.RFC3339Nano)
		f.Rule, f.Severity = verdict.BlindSilent, "warning"
		f.Text = fmt.Sprintf("tracer on node %s silent for %s (no chunk and no heartbeat since %s; the bound is %s): nothing on this node is being watched",
			c.Node, c.For.Round(time.Second), c.Last.UTC().Format(time.RFC3339), after)
	} else {
		v.GraphID = "tracer-back/" + c.Node + "/" + c.Last.UTC().Format(time.RFC3339Nano)
		f.Rule, f.Severity = verdict.BlindBack, "notice"
		f.Text = fmt.Sprintf("tracer on node %s heard again after %s of silence", c.Node, c.For.Round(time.Second))
	}
	v.Findings = []verdict.Finding{f}
	return v
}

// watcher raises the silences the Tracker finds.
type watcher struct {
	Nodes heartbeat.Tracker
	After time.Duration // silence_after
	// Send delivers a verdict to faasmon-alert; an error makes the next
	// check report the silence again.
	Send func(context.Context, *verdict.Verdict) error
	// Since is when the watch started: silence counts from it at the
	// earliest (heartbeat.Tracker.Check).
	Since time.Time
}

// check runs one round and returns the verdicts it sent.
func (w watcher) check(ctx context.Context, now time.Time) []*verdict.Verdict {
	changes, err := w.Nodes.Check(now, w.After, w.Since)
	if err != nil {
		log.Printf("%s: silence watch: %v", name, err)
		return nil
	}
	var out []*verdict.Verdict
	for _, c := range changes {
		v := silenceVerdict(c, w.After, now)
		if w.Send != nil {
			if err := w.Send(ctx, v); err != nil {
				log.Printf("%s: silence watch: %s: %v", name, v.GraphID, err)
				if c.Silent {
					w.Nodes.Unmark(c.Node) // reported again next round
				}
				continue
			}
		}
		b, _ := json.Marshal(v.Findings[0])
		log.Printf("%s: %s", name, b)
		out = append(out, v)
	}
	return out
}

// run checks every After/4 (at least a second) until ctx ends.
func (w watcher) run(ctx context.Context) {
	if w.Since.IsZero() {
		w.Since = time.Now()
	}
	t := time.NewTicker(max(w.After/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			w.check(ctx, now)
		}
	}
}

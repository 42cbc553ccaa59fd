package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nuid"
	stan "github.com/nats-io/stan.go"

	"github.com/faasmon/faasmon/pkg/streaming"
)

// Follow reads the alert channel from outside the platform, as
// `faasmon alerts` does: the reader beside StanSink, the writer. The
// subscription is not durable: it starts with new alerts, or replays every
// alert the server holds (All) or its last Since, and ends after N alerts
// (0: never), when ctx ends or when the connection is lost.
type Follow struct {
	URL     string        // nats://host:4222
	Cluster string        // streaming.DefaultCluster when empty
	Channel string        // streaming.AlertChannel when empty
	All     bool          // replay every alert the server still holds
	Since   time.Duration // or replay this last duration
	N       int           // stop after N alerts; 0: until ctx ends
	// Text prints a line a person reads instead of the alert's JSON.
	Text bool
}

// Run subscribes and prints each alert to out, one a line: the message's
// JSON compacted (for jq), or Text's summary. It says on log when it has
// subscribed, and reports there each message it skips: the channel is the
// queue's, and anyone who can publish there can put anything on it. The
// end of ctx is not an error.
func (f Follow) Run(ctx context.Context, out, log io.Writer) error {
	if f.N < 0 || f.Since < 0 || (f.All && f.Since > 0) {
		return fmt.Errorf("follow: N %d and Since %s must not be negative, All and Since not both set", f.N, f.Since)
	}
	cluster, channel := f.Cluster, f.Channel
	if cluster == "" {
		cluster = streaming.DefaultCluster
	}
	if channel == "" {
		channel = streaming.AlertChannel
	}
	var start []stan.SubscriptionOption // new alerts only
	switch {
	case f.All:
		start = append(start, stan.DeliverAllAvailable())
	case f.Since > 0:
		start = append(start, stan.StartAtTimeDelta(f.Since))
	}
	lost := make(chan error, 1)
	sc, err := stan.Connect(cluster, "faasmon-follow-"+nuid.Next(), stan.NatsURL(f.URL), stan.ConnectWait(5*time.Second),
		stan.SetConnectionLostHandler(func(_ stan.Conn, err error) {
			select {
			case lost <- err:
			default:
			}
		}))
	if err != nil {
		return fmt.Errorf("connect to NATS Streaming %s (cluster %s): %w", f.URL, cluster, err)
	}
	defer sc.Close()
	// The handler hands each message over and waits: the server holds
	// back the rest (MaxInflight), so a slow terminal bounds memory.
	msgs := make(chan []byte)
	done := make(chan struct{}) // Run returned: the handler stops waiting
	sub, err := sc.Subscribe(channel, func(m *stan.Msg) {
		select {
		case msgs <- m.Data:
		case <-ctx.Done():
		case <-done:
		}
	}, append(start, stan.MaxInflight(64))...)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", channel, err)
	}
	defer sub.Close()
	defer close(done) // before the subscription and connection close
	fmt.Fprintf(log, "faasmon: alerts on %s (cluster %s, channel %s)\n", f.URL, cluster, channel)
	for seen := 0; f.N == 0 || seen < f.N; {
		select {
		case <-ctx.Done():
			return nil
		case err := <-lost:
			return fmt.Errorf("connection to %s lost: %w", f.URL, err)
		case data := <-msgs:
			line, err := FollowLine(data, f.Text)
			if err != nil {
				fmt.Fprintf(log, "faasmon: skipped a message on %s: %v\n", channel, err)
				continue
			}
			if _, err := fmt.Fprintln(out, line); err != nil {
				return err
			}
			seen++
		}
	}
	return nil
}

// FollowLine is one message of the alert channel as Follow prints it: its
// JSON compacted onto one line, or with text a summary a person reads:
//
//	TIME PRIORITY RULE function=FN[.NS] call_id=… container=… process=… object=… chain=… action=KIND:STATUS
//
// Values that hold spaces, quotes, '=' or anything not printable are
// quoted Go-style: they come from traced programs, and a terminal must not
// interpret them.
func FollowLine(data []byte, text bool) (string, error) {
	if !text {
		var b bytes.Buffer
		if err := json.Compact(&b, data); err != nil {
			return "", fmt.Errorf("not JSON (%d bytes): %w", len(data), err)
		}
		return b.String(), nil
	}
	var a Alert
	if err := json.Unmarshal(data, &a); err != nil {
		return "", fmt.Errorf("not an alert (%d bytes): %w", len(data), err)
	}
	fn := a.Function
	if a.Namespace != "" {
		fn += "." + a.Namespace
	}
	f := []string{a.Time.UTC().Format(time.RFC3339), quoteField(a.Priority), quoteField(a.Rule), "function=" + quoteField(fn)}
	proc := ""
	if a.Process != nil {
		proc = a.Process.Name
	}
	for _, kv := range [][2]string{{"call_id", a.CallID}, {"container", a.Container}, {"process", proc}, {"object", a.Object}, {"chain", a.Chain}} {
		if kv[1] != "" {
			f = append(f, kv[0]+"="+quoteField(kv[1]))
		}
	}
	if a.Action != nil {
		f = append(f, "action="+quoteField(a.Action.Kind+":"+a.Action.Status))
	}
	return strings.Join(f, " "), nil
}

func quoteField(s string) string {
	if s == "" || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '\\' || r == '=' || !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

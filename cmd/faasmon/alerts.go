package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/faasmon/faasmon/pkg/alert"
	"github.com/faasmon/faasmon/pkg/streaming"
)

const alertsUsage = `usage:
  faasmon alerts [-nats URL] [-cluster ID] [-channel C] [-all | -since D] [-n N] [-text]
                                                            print faasmon-alert's alerts from the queue
`

// alerts subscribes to faasmon-alert's channel on the queue's NATS
// Streaming server and prints each alert (alert.Follow): one JSON object a
// line, as published, or with -text one line a person reads. It starts
// with new alerts, or replays the channel (-all) or its last D (-since D),
// and ends after N alerts, on Ctrl-C or when the server goes.
func alerts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faasmon alerts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("nats", streaming.URLFromEnv(env.Getenv()), "NATS Streaming server (default $"+streaming.EnvURL+", else nats://$"+streaming.EnvAddress+":$"+streaming.EnvPort+")")
	cluster := fs.String("cluster", env.NonEmpty(streaming.EnvCluster, streaming.DefaultCluster), "NATS Streaming cluster id")
	channel := fs.String("channel", streaming.AlertChannel, "channel (faasmon-alert's nats_channel)")
	all := fs.Bool("all", false, "replay every alert the server still holds, then follow")
	since := fs.Duration("since", 0, "replay the alerts of this last duration, then follow")
	n := fs.Int("n", 0, "stop after N alerts (0: until interrupted)")
	text := fs.Bool("text", false, "one line a person reads instead of the alert's JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *n < 0 || *since < 0 || (*all && *since > 0) {
		fmt.Fprint(stderr, alertsUsage)
		return 2
	}
	f := alert.Follow{URL: *url, Cluster: *cluster, Channel: *channel, All: *all, Since: *since, N: *n, Text: *text}
	if err := f.Run(ctx, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "faasmon:", err)
		return 1
	}
	return 0
}

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/faasmon/faasmon/internal/dev/lab"
	"github.com/faasmon/faasmon/internal/dev/localstack"
)

func main() {
	out := flag.String("out", "", "where the demo writes graphs, alerts and SVGs (default $TMPDIR/faasmon-demo)")
	keep := flag.Bool("keep-up", false, "leave the local stack running")
	flag.Parse()
	wd, _ := os.Getwd()
	repo, err := localstack.RepoRoot(wd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faasmon-demo:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := lab.Demo(ctx, lab.DemoOptions{Repo: repo, Out: *out, KeepUp: *keep}); err != nil {
		fmt.Fprintln(os.Stderr, "faasmon-demo:", err)
		os.Exit(1)
	}
}

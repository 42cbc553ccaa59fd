// Command load measures the whole pipeline under a steady load: at each
// level (callers calling one function back to back) it plays a number of
// benign invocations through the lab (tracer, queue, parse, graph,
// classify, alert on the local stack) and reports the achieved rate and
// the lag from each invocation's start to its graph's verdict (p50, p99).
// The highest rate whose p99 stays within the bound is the pipeline's
// sustained capacity on this machine. See BENCHMARKS.md.
//
//	go run ./tests/load -levels 1,2,4,8 -calls 120 -out /tmp/faasmon-load
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faasmon/faasmon/pkg/lab"
	"github.com/faasmon/faasmon/pkg/provenance"
)

func main() {
	levels := flag.String("levels", "1,2,4,8", "concurrent callers at each level, comma-separated")
	calls := flag.Int("calls", 120, "invocations per level")
	fn := flag.String("function", "product-catalog-api", "the lab function called")
	path := flag.String("path", "?category=hats", "appended to /function/<name>")
	bound := flag.Duration("bound", 5*time.Second, "the verdict-lag p99 bound")
	out := flag.String("out", "/tmp/faasmon-load", "output directory (the lab run's)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *levels, *calls, *fn, *path, *bound, *out); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, levelList string, calls int, fn, path string, bound time.Duration, out string) error {
	var levels []int
	for _, f := range strings.Split(levelList, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 || c > 64 {
			return fmt.Errorf("-levels: %q is not a caller count in 1..64", f)
		}
		levels = append(levels, c)
	}
	if calls < 10 {
		return fmt.Errorf("-calls %d: too few to read a p99 from", calls)
	}
	dir := filepath.Join(out, "scenarios")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var files []string
	for _, c := range levels {
		name := fmt.Sprintf("load-c%d", c)
		// Each caller calls back to back; the lab spreads a step's
		// repeats over its concurrency.
		y := fmt.Sprintf("name: %s\nlabel: benign\ndescription: %d callers, %d calls to %s\nsteps:\n"+
			"  - {name: calls, function: %s, method: GET, path: %q, repeat: %d, concurrency: %d}\n",
			name, c, calls, fn, fn, path, calls, c)
		f := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(f, []byte(y), 0o644); err != nil {
			return err
		}
		files = append(files, f)
	}
	res, err := lab.Run(ctx, lab.Options{Scenarios: files, Out: out, Rounds: 1, Seed: 1,
		Detector: true, Graphs: lab.GraphArchive, Log: os.Stderr})
	if err != nil {
		return err
	}
	recs, err := lab.ReadJSONL[lab.VerdictRecord](filepath.Join(out, "verdicts.jsonl"))
	if err != nil {
		return err
	}
	fmt.Printf("%-10s %8s %8s %8s %8s %8s %8s\n", "level", "calls", "inv/s", "graphs", "missing", "lag p50", "lag p99")
	best := 0.0
	for i, c := range levels {
		name := filepath.Base(strings.TrimSuffix(files[i], ".yaml"))
		var first, last time.Time
		n := 0
		for _, inv := range res.Invocations {
			if inv.Scenario != name {
				continue
			}
			n++
			if first.IsZero() || inv.Start.Before(first) {
				first = inv.Start
			}
			if inv.End.After(last) {
				last = inv.End
			}
		}
		var lags []float64
		graphs, missing := 0, 0
		for _, r := range recs {
			if r.Scenario != name || r.Window != provenance.WindowInvocation {
				continue
			}
			graphs++
			if r.Verdict == lab.VerdictMissing {
				missing++
				continue
			}
			lags = append(lags, r.LatencyS)
		}
		rate := 0.0
		if d := last.Sub(first).Seconds(); d > 0 {
			rate = float64(n) / d
		}
		p50, p99 := quantile(lags, 0.5), quantile(lags, 0.99)
		fmt.Printf("%-10s %8d %8.2f %8d %8d %7.2fs %7.2fs\n", fmt.Sprintf("c=%d", c), n, rate, graphs, missing, p50, p99)
		if missing == 0 && p99 <= bound.Seconds() && rate > best {
			best = rate
		}
	}
	fmt.Printf("highest rate with every verdict and lag p99 <= %s: %.2f invocations/s\n", bound, best)
	return nil
}

// quantile is the nearest-rank quantile q of xs (NaN when empty).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

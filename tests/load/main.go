package main

import (
	"context"
	"encoding/json"
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

	"github.com/faasmon/faasmon/internal/dev/lab"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

func main() {
	levels := flag.String("rates", "2,4,8,16", "target invocations per second at each level, comma-separated")
	seconds := flag.Int("seconds", 40, "how long each level lasts")
	fn := flag.String("function", "product-catalog-api", "the lab function called")
	path := flag.String("path", "?category=hats", "appended to /function/<name>")
	body := flag.String("body", "", "request body (a scenario body template, e.g. with {{rand}}); with a body the method is POST")
	bound := flag.Duration("bound", 5*time.Second, "the verdict-lag p99 bound")
	out := flag.String("out", "/tmp/faasmon-load", "output directory (the lab run's)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *levels, *seconds, *fn, *path, *body, *bound, *out); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, levelList string, seconds int, fn, path, body string, bound time.Duration, out string) error {
	var levels []int
	for _, f := range strings.Split(levelList, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 || c > 200 {
			return fmt.Errorf("-rates: %q is not a rate in 1..200 invocations/s", f)
		}
		levels = append(levels, c)
	}
	if seconds < 5 || seconds > 600 {
		return fmt.Errorf("-seconds %d: want 5..600", seconds)
	}
	dir := filepath.Join(out, "scenarios")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var files []string
	for _, rate := range levels {
		name := fmt.Sprintf("load-r%d", rate)
		// The lab starts a step's calls one delay apart (open loop) with
		// up to `concurrency` in flight; the achieved rate is measured,
		// not assumed. The wait after the last call lets the pipeline
		// drain, so that a level does not start on the previous one's
		// backlog.
		callers := 8
		delay := time.Second / time.Duration(rate)
		method, bodyField := "GET", ""
		if body != "" {
			b, err := json.Marshal(body) // a YAML flow scalar: JSON's string syntax is valid YAML
			if err != nil {
				return err
			}
			method, bodyField = "POST", ", body: "+string(b)
		}
		y := fmt.Sprintf("name: %s\nlabel: benign\ndescription: %d/s for %ds to %s\nsteps:\n"+
			"  - {name: calls, function: %s, method: %s, path: %q%s, repeat: %d, concurrency: %d, delay: %s, wait: 20s}\n",
			name, rate, seconds, fn, fn, method, path, bodyField, rate*seconds, callers, delay)
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
	for i, rate := range levels {
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
		got := 0.0
		if d := last.Sub(first).Seconds(); d > 0 {
			got = float64(n) / d
		}
		p50, p99 := quantile(lags, 0.5), quantile(lags, 0.99)
		fmt.Printf("%-10s %8d %8.2f %8d %8d %7.2fs %7.2fs\n", fmt.Sprintf("%d/s", rate), n, got, graphs, missing, p50, p99)
		if missing == 0 && p99 <= bound.Seconds() && got > best {
			best = got
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

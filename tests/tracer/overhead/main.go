package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faasmon/faasmon/internal/dev/lab"
	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/pkg/invoke"
)

func main() {
	n := flag.Int("n", 200, "invocations per function and setting")
	body := flag.String("body", "", "request body (default: GET)")
	sensors := flag.String("sensor", "strace", "tracer sensors to compare, comma-separated: strace (strace+tcpdump), ebpf (the eBPF sensor alone)")
	flag.Parse()
	wd, _ := os.Getwd()
	repo, err := localstack.RepoRoot(wd)
	if err != nil {
		fail(err)
	}
	state := localstack.StateDirFromEnv()
	auth, _ := invoke.ReadBasicAuth(filepath.Join(state, "auth"))
	call := func(fn string) (time.Duration, error) {
		method, rd := http.MethodGet, io.Reader(nil)
		if *body != "" {
			method, rd = http.MethodPost, bytes.NewBufferString(*body)
		}
		req, _ := http.NewRequest(method, localstack.GatewayURL+"/function/"+fn, rd)
		req.SetBasicAuth(auth.User, auth.Password)
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			return 0, fmt.Errorf("%s: status %d", fn, res.StatusCode)
		}
		return time.Since(start), nil
	}
	median := func(fn string) time.Duration {
		var ds []time.Duration
		for i := 0; i < *n+10; i++ {
			d, err := call(fn)
			if err != nil {
				fail(err)
			}
			if i >= 10 { // warm-up
				ds = append(ds, d)
			}
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	kinds := map[string]string{"strace": "strace,pcap", "ebpf": "ebpf"}
	var list []string
	for _, s := range strings.Split(*sensors, ",") {
		if kinds[s] == "" {
			fail(fmt.Errorf("-sensor: unknown %q (strace, ebpf)", s))
		}
		list = append(list, s)
	}
	fmt.Printf("function                  sensor  untraced p50  traced p50  ratio  (n=%d each)\n", *n)
	for _, fn := range flag.Args() {
		off := median(fn)
		for _, s := range list {
			// The lab's tracer inherits the environment: FAASMON_KINDS picks
			// its sensors.
			os.Setenv("FAASMON_KINDS", kinds[s])
			tr, err := lab.StartTracer(context.Background(), repo, state)
			if err != nil {
				fail(err)
			}
			time.Sleep(2 * time.Second) // attach
			on := median(fn)
			tr.Stop()
			fmt.Printf("%-25s %-7s %10.2fms %10.2fms %6.2fx\n", fn, s, ms(off), ms(on), float64(on)/float64(off))
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "overhead:", err)
	os.Exit(1)
}

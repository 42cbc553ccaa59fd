package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faasmon/faasmon/pkg/provider"
)

func main() {
	interval := flag.Duration("interval", 250*time.Millisecond, "sampling interval")
	providerURL := flag.String("provider-url", "http://127.0.0.1:8083", "local provider: names the function processes")
	invocations := flag.String("invocations", "", "the run's invocations.jsonl: per-invocation figures")
	jsonOut := flag.String("json", "", "also write the account as JSON here")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: cost [flags] -- command [args...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*interval, *providerURL, *invocations, *jsonOut, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		os.Exit(1)
	}
}

func run(interval time.Duration, providerURL, invFile, jsonOut string, argv []string) error {
	tick := ticksPerSecond()
	a := newAccount(os.Getpid())
	a.sample(providerURL, true)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = os.Stdout, os.Stderr, os.Stdin
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %v: %w", argv, err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t := time.NewTicker(interval)
	defer t.Stop()
	var cerr error
loop:
	for {
		select {
		case cerr = <-done:
			break loop
		case s := <-sig:
			_ = cmd.Process.Signal(s)
		case <-t.C:
			a.sample(providerURL, false)
		}
	}
	a.sample(providerURL, false)
	wall := time.Since(start)
	groups := a.groups()
	n := 0
	if invFile != "" {
		n = countLines(invFile)
	}
	print(groups, tick, wall, n, argv)
	if jsonOut != "" {
		out := map[string]any{"command": argv, "wall_s": wall.Seconds(), "invocations": n, "cpu_s": map[string]float64{}}
		for g, v := range groups {
			out["cpu_s"].(map[string]float64)[g] = float64(v) / tick
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	if cerr != nil {
		return fmt.Errorf("%v: %w", argv, cerr)
	}
	return nil
}

// cpu is a process's clock ticks: its own and its reaped children's.
type cpu struct{ self, child uint64 }

func (c cpu) total() uint64 { return c.self + c.child }

type proc struct {
	pid, ppid   int
	start       uint64 // starttime, ticks since boot: with pid, the key
	comm, args  string
	group       string
	first, last cpu
	alive       bool
	round       int
}

type key struct {
	pid   int
	start uint64
}

type account struct {
	self  int
	procs map[key]*proc
	byPid map[int]*proc // the live process of each pid
	fns   map[int]string
	round int
}

func newAccount(self int) *account {
	return &account{self: self, procs: map[key]*proc{}, byPid: map[int]*proc{}, fns: map[int]string{}}
}

// sample reads every process once. baseline: the processes that exist
// before the command are counted from now; later ones from their birth.
func (a *account) sample(providerURL string, baseline bool) {
	a.round++
	if ins, err := provider.FetchInstances(context.Background(), nil, providerURL); err == nil {
		for _, in := range ins {
			a.fns[in.PID] = in.Function
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := readStat(pid)
		if !ok {
			continue
		}
		k := key{pid, st.start}
		p := a.procs[k]
		if p == nil {
			p = &proc{pid: pid, ppid: st.ppid, start: st.start, comm: st.comm, alive: true}
			if baseline {
				p.first = st.cpu
			}
			if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil {
				p.args = strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
			}
			a.procs[k] = p
		}
		// exec changes the name: classify on what it is now.
		p.comm, p.ppid, p.last, p.round = st.comm, st.ppid, st.cpu, a.round
		a.byPid[pid] = p
	}
	for _, p := range a.procs {
		if p.alive && p.round != a.round {
			p.alive = false
			if a.byPid[p.pid] == p {
				delete(a.byPid, p.pid)
			}
		}
	}
	for _, p := range a.procs {
		if p.alive {
			p.group = a.classify(p)
		}
	}
}

// classify names p's group from itself or its nearest known ancestor.
func (a *account) classify(p *proc) string {
	for q, depth := p, 0; q != nil && depth < 64; depth++ {
		if fn, ok := a.fns[q.pid]; ok {
			if strings.HasPrefix(fn, "faasmon-") {
				return "detector: " + fn
			}
			return "app functions"
		}
		switch {
		case q.comm == "strace" || q.comm == "tcpdump":
			// Only the tracer's own: a test elsewhere on the machine
			// running strace (the parity test) is not the tracer's cost
			// (an eBPF run once held 1.2 CPU-s of strace it never ran).
			if a.underTracer(q) {
				return "tracer: " + q.comm
			}
			return ""
		case q.comm == "faasmon-tracer":
			return "tracer: faasmon-tracer"
		case q.comm == "gateway":
			return "queue: gateway"
		case strings.HasPrefix(q.comm, "nats-queue-work"):
			return "queue: queue-worker"
		case strings.HasPrefix(q.comm, "nats-streaming"):
			return "queue: NATS"
		case q.comm == "faasmon-stack" && strings.Contains(q.args, "provider"):
			if q != p {
				// a child of the provider not (yet) in its instance list
				return "provider"
			}
			return "provider"
		case q.comm == "prometheus":
			return "prometheus"
		case q.comm == "lab":
			if q == p {
				return "lab driver"
			}
		case q.pid == a.self:
			return "other (builds, go run)"
		}
		q = a.byPid[q.ppid]
	}
	return ""
}

// underTracer says whether p descends from faasmon-tracer.
func (a *account) underTracer(p *proc) bool {
	for q, depth := a.byPid[p.ppid], 0; q != nil && depth < 64; depth++ {
		if q.comm == "faasmon-tracer" {
			return true
		}
		q = a.byPid[q.ppid]
	}
	return false
}

// groups sums the account by group; processes outside the command's tree
// and the stack ("" group) are left out.
func (a *account) groups() map[string]uint64 {
	used := map[*proc]int64{}
	for _, p := range a.procs {
		used[p] += int64(p.last.total()) - int64(p.first.total())
	}
	for _, d := range a.procs {
		if d.alive {
			continue
		}
		// d's parent got d's whole CPU time (from its birth) when it
		// reaped it: take off what d counted itself.
		par := a.parentOf(d)
		if par != nil && !par.alive && par.round < d.round {
			continue // the parent ended first: d was reaped by another
		}
		if par != nil {
			used[par] -= int64(d.last.total())
		}
	}
	out := map[string]uint64{}
	for p, v := range used {
		if p.group == "" {
			continue
		}
		if v < 0 {
			v = 0
		}
		out[p.group] += uint64(v)
	}
	return out
}

func (a *account) parentOf(d *proc) *proc {
	var best *proc
	for _, p := range a.procs {
		if p.pid == d.ppid && p.start <= d.start && (best == nil || p.start > best.start) {
			best = p
		}
	}
	return best
}

type stat struct {
	ppid  int
	comm  string
	start uint64
	cpu   cpu
}

func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return stat{}, false
	}
	f := strings.Fields(string(b[j+1:]))
	// After comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14) ... starttime(19)
	if len(f) < 20 {
		return stat{}, false
	}
	u := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
	ppid, _ := strconv.Atoi(f[1])
	return stat{ppid: ppid, comm: string(b[i+1 : j]), start: u(19),
		cpu: cpu{self: u(11) + u(12), child: u(13) + u(14)}}, true
}

// ticksPerSecond is USER_HZ: 100 on every Linux this runs on.
func ticksPerSecond() float64 { return 100 }

func countLines(p string) int {
	f, err := os.Open(p)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		n++
	}
	return n
}

func print(g map[string]uint64, tick float64, wall time.Duration, n int, argv []string) {
	names := make([]string, 0, len(g))
	for k := range g {
		names = append(names, k)
	}
	sort.Strings(names)
	sum := func(prefix string) float64 {
		var s uint64
		for k, v := range g {
			if strings.HasPrefix(k, prefix) {
				s += v
			}
		}
		return float64(s) / tick
	}
	app := sum("app functions")
	fmt.Printf("\nCPU account of: %s\nwall %.1f s", strings.Join(argv, " "), wall.Seconds())
	if n > 0 {
		fmt.Printf(", %d invocations", n)
	}
	fmt.Printf("\n\n%-34s %9s %9s\n", "group", "CPU-s", "× app")
	for _, k := range names {
		v := float64(g[k]) / tick
		fmt.Printf("%-34s %9.2f %9.2f\n", k, v, ratio(v, app))
	}
	det, tr, q := sum("detector: "), sum("tracer: "), sum("queue: ")
	fmt.Printf("\n%-34s %9.2f %9.2f\n", "app functions", app, 1.0)
	fmt.Printf("%-34s %9.2f %9.2f\n", "detector (4 functions)", det, ratio(det, app))
	fmt.Printf("%-34s %9.2f %9.2f\n", "tracer", tr, ratio(tr, app))
	fmt.Printf("%-34s %9.2f %9.2f\n", "detector + tracer", det+tr, ratio(det+tr, app))
	fmt.Printf("%-34s %9.2f %9.2f\n", "gateway + queue-worker + NATS", q, ratio(q, app))
	if n > 0 {
		fmt.Printf("\nper invocation: app %.1f ms, detector+tracer %.1f ms, queue %.1f ms\n",
			1000*app/float64(n), 1000*(det+tr)/float64(n), 1000*q/float64(n))
	}
}

func ratio(v, app float64) float64 {
	if app == 0 {
		return 0
	}
	return v / app
}

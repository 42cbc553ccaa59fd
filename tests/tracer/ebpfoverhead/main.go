package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
)

var kernelOnly *bool

func main() {
	child := flag.String("child", "", "internal: run a workload (loop or http)")
	runs := flag.Int("runs", 15, "runs per setting and workload")
	loop := flag.Int("loop", 200000, "open/read/close iterations per loop run")
	requests := flag.Int("requests", 2000, "requests per http run")
	paired := flag.Int("paired", 0, "instead: the http server alone, one process, settings alternating in this many blocks (per setting) of -requests requests")
	cpuprofile := flag.String("cpuprofile", "", "write this process's CPU profile (the record reader and decoder) here")
	kernelOnly = flag.Bool("kernel", false, `also measure "kernel": the cgroup traced, records read from the ring and counted but not decoded`)
	flag.Parse()
	switch *child {
	case "loop":
		childLoop(*loop)
		return
	case "http":
		childHTTP()
		return
	}
	if os.Geteuid() != 0 {
		fail(fmt.Errorf("needs root (cgroups, BPF)"))
	}
	root, err := ebpf.CgroupRoot("/proc")
	if err != nil {
		fail(err)
	}
	file, err := os.CreateTemp("", "ebpfoverhead-")
	if err != nil {
		fail(err)
	}
	defer os.Remove(file.Name())
	_, _ = file.WriteString(strings.Repeat("x", 64))
	file.Close()

	if *paired > 0 {
		lat, cpu, n, err := pairedHTTP(root, *paired, *requests)
		if err != nil {
			fail(err)
		}
		host, _ := os.Hostname()
		fmt.Printf("ebpfoverhead -paired: %s, %d CPUs, %s; %d blocks of %d requests per setting, one server process\n", host, numCPU(), time.Now().UTC().Format(time.RFC3339), *paired, *requests)
		for _, s := range []string{"off", "idle", "on"} {
			fmt.Printf("  %-5s latency %8.1f µs ×%.3f   server CPU per request %6.2f µs ×%.3f\n", s, lat[s], lat[s]/lat["off"], cpu[s], cpu[s]/cpu["off"])
		}
		fmt.Printf("events decoded while on: %d\n", n)
		return
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	settings := []string{"off", "idle", "on"}
	if *kernelOnly {
		settings = append(settings, "kernel")
	}
	res := map[string]map[string][]float64{"loop": {}, "http": {}}
	var lost, decoded uint64
	for i := 0; i < *runs; i++ {
		for _, s := range settings {
			for _, w := range []string{"loop", "http"} {
				v, l, n, err := run(root, s, w, file.Name(), *loop, *requests)
				if err != nil {
					fail(fmt.Errorf("run %d %s %s: %w", i, s, w, err))
				}
				res[w][s] = append(res[w][s], v)
				lost += l
				decoded += n
			}
		}
	}
	host, _ := os.Hostname()
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	fmt.Printf("ebpfoverhead: %s, kernel %s, %d CPUs, %s; %d runs per setting\n", host, unix.ByteSliceToString(uts.Release[:]), numCPU(), time.Now().UTC().Format(time.RFC3339), *runs)
	for _, w := range []string{"loop", "http"} {
		unit := "ms per run of " + strconv.Itoa(*loop) + " open/read/close"
		if w == "http" {
			unit = "µs median request latency over " + strconv.Itoa(*requests) + " requests"
		}
		off := median(res[w]["off"])
		fmt.Printf("%-5s (%s)\n", w, unit)
		for _, s := range settings {
			m := median(res[w][s])
			fmt.Printf("  %-5s median %10.1f  ×%.3f\n", s, m, m/off)
		}
	}
	fmt.Printf("events decoded while on: %d; records lost: %d\n", decoded, lost)
}

// run does one run of workload w under setting s and returns its measure
// (loop: ms; http: median µs), records lost and events decoded.
func run(root, s, w, file string, loop, requests int) (float64, uint64, uint64, error) {
	dir := filepath.Join(root, fmt.Sprintf("faasmon-ebpfoverhead-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return 0, 0, 0, err
	}
	defer func() {
		for i := 0; i < 100 && os.Remove(dir) != nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, 0, 0, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var b *ebpf.Backend
	var stream *ebpf.Stream
	drained := make(chan uint64, 1)
	if s != "off" {
		b = ebpf.New(ebpf.Config{})
		if _, err := b.Probe(); err != nil {
			return 0, 0, 0, err
		}
		defer b.Close()
	}
	if s == "kernel" {
		p, _ := b.Probe()
		var n uint64
		stop, _, err := p.Subscribe(st.Ino, func([]byte) { n++ })
		if err != nil {
			return 0, 0, 0, err
		}
		defer func() { stop(); drained <- n }()
		_ = drained
	}
	if s == "on" {
		var err error
		if stream, err = b.AttachCgroup(ctx, st.Ino, 256000); err != nil {
			return 0, 0, 0, err
		}
		go func() {
			var n uint64
			for {
				if _, _, err := stream.Next(); err != nil {
					drained <- n
					return
				}
				n++
			}
		}()
	}
	self, _ := os.Executable()
	cmd := exec.Command(self, "-child", w, "-loop", strconv.Itoa(loop))
	cmd.Env = append(os.Environ(), "EBPFOVERHEAD_FILE="+file)
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		return 0, 0, 0, err
	}
	out := bufio.NewReader(outp)
	var v float64
	switch w {
	case "loop":
		_, _ = io.WriteString(in, "go\n")
		line, err := out.ReadString('\n')
		if err != nil {
			return 0, 0, 0, fmt.Errorf("loop child: %w", err)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if err != nil {
			return 0, 0, 0, err
		}
		v = float64(ns) / 1e6
	case "http":
		addr, err := out.ReadString('\n')
		if err != nil {
			return 0, 0, 0, fmt.Errorf("http child: %w", err)
		}
		url := "http://" + strings.TrimSpace(addr) + "/"
		c := &http.Client{Timeout: 5 * time.Second}
		lat := make([]float64, 0, requests)
		for i := 0; i < requests+requests/10; i++ {
			t0 := time.Now()
			resp, err := c.Get(url)
			if err != nil {
				return 0, 0, 0, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if i >= requests/10 { // the first tenth warms up
				lat = append(lat, float64(time.Since(t0).Nanoseconds())/1e3)
			}
		}
		v = median(lat)
	}
	in.Close()
	_ = cmd.Wait()
	var lost, n uint64
	if stream != nil {
		time.Sleep(2 * ebpf.PollInterval)
		lost = stream.Dropped()
		stream.Close()
		n = <-drained
	}
	return v, lost, n, nil
}

func childLoop(n int) {
	file := os.Getenv("EBPFOVERHEAD_FILE")
	var buf [64]byte
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	t0 := time.Now()
	for i := 0; i < n; i++ {
		fd, err := unix.Open(file, unix.O_RDONLY, 0)
		if err != nil {
			fail(err)
		}
		_, _ = unix.Read(fd, buf[:])
		_ = unix.Close(fd)
	}
	fmt.Println(time.Since(t0).Nanoseconds())
}

func childHTTP() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello from a traced function\n"))
	}))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func numCPU() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0
	}
	return set.Count()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ebpfoverhead:", err)
	os.Exit(1)
}

package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	stracebe "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
)

func main() {
	mode := flag.String("mode", "bench", "bench | tracee")
	iters := flag.Int("iters", 20000, "open/read/close iterations per loop run")
	reqs := flag.Int("reqs", 300, "HTTP requests per configuration")
	flag.Parse()
	if *mode == "tracee" {
		tracee(*iters)
		return
	}
	if err := bench(*iters, *reqs); err != nil {
		fmt.Fprintln(os.Stderr, "pinbench:", err)
		os.Exit(1)
	}
}

// tracee serves /loop (runs the syscall loop, answers its duration) and /
// (a plain HTTP answer, with one file read as a handler would do).
func tracee(iters int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	http.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		buf := make([]byte, 64)
		for i := 0; i < iters; i++ {
			f, err := os.Open("/etc/hostname")
			if err != nil {
				continue
			}
			_, _ = f.Read(buf)
			_ = f.Close()
		}
		fmt.Fprint(w, time.Since(t0).Nanoseconds())
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, _ := os.ReadFile("/etc/hostname")
		_, _ = w.Write(b)
	})
	_ = http.Serve(ln, nil)
}

type placement struct {
	name             string
	strace           bool
	traceeCPU, stCPU int // -1: free
}

func bench(iters, reqs int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ncpu := runtimeCPUs()
	cases := []placement{
		{"no strace", false, -1, -1},
		{"strace, both free", true, -1, -1},
		{"strace cpu1, tracee cpu0 (crossing)", true, 0, 1},
		{"strace cpu0, tracee free", true, -1, 0},
		{"strace and tracee on cpu0", true, 0, 0},
	}
	fmt.Printf("cpus=%d iters=%d reqs=%d strace=%s\n", ncpu, iters, reqs, strings.Join(stracebe.Args(0), " "))
	var base [2]float64
	for i, c := range cases {
		loop, httpP50, err := runCase(self, c, iters, reqs)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if i == 0 {
			base = [2]float64{loop, httpP50}
		}
		fmt.Printf("%-40s loop median %8.1f ms (%5.1fx)   http p50 %7.3f ms (%4.2fx)\n", c.name, loop/1e6, loop/base[0], httpP50/1e6, httpP50/base[1])
	}
	return nil
}

func runtimeCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 1
	}
	return set.Count()
}

func pinAll(pid, cpu int) error {
	if cpu < 0 {
		return nil
	}
	var set unix.CPUSet
	set.Set(cpu)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, _ := strconv.Atoi(t.Name())
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return err
		}
	}
	return nil
}

func runCase(self string, c placement, iters, reqs int) (float64, float64, error) {
	tr := exec.Command(self, "-mode", "tracee", "-iters", strconv.Itoa(iters))
	out, err := tr.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := tr.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { _ = tr.Process.Kill(); _ = tr.Wait() }()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return 0, 0, err
	}
	addr = strings.TrimSpace(addr)
	if err := pinAll(tr.Process.Pid, c.traceeCPU); err != nil {
		return 0, 0, err
	}
	if c.strace {
		st := exec.Command("strace", stracebe.Args(tr.Process.Pid)...)
		st.Stdout = io.Discard
		if err := st.Start(); err != nil {
			return 0, 0, err
		}
		defer func() { _ = st.Process.Kill(); _ = st.Wait() }()
		if err := pinAll(st.Process.Pid, c.stCPU); err != nil {
			return 0, 0, err
		}
		time.Sleep(500 * time.Millisecond) // let strace attach to every thread
	}
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: false}}
	get := func(path string) (string, time.Duration, error) {
		t0 := time.Now()
		resp, err := cl.Get("http://" + addr + path)
		if err != nil {
			return "", 0, err
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return string(b), time.Since(t0), err
	}
	var loops []float64
	for i := 0; i < 5; i++ {
		b, _, err := get("/loop")
		if err != nil {
			return 0, 0, err
		}
		ns, _ := strconv.ParseFloat(b, 64)
		loops = append(loops, ns)
	}
	var lat []float64
	for i := 0; i < reqs; i++ {
		_, d, err := get("/")
		if err != nil {
			return 0, 0, err
		}
		lat = append(lat, float64(d))
	}
	return median(loops), median(lat), nil
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

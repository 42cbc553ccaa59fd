package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
)

// pairedHTTP measures the HTTP server with one server process for the
// whole run and the setting switched block by block (off, idle, on, off,
// …): the machine's drift between separate runs, larger here than the
// effect, then falls on all three alike. Two measures per block: the
// median request latency (µs), and the server's own CPU time per request
// (µs, from its process CPU clock: what tracing adds to its system calls,
// without the idle-CPU wake-up latency that dominates a lone loopback
// request on a quiet machine). Returns the median over blocks of each.
func pairedHTTP(root string, blocks, perBlock int) (lat, cpu map[string]float64, events uint64, err error) {
	dir := filepath.Join(root, fmt.Sprintf("faasmon-ebpfoverhead-paired-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return nil, nil, 0, err
	}
	defer func() {
		for i := 0; i < 100 && os.Remove(dir) != nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return nil, nil, 0, err
	}
	self, _ := os.Executable()
	cmd := exec.Command(self, "-child", "http")
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, 0, err
	}
	defer func() { in.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		return nil, nil, 0, err
	}
	addr, err := bufio.NewReader(outp).ReadString('\n')
	if err != nil {
		return nil, nil, 0, fmt.Errorf("http child: %w", err)
	}
	url := "http://" + strings.TrimSpace(addr) + "/"
	c := &http.Client{Timeout: 5 * time.Second}
	get := func() (float64, error) {
		t0 := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return float64(time.Since(t0).Nanoseconds()) / 1e3, nil
	}
	for i := 0; i < perBlock; i++ { // warm up the connection and the server
		if _, err := get(); err != nil {
			return nil, nil, 0, err
		}
	}
	meds, cpus := map[string][]float64{}, map[string][]float64{}
	// The server's process CPU clock (all its threads, ns), as
	// clock_getcpuclockid(3) names it: ((~pid) << 3) | CPUCLOCK_SCHED.
	clock := int32((^cmd.Process.Pid)<<3 | 2)
	schedstat := func() float64 {
		var ts unix.Timespec
		if err := unix.ClockGettime(clock, &ts); err != nil {
			return 0
		}
		return float64(ts.Nano())
	}
	settings := []string{"off", "idle", "on"}
	for i := 0; i < blocks*len(settings); i++ {
		s := settings[i%len(settings)]
		var b *ebpf.Backend
		var stream *ebpf.Stream
		drained := make(chan uint64, 1)
		if s != "off" {
			b = ebpf.New(ebpf.Config{})
			if _, err := b.Probe(); err != nil {
				return nil, nil, 0, err
			}
		}
		if s == "on" {
			if stream, err = b.AttachCgroup(context.Background(), st.Ino, 256000); err != nil {
				b.Close()
				return nil, nil, 0, err
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
		lat := make([]float64, 0, perBlock)
		cpu0 := schedstat()
		for j := 0; j < perBlock; j++ {
			v, err := get()
			if err != nil {
				return nil, nil, 0, err
			}
			lat = append(lat, v)
		}
		cpus[s] = append(cpus[s], (schedstat()-cpu0)/1e3/float64(perBlock))
		if stream != nil {
			time.Sleep(2 * ebpf.PollInterval)
			stream.Close()
			events += <-drained
		}
		if b != nil {
			b.Close()
		}
		meds[s] = append(meds[s], median(lat))
	}
	lat, cpu = map[string]float64{}, map[string]float64{}
	for s := range meds {
		lat[s], cpu[s] = median(meds[s]), median(cpus[s])
	}
	return lat, cpu, events, nil
}

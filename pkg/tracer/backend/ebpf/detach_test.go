package ebpf

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDetachHandsOverTheRing: a container's last records are still in the
// ring buffer when it ends (the reader wakes every PollInterval; a
// container recycled right after an invocation answered is detached
// within that time). Detaching must hand them to the stream first: every
// one of the workload's opens is decoded, though the stream is closed the
// moment the workload exits. Before the drain, the records of about the
// last PollInterval were dropped as unrouted.
func TestDetachHandsOverTheRing(t *testing.T) {
	loadOrSkip(t)
	for _, follow := range []bool{false, true} {
		// Following a parent cgroup (containers traced from creation, the
		// local stack's and a cluster's setting), records left after the
		// detach were held for a subscriber that never came.
		t.Run(fmt.Sprintf("follow=%v", follow), func(t *testing.T) { detachHandsOverTheRing(t, follow) })
	}
}

func detachHandsOverTheRing(t *testing.T, follow bool) {
	var b *Backend
	cgDir, cg := newCgroup(t)
	if follow {
		root, err := CgroupRoot("/proc")
		if err != nil {
			t.Skip(err)
		}
		b = New(Config{FollowParent: strings.TrimPrefix(cgDir, root+"/")})
		t.Cleanup(func() { b.Close() })
		if err := b.Start(); err != nil {
			t.Skipf("BPF refused: %v", err)
		}
		cgDir = filepath.Join(cgDir, "container")
		if err := os.Mkdir(cgDir, 0o755); err != nil {
			t.Skipf("cannot create a cgroup: %v", err)
		}
		t.Cleanup(func() {
			for i := 0; i < 50 && os.Remove(cgDir) != nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		})
		var st syscall.Stat_t
		if err := syscall.Stat(cgDir, &st); err != nil {
			t.Fatal(err)
		}
		cg = st.Ino
	} else {
		b = loadedBackend(t)
	}
	marker := filepath.Join(t.TempDir(), "marker")
	if err := os.WriteFile(marker, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 300
	// Builtins only (no fork): n opens within a few milliseconds, far
	// below the ring's wake-up threshold, then the process ends.
	script := fmt.Sprintf(`read go; for ((i = 0; i < %d; i++)); do read -r x <"$F"; done; exit 0`, n)
	// Three rounds, a fresh process and stream each: the drain is per
	// detach.
	for round := 0; round < 3; round++ {
		cmd := exec.Command("/bin/bash", "-c", script)
		cmd.Env = append(os.Environ(), "F="+marker)
		in := startGated(t, cmd, cgDir)
		ctx, cancel := context.WithCancel(context.Background())
		s, err := b.AttachCgroup(ctx, cg, 0)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		if _, err := in.Write([]byte("go\n")); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		cancel() // detach at once, as discovery does when a container ends
		opens := 0
		for {
			ev, err := s.NextEvent()
			if err != nil {
				break
			}
			if ev.Path == marker && (ev.Syscall == "openat" || ev.Syscall == "open") {
				opens++
			}
		}
		if opens != n {
			t.Errorf("round %d: %d of the %d opens decoded (unrouted %d)", round, opens, n, b.probe.Unrouted())
		}
	}
}

// TestCollectors: the probe's counters register in a Prometheus registry
// under their names and read the probe's atomics.
func TestCollectors(t *testing.T) {
	p := &Probe{}
	p.unrouted.Add(3)
	p.expired.Add(5)
	p.undrained.Add(1)
	r := prometheus.NewRegistry()
	r.MustRegister(p.Collectors()...)
	mfs, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()[0].GetCounter().GetValue()
	}
	want := map[string]float64{
		"faasmon_tracer_ebpf_records_unrouted_total": 3,
		"faasmon_tracer_ebpf_records_expired_total":  5,
		"faasmon_tracer_ebpf_detach_undrained_total": 1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("gathered %v, want %v", got, want)
	}
}

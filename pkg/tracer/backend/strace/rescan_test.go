package strace_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/proctest"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/backend/backendtest"
	stracebe "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

var cgroupSeq atomic.Int64

// testCgroup makes a cgroup v2 directory standing for a container's (a
// pod's container, or a local instance's faasmon-fn/<function>-<id>), or
// skips where none can be made (not root, cgroup v1 only, a CI container
// without a writable cgroup tree).
func testCgroup(t *testing.T) string {
	t.Helper()
	backendtest.Need(t, "strace", "sh", "cat", "sleep")
	root, err := discovery.CgroupRoot("/proc")
	if err != nil {
		t.Skip(err)
	}
	cg := filepath.Join(root, fmt.Sprintf("faasmon-strace-rescan-%d-%d", os.Getpid(), cgroupSeq.Add(1)))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() {
		// Its processes were killed by their own cleanups (registered
		// later, so run first); rmdir succeeds once they are reaped.
		for i := 0; i < 50 && os.Remove(cg) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})
	return cg
}

// enter starts a looping shell that cats marker, outside any traced
// process tree, and moves it into cgroup cg: what `kubectl exec` or
// `docker exec` does to a container (runc joins the container's cgroup
// from outside).
func enter(t *testing.T, cg, marker string) int {
	t.Helper()
	pid := outside(t, marker)
	move(t, cg, pid)
	return pid
}

// original makes a test cgroup with an original process in it, looping
// on its marker: the cgroup, a temporary directory, the marker and the
// target to trace.
func original(t *testing.T) (cg, dir, orig string, tg discovery.Target) {
	t.Helper()
	cg = testCgroup(t)
	dir = t.TempDir()
	orig = filepath.Join(dir, "original-marker")
	tg = backendtest.Target(t, enter(t, cg, orig))
	tg.Cgroup = cg
	return cg, dir, orig, tg
}

// outside starts the looping shell of enter without moving it.
func outside(t *testing.T, marker string) int {
	t.Helper()
	if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `while :; do cat "$M" >/dev/null; sleep 0.05; done`)
	cmd.Env = append(os.Environ(), "M="+marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

func move(t *testing.T, cg string, pid int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		t.Skipf("cannot move pid %d into a cgroup: %v", pid, err)
	}
}

// seen says whether any chunk of stream (all streams if "") holds s.
func seen(col *backendtest.Collector, stream, s string) bool {
	for name, cs := range col.Streams() {
		if stream != "" && name != stream {
			continue
		}
		for _, c := range cs {
			if bytes.Contains(c.Body, []byte(s)) {
				return true
			}
		}
	}
	return false
}

// streamWith is the name of the first stream holding s.
func streamWith(col *backendtest.Collector, s string) string {
	for name, cs := range col.Streams() {
		for _, c := range cs {
			if bytes.Contains(c.Body, []byte(s)) {
				return name
			}
		}
	}
	return ""
}

// TestStraceFollowsProcessEnteringContainer: a process moved into the
// container's cgroup from outside, while strace runs, is traced in the
// same stream (no restart, chunks in sequence), and counted once.
func TestStraceFollowsProcessEnteringContainer(t *testing.T) {
	// Through nsenter too, as the tracer runs strace in a pod's network
	// namespace: nsenter execs strace, so its pid is the TracerPid the
	// newcomer shows.
	for _, viaNsenter := range []bool{false, true} {
		t.Run(fmt.Sprintf("nsenter=%v", viaNsenter), func(t *testing.T) {
			followsEntering(t, viaNsenter)
		})
	}
}

func followsEntering(t *testing.T, viaNsenter bool) {
	if viaNsenter {
		backendtest.Need(t, "nsenter")
	}
	cg, dir, orig, tg := original(t)
	if viaNsenter {
		tg.NetNS = fmt.Sprintf("/proc/%d/ns/net", tg.PID)
	}

	col, m, stop := runTraced(t, tg, stracebe.Config{Rescan: 200 * time.Millisecond}, orig)
	first := streamWith(col, orig)

	newcomer := filepath.Join(dir, "newcomer-marker")
	entered := time.Now()
	npid := enter(t, cg, newcomer)
	backendtest.WaitFor(t, "the process that entered the container attached", 10*time.Second, func() bool {
		tp, _, err := discovery.TracerPid("/proc", npid)
		return err == nil && tp != 0
	})
	attached := time.Since(entered)
	backendtest.WaitFor(t, "the process that entered the container traced", 10*time.Second, func() bool { return seen(col, first, newcomer) })
	// The chunk latency is the cutter's (a line every 50 ms is never
	// quiet for 100 ms: the chunk closes at its age cap).
	t.Logf("newcomer attached %v, in a chunk %v after it entered (rescan every 200 ms)",
		attached.Round(time.Millisecond), time.Since(entered).Round(time.Millisecond))
	// Its own syscalls, not only its children's (strace -f on it).
	if !seen(col, first, strconv.Itoa(npid)+" ") {
		t.Errorf("no line of pid %d itself", npid)
	}
	if n := len(col.Streams()); n != 1 {
		t.Errorf("%d streams, want 1: following a newcomer must not restart the stream", n)
	}
	if r := metrics.Value(m.Restarts.WithLabelValues("strace")); r != 0 {
		t.Errorf("restarts = %v, want 0", r)
	}
	if v := metrics.Value(m.Rescanned.WithLabelValues("strace", metrics.RescanAttached)); v != 1 {
		t.Errorf("rescan attached = %v, want 1", v)
	}
	// Several polls later it is still counted once.
	time.Sleep(600 * time.Millisecond)
	if v := metrics.Value(m.Rescanned.WithLabelValues("strace", metrics.RescanAttached)); v != 1 {
		t.Errorf("rescan attached = %v after more polls, want 1", v)
	}
	// The original is still traced after the newcomer joined.
	stop()
	backendtest.CheckStream(t, first, col.Streams()[first])
	after := false
	joined := false
	for _, c := range col.Streams()[first] {
		joined = joined || bytes.Contains(c.Body, []byte(newcomer))
		after = after || joined && bytes.Contains(c.Body, []byte(orig))
	}
	if !after {
		t.Errorf("the original process is not traced once the newcomer joined")
	}
	// The two straces' lines, interleaved in one stream, parse as
	// faasmon-parse reads them and fold into the graph state: the
	// newcomer's open of its marker is an event like any other.
	st := provenance.NewState(col.Streams()[first][0].Header)
	var pb provenance.Builder
	opened := false
	for _, c := range col.Streams()[first] {
		batch, err := ingest.Chunk(c.Header, c.Body)
		if err != nil {
			t.Fatalf("ingest chunk %d: %v", c.Header.Seq, err)
		}
		if batch.Unparsed > 0 {
			t.Errorf("chunk %d: %d lines unparsed: %v", c.Header.Seq, batch.Unparsed, batch.Errors)
		}
		for _, e := range batch.Events {
			opened = opened || strings.HasPrefix(e.Syscall, "open") && e.Path == newcomer
		}
		if _, err := pb.Apply(st, batch); err != nil {
			t.Fatalf("graph: %v", err)
		}
	}
	if !opened {
		t.Error("no open event of the newcomer's marker")
	}
}

// TestStraceRestartRescansCgroup: the watcher is off, so only the attach
// can find the newcomer. Once strace is killed, the restarted stream
// traces the original and the process that entered the container since,
// though the target's PIDs (discovery's list) name only the original.
func TestStraceRestartRescansCgroup(t *testing.T) {
	cg, dir, orig, tg := original(t)

	col, m, _ := runTraced(t, tg, stracebe.Config{Rescan: -1}, orig)
	first := streamWith(col, orig)

	newcomer := filepath.Join(dir, "newcomer-marker")
	enter(t, cg, newcomer)
	time.Sleep(500 * time.Millisecond)
	if seen(col, "", newcomer) {
		t.Fatal("newcomer traced without a rescan: the test proves nothing")
	}
	st := proctest.Children("strace")
	if len(st) != 1 {
		t.Fatalf("strace children: %v", st)
	}
	if err := syscall.Kill(st[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	restartedTracingBoth(t, col, m, first, orig, newcomer)
}

// TestStraceLostNewcomerRestarts: the strace the watcher started for a
// newcomer is killed; the newcomer, untraced again, makes the stream
// restart, and the new stream traces it and the original. The kill comes
// after the watcher saw the newcomer attached, or before (a poll a second
// away): a process whose strace died is not one strace could not attach
// to, which would be given up for good (a CI run on a slow machine found
// that race: the newcomer's children were then traced one by one, the
// newcomer never again).
func TestStraceLostNewcomerRestarts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rescan  time.Duration
		waitFor func(m *metrics.Metrics, col *backendtest.Collector, first, newcomer string, npid int) bool
	}{
		{"after the watcher saw it attached", 200 * time.Millisecond,
			func(m *metrics.Metrics, col *backendtest.Collector, first, newcomer string, _ int) bool {
				return seen(col, first, newcomer) &&
					metrics.Value(m.Rescanned.WithLabelValues("strace", metrics.RescanAttached)) == 1
			}},
		{"before the watcher saw it attached", time.Second,
			func(_ *metrics.Metrics, _ *backendtest.Collector, _, _ string, npid int) bool {
				tp, _, err := discovery.TracerPid("/proc", npid)
				return err == nil && tp != 0
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cg, dir, orig, tg := original(t)

			col, m, _ := runTraced(t, tg, stracebe.Config{Rescan: tc.rescan}, orig)
			first := streamWith(col, orig)
			newcomer := filepath.Join(dir, "newcomer-marker")
			npid := enter(t, cg, newcomer)
			backendtest.WaitFor(t, "the newcomer traced", 10*time.Second, func() bool {
				return tc.waitFor(m, col, first, newcomer, npid)
			})
			tp, _, err := discovery.TracerPid("/proc", npid)
			if err != nil || tp == 0 {
				t.Fatalf("newcomer's tracer: %d, %v", tp, err)
			}
			if err := syscall.Kill(tp, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			restartedTracingBoth(t, col, m, first, orig, newcomer)
		})
	}
}

// TestStraceRescanGivesUp: a process that enters the container and cannot
// be traced — ptraced already by another tracer (foreign), or strace fails
// on it (failed) — is counted once and never tried again, however many
// polls see it; the stream goes on without a restart, and its chunks carry
// the count (X-Faasmon-Untraced) for the blind-spot alert.
func TestStraceRescanGivesUp(t *testing.T) {
	for _, tc := range []string{metrics.RescanForeign, metrics.RescanFailed} {
		t.Run(tc, func(t *testing.T) {
			cg, dir, orig, tg := original(t)
			straceBin, _ := exec.LookPath("strace")
			// strace through a wrapper that logs each run and fails
			// when given the newcomer (its pid in a file).
			bad, runs := filepath.Join(dir, "bad-pid"), filepath.Join(dir, "runs")
			wrapper := filepath.Join(dir, "strace")
			script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >>%s\nbad=$(cat %s 2>/dev/null)\n"+
				"case \" $* \" in *\" -p $bad \"*) [ -n \"$bad\" ] && exit 1;; esac\nexec %s \"$@\"\n", runs, bad, straceBin)
			if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}

			col, m, _ := runTraced(t, tg, stracebe.Config{Strace: wrapper, Rescan: 100 * time.Millisecond}, orig)

			// A newcomer that forks nothing: each child of an untraced
			// process would be a newcomer of its own.
			sl := exec.Command("sleep", "60")
			if err := sl.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = sl.Process.Kill(); _ = sl.Wait() }()
			npid := sl.Process.Pid
			if tc == metrics.RescanForeign {
				other := exec.Command(straceBin, "-q", "-o", "/dev/null", "-p", strconv.Itoa(npid))
				if err := other.Start(); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
				backendtest.WaitFor(t, "the other tracer attached", 10*time.Second, func() bool {
					tp, _, err := discovery.TracerPid("/proc", npid)
					return err == nil && tp == other.Process.Pid
				})
			} else if err := os.WriteFile(bad, []byte(strconv.Itoa(npid)), 0o644); err != nil {
				t.Fatal(err)
			}
			move(t, cg, npid)
			backendtest.WaitFor(t, "the newcomer counted", 10*time.Second, func() bool {
				return metrics.Value(m.Rescanned.WithLabelValues("strace", tc)) >= 1
			})
			// The blind spot travels with the stream: the chunks cut from
			// now on say one process is untraced (faasmon-graph raises it).
			backendtest.WaitFor(t, "a chunk saying one process is untraced", 10*time.Second, func() bool {
				for _, cs := range col.Streams() {
					for _, c := range cs {
						if c.Header.Untraced == 1 {
							return true
						}
					}
				}
				return false
			})
			time.Sleep(time.Second) // ten more polls
			if v := metrics.Value(m.Rescanned.WithLabelValues("strace", tc)); v != 1 {
				t.Errorf("%s = %v, want 1", tc, v)
			}
			if v := metrics.Value(m.Rescanned.WithLabelValues("strace", metrics.RescanAttached)); v != 0 {
				t.Errorf("attached = %v, want 0", v)
			}
			log, _ := os.ReadFile(runs)
			if n := strings.Count(string(log), "-p "+strconv.Itoa(npid)+"\n") + strings.Count(string(log), "-p "+strconv.Itoa(npid)+" "); tc == metrics.RescanFailed && n != 1 {
				t.Errorf("strace given the newcomer %d times, want 1:\n%s", n, log)
			}
			if tc == metrics.RescanForeign && strings.Contains(string(log), "-p "+strconv.Itoa(npid)) {
				t.Errorf("strace given a process another tracer holds:\n%s", log)
			}
			if n := len(col.Streams()); n != 1 {
				t.Errorf("%d streams, want 1", n)
			}
			for _, cs := range col.Streams() {
				for _, c := range cs {
					if bytes.HasPrefix(c.Body, []byte(strconv.Itoa(npid)+" ")) || bytes.Contains(c.Body, []byte("\n"+strconv.Itoa(npid)+" ")) {
						t.Errorf("a line of the untraceable newcomer %d", npid)
					}
				}
			}
		})
	}
}

// TestStraceNewcomerThreads: a newcomer that already runs threads when it
// is attached (strace never shows them being made) has them named in the
// headers of the chunks cut from then on, so that the graph folds them
// into it, as for the threads of the processes attached at the start.
func TestStraceNewcomerThreads(t *testing.T) {
	backendtest.Need(t, "python3")
	cg, dir, orig, tg := original(t)

	col, _, _ := runTraced(t, tg, stracebe.Config{Rescan: 200 * time.Millisecond}, orig)

	// A thread that opens the marker in a loop, started before the
	// process enters the container.
	marker := filepath.Join(dir, "thread-marker")
	if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	py := exec.Command("python3", "-c", `import sys, threading, time
def loop():
    while True:
        open(sys.argv[1]).close()
        time.sleep(0.05)
threading.Thread(target=loop, daemon=True).start()
time.sleep(60)
`, marker)
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = py.Process.Kill(); _ = py.Wait() }()
	npid := py.Process.Pid
	var tid int
	backendtest.WaitFor(t, "python's thread", 5*time.Second, func() bool {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", npid))
		for _, e := range ents {
			if id, _ := strconv.Atoi(e.Name()); id != npid && id > 0 {
				tid = id
				return true
			}
		}
		return false
	})
	move(t, cg, npid)
	backendtest.WaitFor(t, "the thread's open traced", 10*time.Second, func() bool {
		return seen(col, "", strconv.Itoa(tid)+" ") && seen(col, "", marker)
	})
	named := false
	for _, cs := range col.Streams() {
		for _, c := range cs {
			if bytes.Contains(c.Body, []byte(marker)) && c.Header.Threads[tid] == npid {
				named = true
			}
		}
	}
	if !named {
		t.Errorf("no chunk with the thread's lines names thread %d of process %d", tid, npid)
	}
}

// runTraced runs the strace backend (sc, with fresh metrics) on tg until
// stop or the test's end, and waits until it traced the process that
// opens orig.
func runTraced(t *testing.T, tg discovery.Target, sc stracebe.Config, orig string) (col *backendtest.Collector, m *metrics.Metrics, stop func()) {
	t.Helper()
	m = metrics.New()
	sc.Metrics = m
	col = &backendtest.Collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	cfg := backend.RunConfig{Node: "n1", RestartMin: 50 * time.Millisecond, Chunk: chunker.Config{Quiet: 100 * time.Millisecond}}
	b := stracebe.New(sc)
	go func() {
		backend.Run(ctx, b, tg, cfg, m, col.Sink)
		close(done)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	backendtest.WaitFor(t, "the original process traced", 10*time.Second, func() bool { return seen(col, "", orig) })
	return col, m, stop
}

// restartedTracingBoth waits for a stream other than first that traces
// both marker processes, and checks the backend restarted once.
func restartedTracingBoth(t *testing.T, col *backendtest.Collector, m *metrics.Metrics, first, orig, newcomer string) {
	t.Helper()
	backendtest.WaitFor(t, "a second stream tracing both", 10*time.Second, func() bool {
		for name := range col.Streams() {
			if name != first && seen(col, name, orig) && seen(col, name, newcomer) {
				return true
			}
		}
		return false
	})
	if r := metrics.Value(m.Restarts.WithLabelValues("strace")); r != 1 {
		t.Errorf("restarts = %v, want 1", r)
	}
}

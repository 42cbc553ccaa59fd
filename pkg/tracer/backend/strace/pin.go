package strace

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinning remembers the tracee's affinity so it can be restored on detach.
type pinning struct {
	pid  int
	cpu  int
	orig unix.CPUSet
}

// pinTracee moves every thread of pid onto one CPU of its allowed set (the
// one it last ran on) and returns how to put strace on the same CPU.
func pinTracee(procRoot string, pid int) (*pinning, error) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &orig); err != nil {
		return nil, fmt.Errorf("affinity of %d: %w", pid, err)
	}
	cpu, err := lastCPU(procRoot, pid)
	if err != nil || !orig.IsSet(cpu) {
		cpu = firstCPU(orig)
	}
	if cpu < 0 {
		return nil, fmt.Errorf("pid %d has no allowed CPU", pid)
	}
	p := &pinning{pid: pid, cpu: cpu, orig: orig}
	var one unix.CPUSet
	one.Set(cpu)
	if err := setAll(procRoot, pid, &one); err != nil {
		p.restore(procRoot)
		return nil, err
	}
	return p, nil
}

// pinTracer puts strace on the tracee's CPU. strace is single-threaded, and
// threads it may fork inherit the mask.
func (p *pinning) pinTracer(pid int) error {
	var one unix.CPUSet
	one.Set(p.cpu)
	if err := unix.SchedSetaffinity(pid, &one); err != nil {
		return fmt.Errorf("pin strace %d to cpu %d: %w", pid, p.cpu, err)
	}
	return nil
}

// restore gives the tracee's threads their original CPUs back (best effort:
// the process may be gone).
func (p *pinning) restore(procRoot string) {
	_ = setAll(procRoot, p.pid, &p.orig)
}

// setAll sets the affinity of every thread of pid; threads created later
// inherit it from their creator.
func setAll(procRoot string, pid int, set *unix.CPUSet) error {
	ents, err := os.ReadDir(filepath.Join(procRoot, strconv.Itoa(pid), "task"))
	if err != nil {
		return fmt.Errorf("threads of %d: %w", pid, err)
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("set affinity of thread %d: %w", tid, err)
		}
	}
	return nil
}

// lastCPU reads field 39 (processor) of /proc/PID/stat.
func lastCPU(procRoot string, pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return -1, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1, fmt.Errorf("stat of %d: no comm", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 37 {
		return -1, fmt.Errorf("stat of %d: short", pid)
	}
	return strconv.Atoi(string(f[36]))
}

func firstCPU(s unix.CPUSet) int {
	for i := 0; i < len(s)*64; i++ {
		if s.IsSet(i) {
			return i
		}
	}
	return -1
}

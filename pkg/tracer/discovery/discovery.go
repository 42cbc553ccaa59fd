package discovery

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Target is one function container (locally: one provider instance).
type Target struct {
	// Key is unique per container incarnation: the container id on
	// Kubernetes, the instance ID locally. A restart gives a new Key.
	Key       string
	Function  string
	Namespace string
	Pod       string // empty locally
	Container string // container id, or the local instance ID
	// Image names the container's code version: the image digest on
	// Kubernetes, the build locally. Per-function profiles are per image.
	Image string
	// PID is the container's top process; PIDs are all its processes at
	// discovery time. A sensor that attaches to processes (strace) asks
	// Members for the current ones instead: the list goes stale as soon as
	// something enters the container (kubectl exec).
	PID  int
	PIDs []int
	// Cgroup is the host path of the container's cgroup v2 directory
	// (empty when unknown: cgroup v1, no cgroup of its own): Members reads
	// the container's current processes from it.
	Cgroup string
	NetNS  string // path of the network namespace to capture in
	// StartTicks is PID's start time (/proc/PID/stat field 22): with PID it
	// identifies the process even if the PID number is reused later.
	StartTicks uint64
}

// Source produces snapshots of the targets on this node.
type Source interface {
	// Run calls update with every new snapshot (the complete set of live
	// targets) until ctx is done. It returns ctx's error, or an error that
	// makes discovery impossible (e.g. no API access at all).
	Run(ctx context.Context, update func([]Target)) error
}

// ProcStart reads a process's start time in clock ticks (field 22 of
// /proc/PID/stat). The comm field may hold spaces and parentheses, so the
// fields are counted from the last ')'.
func ProcStart(procRoot string, pid int) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat of pid %d: no comm field", pid)
	}
	fields := bytes.Fields(b[i+1:])
	// After comm: state(3) ppid(4) ... starttime(22) → index 22-3 = 19.
	if len(fields) < 20 {
		return 0, fmt.Errorf("stat of pid %d: %d fields", pid, len(fields))
	}
	v, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat of pid %d: starttime: %w", pid, err)
	}
	return v, nil
}

// Alive says whether the target's top process still runs (same PID, same
// start time).
func Alive(procRoot string, t Target) bool {
	st, err := ProcStart(procRoot, t.PID)
	if err != nil {
		return false
	}
	return t.StartTicks == 0 || st == t.StartTicks
}

package localstack

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FunctionCgroup is the cgroup v2 directory (under the cgroup root) that
// holds one cgroup per function instance, as a node's pods cgroup holds one
// per container. The tracer's eBPF sensor follows the cgroups created under
// it from their creation (faasmon-tracer -cgroup-parent faasmon-fn), so an
// instance's first calls are traced before discovery names it.
const FunctionCgroup = "faasmon-fn"

// cgroup2Root is the cgroup v2 mount (/sys/fs/cgroup, or
// /sys/fs/cgroup/unified on a hybrid host).
func cgroup2Root() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		if f := strings.Fields(pre); ok && strings.HasPrefix(post, "cgroup2 ") && len(f) >= 5 {
			return f[4], nil
		}
	}
	return "", fmt.Errorf("no cgroup v2 mount")
}

// instanceCgroup makes the instance's cgroup and opens it, for the
// process to be born in it (SysProcAttr.CgroupFD: clone3 with
// CLONE_INTO_CGROUP, as a container runtime starts a container's first
// process in its cgroup).
func instanceCgroup(name string) (*os.File, string, error) {
	root, err := cgroup2Root()
	if err != nil {
		return nil, "", err
	}
	dir := filepath.Join(root, FunctionCgroup, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	f, err := os.Open(dir)
	if err != nil {
		_ = os.Remove(dir)
		return nil, "", err
	}
	return f, dir, nil
}

// cgroupPids lists the processes in an instance's cgroup (none when it
// has no cgroup or it is gone).
func cgroupPids(dir string) []int {
	if dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// removeCgroup kills what is left in an instance's cgroup and removes it.
func removeCgroup(dir string) error {
	if dir == "" {
		return nil
	}
	_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	var err error
	for i := 0; i < 50; i++ {
		if err = os.Remove(dir); err == nil || os.IsNotExist(err) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// sweepCgroups removes the empty instance cgroups a provider that died
// left behind (best effort: one that still holds a process stays).
func sweepCgroups() {
	root, err := cgroup2Root()
	if err != nil {
		return
	}
	ents, _ := os.ReadDir(filepath.Join(root, FunctionCgroup))
	for _, e := range ents {
		if e.IsDir() {
			_ = os.Remove(filepath.Join(root, FunctionCgroup, e.Name()))
		}
	}
}

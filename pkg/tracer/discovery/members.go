package discovery

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A container's processes change while it is traced: `kubectl exec`,
// `docker exec` and nsenter put a process into it that no traced process
// forked, and a sensor restarted after a crash must attach to what runs now,
// not to what ran at discovery. Members answers "what runs in this
// container now" from the container's cgroup, the one thing every process
// in it shares whatever its parent.

// Limits on what one rescan reads: the files are the kernel's, but a
// container can make sub-cgroups (if delegated) and processes without end.
const (
	maxMembers      = 1 << 16 // pids taken from one container
	maxCgroupDirs   = 256     // sub-cgroups walked below a container's
	maxCgroupDepth  = 8       // Kubernetes nests containers 3–4 deep
	maxCgroupsBytes = 1 << 20 // one cgroup.procs file
)

// Members lists the processes of t now, sorted. Where t.Cgroup names the
// container's cgroup, its cgroup.procs (and those of any sub-cgroups): one
// small read. Else, on Kubernetes (t.Pod set), the processes whose
// /proc/<pid>/cgroup names the container id (ScanCgroups: a read per
// process of the node). Else (a local instance that has no cgroup of its
// own) the process tree below t.PID, as long as t.PID is still the process
// discovered (StartTicks). An empty answer is an error: the container is
// gone, or the cgroup cannot be read.
func Members(procRoot string, t Target) ([]int, error) {
	if procRoot == "" {
		procRoot = "/proc"
	}
	var pids []int
	var err error
	switch {
	case t.Cgroup != "":
		pids, err = CgroupProcs(t.Cgroup)
	case t.Pod != "":
		var m map[string][]int
		if len(t.Container) < 12 {
			return nil, fmt.Errorf("container id %q too short to match cgroup paths", t.Container)
		}
		m, err = ScanCgroups(procRoot, []string{t.Container})
		pids = m[t.Container]
	default:
		if !Alive(procRoot, t) {
			return nil, fmt.Errorf("process %d of %s is gone", t.PID, t.Container)
		}
		pids, err = Tree(procRoot, t.PID)
	}
	if err != nil {
		return nil, fmt.Errorf("processes of %s: %w", t.Container, err)
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("processes of %s: none", t.Container)
	}
	return pids, nil
}

// CgroupProcs reads the pids of a cgroup v2 directory and of the cgroups
// below it (a container may be given sub-cgroups), sorted and unique,
// at most maxMembers.
func CgroupProcs(dir string) ([]int, error) {
	seen := map[int]bool{}
	dirs := []string{dir}
	depth := map[string]int{dir: 0}
	for walked := 0; len(dirs) > 0 && walked < maxCgroupDirs; walked++ {
		d := dirs[0]
		dirs = dirs[1:]
		b, err := readBounded(filepath.Join(d, "cgroup.procs"), maxCgroupsBytes)
		if err != nil {
			if d == dir {
				return nil, fmt.Errorf("read cgroup: %w", err)
			}
			continue // a sub-cgroup removed under us
		}
		for _, f := range bytes.Fields(b) {
			pid, err := strconv.Atoi(string(f))
			if err != nil || pid <= 0 || len(seen) >= maxMembers {
				continue
			}
			seen[pid] = true
		}
		if depth[d] >= maxCgroupDepth {
			continue
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() {
				sub := filepath.Join(d, e.Name())
				depth[sub] = depth[d] + 1
				dirs = append(dirs, sub)
			}
		}
	}
	out := make([]int, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Ints(out)
	return out, nil
}

// Tree lists pid and its descendants from procRoot's stat files (one read
// per process of the node), sorted.
func Tree(procRoot string, pid int) ([]int, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", procRoot, err)
	}
	if len(ents) > maxProcs {
		ents = ents[:maxProcs]
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p <= 0 {
			continue
		}
		pp, err := ppid(procRoot, p)
		if err != nil {
			continue // ended during the scan
		}
		children[pp] = append(children[pp], p)
	}
	out := []int{pid}
	in := map[int]bool{pid: true}
	for i := 0; i < len(out) && len(out) < maxMembers; i++ {
		for _, c := range children[out[i]] {
			if !in[c] { // a ppid loop read across a pid reuse must not spin
				in[c] = true
				out = append(out, c)
			}
		}
	}
	sort.Ints(out)
	return out, nil
}

// CgroupRoot finds the cgroup v2 mount point in procRoot/self/mountinfo
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host): the first
// of CgroupRoots.
func CgroupRoot(procRoot string) (string, error) {
	roots, err := CgroupRoots(procRoot)
	if err != nil {
		return "", err
	}
	return roots[0], nil
}

// CgroupRoots lists the cgroup v2 mount points in procRoot/self/mountinfo.
// A tracer in a pod may see two: its own cgroup namespace's at
// /sys/fs/cgroup and the host's tree mounted from the node (the DaemonSet's
// /host/sys/fs/cgroup); CgroupDir tells them apart by finding the process.
func CgroupRoots(procRoot string) ([]string, error) {
	if procRoot == "" {
		procRoot = "/proc"
	}
	b, err := readBounded(filepath.Join(procRoot, "self", "mountinfo"), 16<<20)
	if err != nil {
		return nil, fmt.Errorf("find the cgroup v2 mount: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		// ID parent major:minor root mountpoint options... - fstype source superopts
		pre, post, ok := strings.Cut(l, " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if f := strings.Fields(pre); len(f) >= 5 {
			out = append(out, f[4])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cgroup v2 mount")
	}
	return out, nil
}

// cgroupOf is the cgroup directory of pid under root, or under the first
// cgroup v2 mount where it is found if root is empty; ok(dir) must accept
// it (it names the container). "" if none.
func cgroupOf(procRoot, root string, pid int, ok func(dir string) bool) string {
	roots := []string{root}
	if root == "" {
		var err error
		if roots, err = CgroupRoots(procRoot); err != nil {
			return ""
		}
	}
	for _, r := range roots {
		if dir, err := CgroupDir(procRoot, r, pid); err == nil && ok(dir) {
			return dir
		}
	}
	return ""
}

// ErrRootCgroup: the process is in the root cgroup, which names no
// container (CgroupDir).
var ErrRootCgroup = errors.New("in the root cgroup")

// CgroupDir is the directory, under cgroupRoot (the host's cgroup v2
// tree), of pid's cgroup; it is checked to list pid in its cgroup.procs.
//
// /proc/<pid>/cgroup names the cgroup relative to the reader's cgroup
// namespace. On the local stack that is the host's; in a Kubernetes pod it
// is the tracer's own, and another pod's cgroup reads
// "/../../kubepods-burstable.slice/…/cri-containerd-<id>.scope". Then the
// tail after the "/.." steps is looked for at every depth of the host tree
// (as the eBPF sensor's CgroupID does).
func CgroupDir(procRoot, cgroupRoot string, pid int) (string, error) {
	if procRoot == "" {
		procRoot = "/proc"
	}
	b, err := readBounded(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"), 64<<10)
	if err != nil {
		return "", fmt.Errorf("cgroup of pid %d: %w", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		p, ok := strings.CutPrefix(l, "0::")
		if !ok {
			continue
		}
		if !strings.HasPrefix(p, "/..") {
			dir := filepath.Join(cgroupRoot, filepath.Clean("/"+p))
			if dir == filepath.Clean(cgroupRoot) {
				return "", fmt.Errorf("%w: pid %d", ErrRootCgroup, pid)
			}
			if !listsPid(dir, pid) {
				return "", fmt.Errorf("cgroup of pid %d: %s does not list it", pid, dir)
			}
			return dir, nil
		}
		tail := p
		for strings.HasPrefix(tail, "/..") {
			tail = tail[len("/.."):]
		}
		tail = strings.TrimPrefix(tail, "/")
		if tail == "" || strings.Contains(tail, "..") {
			return "", fmt.Errorf("cgroup of pid %d: %q names no cgroup below the host's root", pid, p)
		}
		for depth := 0; depth <= maxCgroupDepth; depth++ {
			matches, _ := filepath.Glob(filepath.Join(cgroupRoot, strings.Repeat("*/", depth)+globEscape(tail)))
			for _, m := range matches {
				if listsPid(m, pid) {
					return m, nil
				}
			}
		}
		return "", fmt.Errorf("cgroup of pid %d: %q (outside the tracer's cgroup namespace) not found under %s", pid, p, cgroupRoot)
	}
	return "", fmt.Errorf("pid %d has no cgroup v2 entry", pid)
}

func listsPid(dir string, pid int) bool {
	b, err := readBounded(filepath.Join(dir, "cgroup.procs"), maxCgroupsBytes)
	if err != nil {
		return false
	}
	want := []byte(strconv.Itoa(pid))
	for _, f := range bytes.Fields(b) {
		if bytes.Equal(f, want) {
			return true
		}
	}
	return false
}

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// readBounded reads at most max bytes of a file (proc and cgroup files
// report size 0, so os.ReadFile cannot bound them by their size).
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// TracerPid reads who ptraces pid (0: nobody) and whether pid is a zombie
// or dead (its tracer no longer matters), from /proc/<pid>/status.
func TracerPid(procRoot string, pid int) (tracer int, exited bool, err error) {
	if procRoot == "" {
		procRoot = "/proc"
	}
	b, err := readBounded(filepath.Join(procRoot, strconv.Itoa(pid), "status"), 64<<10)
	if err != nil {
		return 0, false, fmt.Errorf("status of pid %d: %w", pid, err)
	}
	found := false
	for _, l := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(l, []byte("State:")); ok {
			v = bytes.TrimSpace(v)
			exited = len(v) > 0 && (v[0] == 'Z' || v[0] == 'X')
		}
		if v, ok := bytes.CutPrefix(l, []byte("TracerPid:")); ok {
			tracer, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil || tracer < 0 {
				return 0, false, fmt.Errorf("status of pid %d: bad TracerPid %q", pid, v)
			}
			found = true
		}
	}
	if !found {
		return 0, false, fmt.Errorf("status of pid %d: no TracerPid", pid)
	}
	return tracer, exited, nil
}

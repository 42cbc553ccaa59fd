package ebpf

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCgroupIDOutsideNamespace reads the cgroup of a process from inside
// another cgroup namespace (as the tracer does in a Kubernetes pod, where
// the target's cgroup reads "/../<sibling>/…") and must find the same id
// as from the host's namespace.
func TestCgroupIDOutsideNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (cgroups, unshare)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare(1)")
	}
	root, err := CgroupRoot("/proc")
	if err != nil {
		t.Skip(err)
	}
	base := filepath.Join(root, fmt.Sprintf("faasmon-nstest-%d", os.Getpid()))
	tracerCg, targetCg := filepath.Join(base, "pod-a", "tracer"), filepath.Join(base, "pod-b", "fn")
	for _, d := range []string{tracerCg, targetCg} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Skipf("cannot create cgroups: %v", err)
		}
	}
	defer func() {
		for _, d := range []string{tracerCg, targetCg, filepath.Dir(tracerCg), filepath.Dir(targetCg), base} {
			for i := 0; i < 50 && os.Remove(d) != nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	target := exec.Command("sleep", "30")
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = target.Process.Kill(); _ = target.Wait() }()
	pid := target.Process.Pid
	if err := os.WriteFile(filepath.Join(targetCg, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		// A container without a writable cgroup tree (CI): no place
		// to put the workload where the filter singles it out.
		t.Skipf("cannot move pid %d into a cgroup: %v", pid, err)
	}
	want, err := CgroupID("/proc", root, pid)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(targetCg, &st); err != nil || st.Ino != want {
		t.Fatalf("from the host's namespace: id %d, the directory's inode %d (%v)", want, st.Ino, err)
	}

	// The helper: moved into pod-a/tracer, then a new cgroup namespace
	// rooted there, then CgroupID of the target.
	helper := exec.Command("/bin/sh", "-c", `echo $$ > "$CG/cgroup.procs" && exec unshare --cgroup "$0" -test.run='^TestCgroupIDHelper$' -test.v`, os.Args[0])
	helper.Env = append(os.Environ(), "CG="+tracerCg, "FAASMON_CGNS_HELPER="+strconv.Itoa(pid), "FAASMON_CGNS_ROOT="+root)
	out, err := helper.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("cgroup-id=%d ", want)) {
		t.Errorf("from another cgroup namespace: want id %d\n%s", want, out)
	}
	if !strings.Contains(string(out), "rel=/../../pod-b/fn") {
		t.Errorf("the helper did not read the cgroup from another namespace (want /../../pod-b/fn):\n%s", out)
	}
}

// TestCgroupIDHelper runs only as TestCgroupIDOutsideNamespace's helper.
func TestCgroupIDHelper(t *testing.T) {
	pid, err := strconv.Atoi(os.Getenv("FAASMON_CGNS_HELPER"))
	if err != nil {
		t.Skip("helper of TestCgroupIDOutsideNamespace")
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if r, ok := strings.CutPrefix(l, "0::"); ok {
			fmt.Printf("rel=%s\n", r)
		}
	}
	id, err := CgroupID("/proc", os.Getenv("FAASMON_CGNS_ROOT"), pid)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("cgroup-id=%d \n", id)
}

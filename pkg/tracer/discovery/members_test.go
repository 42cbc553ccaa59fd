package discovery

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faasmon/faasmon/pkg/provider"
)

// write creates the files of a fake tree (path → content) under root.
func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCgroupProcs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []int
		err   bool
	}{
		{"one", map[string]string{"cgroup.procs": "12\n7\n"}, []int{7, 12}, false},
		// The kernel writes only pids; anything else is skipped, not trusted.
		{"garbage", map[string]string{"cgroup.procs": "12\nx\n-3\n0\n12\n99999999999999999999\n\x00\n"}, []int{12}, false},
		{"sub-cgroups", map[string]string{"cgroup.procs": "5\n", "a/cgroup.procs": "6\n", "a/b/cgroup.procs": "7\n", "c/cgroup.procs": "5\n"}, []int{5, 6, 7}, false},
		{"empty", map[string]string{"cgroup.procs": ""}, []int{}, false},
		{"gone", map[string]string{"other": "1"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			got, err := CgroupProcs(dir)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if !tc.err && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("CgroupProcs = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTracerPid(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		tracer       int
		exited, err  bool
	}{
		{"untraced", "Name:\tsh\nState:\tS (sleeping)\nTgid:\t5\nTracerPid:\t0\nUid:\t0\n", 0, false, false},
		{"traced", "Name:\tsh\nState:\tt (tracing stop)\nTracerPid:\t4711\n", 4711, false, false},
		{"zombie", "Name:\tsh\nState:\tZ (zombie)\nTracerPid:\t0\n", 0, true, false},
		{"no field", "Name:\tsh\nState:\tS (sleeping)\n", 0, false, true},
		{"negative", "TracerPid:\t-1\n", 0, false, true},
		{"garbage", "TracerPid:\tx\n", 0, false, true},
		{"empty", "", 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, map[string]string{"5/status": tc.status})
			tr, ex, err := TracerPid(root, 5)
			if (err != nil) != tc.err || tr != tc.tracer || ex != tc.exited {
				t.Fatalf("TracerPid = %d, %v, %v", tr, ex, err)
			}
		})
	}
	if _, _, err := TracerPid(t.TempDir(), 5); err == nil {
		t.Fatal("no error for a process that is gone")
	}
}

func TestCgroupDir(t *testing.T) {
	const scope = "kubepods.slice/kubepods-pod1.slice/cri-containerd-" + idEcho + ".scope"
	for _, tc := range []struct {
		name, cgroup string
		files        map[string]string // under the cgroup root
		want         string            // under the cgroup root; "" for an error
	}{
		{"host namespace", "0::/faasmon-fn/echo-a\n", map[string]string{"faasmon-fn/echo-a/cgroup.procs": "4\n5\n"}, "faasmon-fn/echo-a"},
		{"v1 lines around", "12:memory:/x\n0::/faasmon-fn/echo-a\n1:cpu:/\n", map[string]string{"faasmon-fn/echo-a/cgroup.procs": "5\n"}, "faasmon-fn/echo-a"},
		// Read from a pod in a cgroup namespace of its own.
		{"outside the namespace", "0::/../../" + scope + "\n", map[string]string{scope + "/cgroup.procs": "5\n"}, scope},
		{"not listed", "0::/faasmon-fn/echo-a\n", map[string]string{"faasmon-fn/echo-a/cgroup.procs": "4\n"}, ""},
		{"root cgroup", "0::/\n", map[string]string{"cgroup.procs": "5\n"}, ""},
		{"only dots", "0::/../..\n", map[string]string{"cgroup.procs": "5\n"}, ""},
		{"dots inside", "0::/../a/../../b\n", map[string]string{"b/cgroup.procs": "5\n"}, ""},
		{"v1 only", "1:cpu:/x\n", map[string]string{"x/cgroup.procs": "5\n"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			procRoot, cgRoot := t.TempDir(), t.TempDir()
			write(t, procRoot, map[string]string{"5/cgroup": tc.cgroup})
			write(t, cgRoot, tc.files)
			got, err := CgroupDir(procRoot, cgRoot, 5)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("CgroupDir = %q, want an error", got)
				}
				return
			}
			if err != nil || got != filepath.Join(cgRoot, tc.want) {
				t.Fatalf("CgroupDir = %q, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestCgroupRoots(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{"self/mountinfo": "" +
		"25 1 0:22 / /proc rw - proc proc rw\n" +
		"30 25 0:26 / /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n" +
		"31 25 0:26 /../.. /host/sys/fs/cgroup ro - cgroup2 cgroup2 rw\n" +
		"32 25 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"})
	got, err := CgroupRoots(root)
	if err != nil || !reflect.DeepEqual(got, []string{"/sys/fs/cgroup", "/host/sys/fs/cgroup"}) {
		t.Fatalf("CgroupRoots = %v, %v", got, err)
	}
	write(t, root, map[string]string{"self/mountinfo": "32 25 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"})
	if _, err := CgroupRoot(root); err == nil {
		t.Fatal("a cgroup v1 host has no cgroup v2 root")
	}
}

// TestMembersFallbacks: without a cgroup, a Kubernetes container's
// processes are those whose cgroup names its id; a local instance's its
// process tree, while its top process is the one discovered.
func TestMembersFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Target
		want []int
	}{
		{"kube", Target{Pod: "p", Container: idEcho, PID: 200}, []int{200, 201}},
		{"local tree", Target{Container: "i", PID: 100, StartTicks: 0}, []int{100, 200, 201, 300}},
		{"local leaf", Target{Container: "i", PID: 201}, []int{201}},
		{"local reused pid", Target{Container: "i", PID: 300, StartTicks: 1}, nil},
		{"kube gone", Target{Pod: "p", Container: "deadbeefdeadbeef", PID: 200}, nil},
		{"kube short id", Target{Pod: "p", Container: "dead", PID: 200}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Members(proc, tc.t)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("Members = %v, want an error", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Members = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// realCgroup makes a cgroup v2 directory named name, or skips.
func realCgroup(t *testing.T, name string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root, err := CgroupRoot("/proc")
	if err != nil {
		t.Skip(err)
	}
	cg := filepath.Join(root, name)
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50 && os.Remove(cg) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})
	return cg
}

// sleeper starts a process and moves it into cg (skips if it cannot).
func sleeper(t *testing.T, cg string) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	if cg != "" {
		if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			t.Skipf("cannot move pid %d into a cgroup: %v", pid, err)
		}
	}
	return pid
}

// TestLocalCgroup: an instance in its own cgroup (the local provider's
// faasmon-fn/<function>-<id>) gets it as Target.Cgroup, and Members lists
// a process moved in later; an instance left in another cgroup (the
// provider's, where cgroups cannot be made) gets none.
func TestLocalCgroup(t *testing.T) {
	id := fmt.Sprintf("i%d", os.Getpid())
	cg := realCgroup(t, "faasmon-discovery-echo-"+id)
	pid := sleeper(t, cg)
	other := sleeper(t, "")
	insts := []provider.Instance{
		{Function: "echo", ID: id, PID: pid},
		{Function: "echo", ID: "elsewhere", PID: other},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(insts)
	}))
	defer srv.Close()
	l := &Local{URL: srv.URL}
	ts, err := l.Poll(t.Context())
	if err != nil || len(ts) != 2 {
		t.Fatalf("Poll = %+v, %v", ts, err)
	}
	byID := map[string]Target{}
	for _, tg := range ts {
		byID[tg.Key] = tg
	}
	if got := byID[id].Cgroup; got != cg {
		t.Fatalf("instance cgroup %q, want %q", got, cg)
	}
	if got := byID["elsewhere"].Cgroup; got != "" {
		t.Fatalf("an instance outside a cgroup of its own got %q", got)
	}
	if got, err := Members("/proc", byID[id]); err != nil || !reflect.DeepEqual(got, []int{pid}) {
		t.Fatalf("Members = %v, %v", got, err)
	}
	entered := sleeper(t, cg) // kubectl exec's analogue: not a child of pid
	got, err := Members("/proc", byID[id])
	if err != nil || len(got) != 2 || !strings.Contains(fmt.Sprint(got), strconv.Itoa(entered)) {
		t.Fatalf("Members after a process entered = %v, %v", got, err)
	}
	if got, err := Members("/proc", byID["elsewhere"]); err != nil || !reflect.DeepEqual(got, []int{other}) {
		t.Fatalf("Members of an instance without a cgroup = %v, %v (want its process tree)", got, err)
	}
}

// TestKubeCgroup: a container's cgroup is found from its top process and
// named in its target; a process that enters it later is a member.
func TestKubeCgroup(t *testing.T) {
	id := fmt.Sprintf("%064x", os.Getpid())
	cg := realCgroup(t, "cri-containerd-"+id+".scope")
	pid := sleeper(t, cg)
	k := &Kube{Node: "n1"}
	ts := k.Snapshot([]*corev1.Pod{pod("p", "n1", "echo", id, true)})
	if len(ts) != 1 || ts[0].Cgroup != cg || !reflect.DeepEqual(ts[0].PIDs, []int{pid}) {
		t.Fatalf("Snapshot = %+v", ts)
	}
	entered := sleeper(t, cg)
	got, err := Members("/proc", ts[0])
	if err != nil || len(got) != 2 || !strings.Contains(fmt.Sprint(got), strconv.Itoa(entered)) {
		t.Fatalf("Members after a process entered = %v, %v", got, err)
	}
	// Without the cgroup (not found), the same answer from the /proc scan.
	noCg := ts[0]
	noCg.Cgroup = ""
	got2, err := Members("/proc", noCg)
	if err != nil || !reflect.DeepEqual(got2, got) {
		t.Fatalf("Members by ScanCgroups = %v, %v; by the cgroup %v", got2, err, got)
	}
}

// FuzzProcFiles feeds the readers of /proc and cgroup files what a hostile
// or racing kernel view could hold: they return an error or a value, never
// panic, and what they return is within bounds.
func FuzzProcFiles(f *testing.F) {
	f.Add([]byte("State:\tS (sleeping)\nTracerPid:\t0\n"), []byte("0::/a\n"), []byte("5\n"))
	f.Add([]byte("TracerPid:\t-1"), []byte("0::/../../a\n"), []byte("x\n-1\n5"))
	f.Add([]byte("State:\n"), []byte("0::"), []byte(""))
	f.Fuzz(func(t *testing.T, status, cgroup, procs []byte) {
		procRoot, cgRoot := t.TempDir(), t.TempDir()
		write(t, procRoot, map[string]string{"5/status": string(status), "5/cgroup": string(cgroup)})
		write(t, cgRoot, map[string]string{"a/cgroup.procs": string(procs)})
		if tr, _, err := TracerPid(procRoot, 5); err == nil && tr < 0 {
			t.Fatalf("TracerPid %d", tr)
		}
		pids, _ := CgroupProcs(filepath.Join(cgRoot, "a"))
		for _, p := range pids {
			if p <= 0 {
				t.Fatalf("pid %d", p)
			}
		}
		if dir, err := CgroupDir(procRoot, cgRoot, 5); err == nil && !strings.HasPrefix(dir, cgRoot+"/") {
			t.Fatalf("CgroupDir %q outside the root %q", dir, cgRoot)
		}
	})
}

// BenchmarkMembers compares a container's rescan from its cgroup with the
// fallback that scans every process of the node (ScanCgroups).
func BenchmarkMembers(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	root, err := CgroupRoot("/proc")
	if err != nil {
		b.Skip(err)
	}
	id := fmt.Sprintf("%064x", os.Getpid()+1)
	cg := filepath.Join(root, "cri-containerd-"+id+".scope")
	if err := os.Mkdir(cg, 0o755); err != nil {
		b.Skipf("cannot create a cgroup: %v", err)
	}
	defer func() {
		for i := 0; i < 50 && os.Remove(cg) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		b.Skip(err)
	}
	ents, _ := os.ReadDir("/proc")
	b.Logf("%d entries in /proc", len(ents))
	for _, tc := range []struct {
		name string
		t    Target
	}{
		{"cgroup", Target{Pod: "p", Container: id, Cgroup: cg}},
		{"scan", Target{Pod: "p", Container: id}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Members("/proc", tc.t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

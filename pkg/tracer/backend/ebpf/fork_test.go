package ebpf

import (
	"context"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/faasmon/faasmon/pkg/event"
)

// A shell's vforked child opens its redirections before it execs, while
// its parent sleeps in vfork: from clone's sys_exit, those opens came
// before the clone that makes the child known. From sched_process_fork,
// every process's first event comes after the clone that names it, by the
// host pid — also in a pid namespace of its own (a pod's), where clone
// returns the namespace's pid, which no record carries.
func TestForkRecordFirst(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skipf("no kernel BTF here: fork records are off (%v)", err)
	}
	b := New(Config{})
	p, err := b.Probe()
	if err != nil {
		t.Skipf("BPF refused: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if !p.forks {
		t.Fatalf("kernel BTF present but no fork records: %v", p.ForkErr)
	}
	// dash (Debian's /bin/sh) vforks for external commands. The gated
	// shell is in the cgroup before it starts anything (unshare --fork
	// makes its child at once: it must inherit the cgroup).
	const body = `for i in 1 2 3 4 5 6 7 8 9 10; do
	/bin/cat </dev/null >/dev/null
	/bin/true 2>/dev/null
done`
	for _, tc := range []struct {
		name   string
		script string
		// extra processes before the loop's: unshare's forked child (the
		// shell it runs in the new namespace).
		extra int
	}{
		{"host pid namespace", `read go; ` + body, 0},
		{"a pid namespace of its own", `read go; exec unshare --pid --fork /bin/sh -c "$BODY"`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath("unshare"); err != nil && tc.extra > 0 {
				t.Skip(err)
			}
			cgDir, cg := newCgroup(t)
			cmd := exec.Command("/bin/sh", "-c", tc.script)
			cmd.Env = append(os.Environ(), "BODY="+body)
			in := startGated(t, cmd, cgDir)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := b.AttachCgroup(ctx, cg, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(in, "go\n")
			in.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			time.AfterFunc(4*PollInterval+200*time.Millisecond, func() { s.Close() })
			var evs []event.Event
			for {
				e, err := s.NextEvent()
				if err != nil {
					break
				}
				evs = append(evs, e)
			}
			born := map[int]bool{cmd.Process.Pid: true}
			var children, early int
			for _, e := range evs {
				if e.Kind == event.KindSyscall && isClone(e.Syscall) && e.Ret > 0 && !e.Thread {
					if born[int(e.Ret)] {
						t.Errorf("pid %d born twice", e.Ret)
					}
					born[int(e.Ret)] = true
					children++
					continue
				}
				if !born[e.PID] {
					early++
					t.Errorf("pid %d acts before the clone that made it: %s %s", e.PID, e.Syscall, e.Path)
					born[e.PID] = true // once per process
				}
			}
			if want := 20 + tc.extra; children < want {
				t.Errorf("%d children born, want %d", children, want)
			}
			t.Logf("%d events, %d children, %d acting before their clone", len(evs), children, early)
		})
	}
}

// isClone: a birth as either source shows it (a fork record reads as
// clone; clone's return keeps its syscall's name).
func isClone(sc string) bool {
	return sc == "clone" || sc == "clone3" || sc == "fork" || sc == "vfork"
}

// structOffsets finds pid and tgid whether task_struct holds them
// directly or in an anonymous struct (a randomised layout).
func TestStructOffsets(t *testing.T) {
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	tests := []struct {
		name    string
		members []btf.Member
		want    taskOffsets
		ok      bool
	}{
		{"direct", []btf.Member{
			{Name: "state", Type: i32, Offset: 0},
			{Name: "pid", Type: i32, Offset: 8 * 1416},
			{Name: "tgid", Type: i32, Offset: 8 * 1420},
		}, taskOffsets{pid: 1416, tgid: 1420}, true},
		{"anonymous struct", []btf.Member{
			{Name: "state", Type: i32, Offset: 0},
			{Name: "", Offset: 8 * 64, Type: &btf.Struct{Size: 16, Members: []btf.Member{
				{Name: "tgid", Type: i32, Offset: 0},
				{Name: "pid", Type: i32, Offset: 8 * 8},
			}}},
		}, taskOffsets{pid: 72, tgid: 64}, true},
		{"a named member's pid is not the task's", []btf.Member{
			{Name: "pid", Type: i32, Offset: 8 * 4},
			{Name: "thread_pid", Offset: 8 * 16, Type: &btf.Struct{Size: 8, Members: []btf.Member{
				{Name: "tgid", Type: i32, Offset: 0},
			}}},
		}, taskOffsets{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := structOffsets(&btf.Struct{Name: "task_struct", Members: tc.members})
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("got %+v, %v; want %+v (ok %v)", got, err, tc.want, tc.ok)
			}
		})
	}
}

// The running kernel's offsets are where its pid and tgid are (checked
// against this process: read through the program in TestForkRecordFirst;
// here only that BTF names both).
func TestKernelTaskOffsets(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("no kernel BTF here")
	}
	off, err := kernelTaskOffsets()
	if err != nil {
		t.Fatal(err)
	}
	if off.pid == 0 || off.tgid == 0 || off.pid == off.tgid {
		t.Errorf("offsets %+v", off)
	}
	t.Logf("task_struct: pid at %d, tgid at %d", off.pid, off.tgid)
}

package ebpf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// BenchmarkProgramCost measures what the programs cost per system call of
// a traced process, from the kernel's own accounting (bpf_stats_enabled:
// run time and run count of each program; reported as ns/enter-run and
// ns/exit-run), on two loops in a traced cgroup: bash reading a small
// file (open/read/close: close looks the DNS socket map up) and dd's
// 64-byte read/write pairs (a write in the DNS check's size range: one
// helper call and one map lookup). Every process's system calls run the
// programs, so others running at the same time dilute the figures a
// little. Needs root; turns bpf_stats_enabled on while it runs:
//
//	go test -run '^$' -bench ProgramCost -benchtime 3x ./pkg/tracer/backend/ebpf/
func BenchmarkProgramCost(b *testing.B) {
	p := loadOrSkip(b)
	const stats = "/proc/sys/kernel/bpf_stats_enabled"
	old, err := os.ReadFile(stats)
	if err != nil {
		b.Skip(err)
	}
	if err := os.WriteFile(stats, []byte("1"), 0); err != nil {
		b.Skip(err)
	}
	defer os.WriteFile(stats, old, 0)
	dir, cg := newCgroup(b)
	var n atomic.Int64
	stop, _, err := p.Subscribe(cg, func([]byte) { n.Add(1) })
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	cgf, err := os.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer cgf.Close()
	file := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(file, []byte(strings.Repeat("x", 64)), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, w := range []struct{ name, script string }{
		{"open-read-close", `i=0; while [ $i -lt 20000 ]; do read -r x < "$F"; i=$((i+1)); done`},
		{"dd-64-byte-write", `dd if=/dev/zero of=/dev/null bs=64 count=200000 2>/dev/null`},
	} {
		b.Run(w.name, func(b *testing.B) {
			stat := func(name string) (uint64, uint64) {
				st, err := p.coll.Programs[name].Stats()
				if err != nil {
					b.Skip(err)
				}
				return uint64(st.Runtime), st.RunCount
			}
			enterT, enterN := stat("sys_enter")
			exitT, exitN := stat("sys_exit")
			for b.Loop() {
				cmd := exec.Command("/bin/bash", "-c", w.script)
				cmd.Env = append(os.Environ(), "F="+file)
				cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cgf.Fd())}
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v %s", err, out)
				}
			}
			t1, n1 := stat("sys_enter")
			t2, n2 := stat("sys_exit")
			if n1 == enterN || n2 == exitN {
				b.Fatal("the programs did not run")
			}
			b.ReportMetric(float64(t1-enterT)/float64(n1-enterN), "ns/enter-run")
			b.ReportMetric(float64(t2-exitT)/float64(n2-exitN), "ns/exit-run")
		})
	}
	if n.Load() == 0 {
		b.Fatal("no record of the traced loops")
	}
}

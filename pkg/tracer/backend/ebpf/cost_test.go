package ebpf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestProgramCost measures what the programs cost per system call of a
// traced process, from the kernel's own accounting (bpf_stats_enabled:
// run time and run count of each program), on two loops: open/read/close
// of a small file (close: the DNS socket map's lookup) and dd's 64-byte
// read/write pairs (a write in the DNS check's size range: one helper call
// and one map lookup). A measurement, not a check: run it with
//
//	FAASMON_EBPF_COST=1 go test -run TestProgramCost -v ./pkg/tracer/backend/ebpf/
//
// (it turns bpf_stats_enabled on for its duration).
func TestProgramCost(t *testing.T) {
	if os.Getenv("FAASMON_EBPF_COST") == "" {
		t.Skip("a measurement: set FAASMON_EBPF_COST=1")
	}
	p := loadOrSkip(t)
	const stats = "/proc/sys/kernel/bpf_stats_enabled"
	old, err := os.ReadFile(stats)
	if err != nil {
		t.Skip(err)
	}
	if err := os.WriteFile(stats, []byte("1"), 0); err != nil {
		t.Skip(err)
	}
	defer os.WriteFile(stats, old, 0)
	dir, cg := newCgroup(t)
	var n atomic.Int64
	stop, err := p.Subscribe(cg, func([]byte) { n.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cgf, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cgf.Close()
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte(strings.Repeat("x", 64)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct{ name, script string }{
		{"open/read/close", `i=0; while [ $i -lt 20000 ]; do read -r x < "$F"; i=$((i+1)); done`},
		{"dd 64-byte read/write", `dd if=/dev/zero of=/dev/null bs=64 count=200000 2>/dev/null`},
	} {
		before := map[string][2]uint64{}
		for name, prog := range p.coll.Programs {
			st, err := prog.Stats()
			if err != nil {
				t.Skip(err)
			}
			before[name] = [2]uint64{uint64(st.Runtime), st.RunCount}
		}
		cmd := exec.Command("/bin/bash", "-c", w.script)
		cmd.Env = append(os.Environ(), "F="+file)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cgf.Fd())}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", w.name, err, out)
		}
		for _, name := range []string{"sys_enter", "sys_exit"} {
			st, _ := p.coll.Programs[name].Stats()
			rt, rc := uint64(st.Runtime)-before[name][0], st.RunCount-before[name][1]
			if rc > 0 {
				t.Logf("%s: %s %.1f ns per run over %s runs", w.name, name, float64(rt)/float64(rc), strconv.FormatUint(rc, 10))
			}
		}
	}
}

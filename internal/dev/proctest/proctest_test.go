package proctest

import (
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestChildren(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if got := Children("sleep"); !slices.Equal(got, []int{cmd.Process.Pid}) {
		t.Errorf("Children(sleep) = %v, want [%d]", got, cmd.Process.Pid)
	}
	if got := Children("slee"); len(got) != 0 {
		t.Errorf("a prefix of the command matched: %v", got)
	}
}

func TestTraced(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("no strace")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if Traced(cmd.Process.Pid) {
		t.Fatal("an untraced process reads as traced")
	}
	tr := exec.Command(strace, "-q", "-o", "/dev/null", "-p", strconv.Itoa(cmd.Process.Pid))
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	defer tr.Wait()
	defer tr.Process.Kill()
	for deadline := time.Now().Add(10 * time.Second); !Traced(cmd.Process.Pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a process strace attached to never read as traced")
		}
	}
	if Traced(1 << 30) {
		t.Error("a pid that does not exist reads as traced")
	}
}

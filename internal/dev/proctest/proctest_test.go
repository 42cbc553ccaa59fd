package proctest

import (
	"os/exec"
	"slices"
	"testing"
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

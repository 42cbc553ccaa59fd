package ebpf

import (
	"errors"
	"os"
	"testing"
)

// loadOrSkip loads the probe, skipping when this test cannot: not root, or
// the kernel refuses BPF.
func loadOrSkip(t testing.TB) *Probe {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF, CAP_PERFMON)")
	}
	p, err := Load()
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("BPF refused here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestLoad(t *testing.T) {
	loadOrSkip(t)
}

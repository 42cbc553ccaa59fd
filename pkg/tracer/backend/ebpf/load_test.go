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

// loadedBackend is a Backend with its probe loaded, closed at cleanup, or
// skips where BPF is refused.
func loadedBackend(t testing.TB) *Backend {
	t.Helper()
	b := New(Config{})
	if _, err := b.Probe(); err != nil {
		t.Skipf("BPF refused: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

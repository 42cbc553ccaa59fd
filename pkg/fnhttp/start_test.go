package fnhttp

import (
	"slices"
	"testing"
)

// TestStop: what handlers register with OnStop runs on Stop, in order,
// and Stop returns only once all of it has (the template's main exits
// right after).
func TestStop(t *testing.T) {
	var ran []int
	for i := range 3 {
		OnStop(func() { ran = append(ran, i) })
	}
	Stop()
	if !slices.Equal(ran, []int{0, 1, 2}) {
		t.Errorf("ran %v, want [0 1 2]", ran)
	}
}

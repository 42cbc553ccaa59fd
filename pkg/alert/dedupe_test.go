package alert

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func stores(t *testing.T, max int) map[string]func() DedupeStore {
	dir := t.TempDir()
	mem := NewMemoryDedupe(max)
	return map[string]func() DedupeStore{
		"memory": func() DedupeStore { return mem },
		// A new FileDedupe per call: a new function invocation (or process)
		// over the same directory.
		"file": func() DedupeStore {
			f, err := NewFileDedupe(dir, max)
			if err != nil {
				t.Fatal(err)
			}
			return f
		},
	}
}

func TestDedupeWindow(t *testing.T) {
	const W = time.Minute
	type step struct {
		key, graph string
		at         time.Duration
		dup        bool
		suppressed int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"repeat within window is a duplicate", []step{
			{"c1|s", "g1", 0, false, 0},
			{"c1|s", "g2", 10 * time.Second, true, 1},
			{"c1|s", "g3", 59 * time.Second, true, 2},
		}},
		{"repeat after the window alerts again and reports the suppressed", []step{
			{"c1|s", "g1", 0, false, 0},
			{"c1|s", "g2", 30 * time.Second, true, 1},
			{"c1|s", "g3", 61 * time.Second, false, 1},
			{"c1|s", "g4", 90 * time.Second, true, 1},
		}},
		{"window opens at the first alert, not the last repeat", []step{
			{"c1|s", "g1", 0, false, 0},
			{"c1|s", "g2", 50 * time.Second, true, 1},
			{"c1|s", "g3", 65 * time.Second, false, 1},
		}},
		{"other container is another key", []step{
			{"c1|s", "g1", 0, false, 0},
			{"c2|s", "g2", time.Second, false, 0},
		}},
		{"other chain signature is another key", []step{
			{"c1|s", "g1", 0, false, 0},
			{"c1|t", "g2", time.Second, false, 0},
		}},
		{"redelivery of the same graph is not a duplicate", []step{
			{"c1|s", "g1", 0, false, 0},
			{"c1|s", "g1", 5 * time.Second, false, 0},
			{"c1|s", "g2", 6 * time.Second, true, 1},
		}},
	}
	for name, mk := range stores(t, 100) {
		for i, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				prefix := fmt.Sprintf("t%d/", i) // tests share a store
				for j, s := range tc.steps {
					d, err := mk().Check(context.Background(), prefix+s.key, s.graph, t0.Add(s.at), W)
					if err != nil {
						t.Fatal(err)
					}
					if d.Duplicate != s.dup || d.Suppressed != s.suppressed {
						t.Errorf("step %d (%s %s at %v): got dup=%v suppressed=%d, want %v %d", j, s.key, s.graph, s.at, d.Duplicate, d.Suppressed, s.dup, s.suppressed)
					}
				}
			})
		}
	}
}

func TestDedupeBoundedAndForget(t *testing.T) {
	for name, mk := range stores(t, 5) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for i := range 20 {
				if _, err := mk().Check(ctx, fmt.Sprint("k", i), "g", t0.Add(time.Duration(i)*time.Millisecond), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			n := mk().(interface{ Len() int }).Len()
			if n > 5 {
				t.Errorf("%d keys kept, limit 5", n)
			}
			// The most recent key survived and is still deduplicated.
			d, _ := mk().Check(ctx, "k19", "other", t0.Add(time.Second), time.Hour)
			if !d.Duplicate {
				t.Errorf("most recent key was evicted")
			}
			// Forget by the graph that opened the window.
			if err := mk().(Forgetter).Forget(ctx, "k19", "other"); err != nil {
				t.Fatal(err)
			}
			if d, _ := mk().Check(ctx, "k19", "x", t0.Add(2*time.Second), time.Hour); !d.Duplicate {
				t.Errorf("Forget by another graph dropped the window")
			}
			mk().(Forgetter).Forget(ctx, "k19", "g")
			if d, _ := mk().Check(ctx, "k19", "y", t0.Add(3*time.Second), time.Hour); d.Duplicate {
				t.Errorf("Forget by the opening graph kept the window")
			}
		})
	}
}

// Concurrent invocations over one directory: exactly one of them alerts.
func TestFileDedupeConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	var mu sync.Mutex
	alerts := 0
	for i := range 16 {
		wg.Go(func() {
			f, _ := NewFileDedupe(dir, 100)
			d, err := f.Check(context.Background(), "c|s", fmt.Sprint("g", i), t0, time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if !d.Duplicate {
				mu.Lock()
				alerts++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if alerts != 1 {
		t.Errorf("%d of 16 concurrent repeats alerted, want 1", alerts)
	}
}

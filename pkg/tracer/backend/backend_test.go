package backend

import (
	"context"
	"slices"
	"testing"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
)

type fake struct{ k chunk.Kind }

func (f fake) Kind() chunk.Kind    { return f.k }
func (f fake) ContentType() string { return "text/plain" }
func (f fake) Attach(context.Context, discovery.Target, int) (Stream, error) {
	return nil, nil
}
func (f fake) Parse(chunk.Header, []byte) (Parsed, error) { return Parsed{}, nil }

func TestRegistry(t *testing.T) {
	// The registry is the process's: take the test kinds out again, so
	// that the test runs more than once (-count).
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		delete(registry, "test-a")
		delete(registry, "test-b")
	})
	Register(fake{"test-b"})
	Register(fake{"test-a"})
	if b, ok := Lookup("test-a"); !ok || b.Kind() != "test-a" {
		t.Errorf("Lookup(test-a) = %v, %v", b, ok)
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup of an unregistered kind succeeded")
	}
	ks := Kinds()
	if !slices.IsSorted(ks) || !slices.Contains(ks, "test-a") || !slices.Contains(ks, "test-b") {
		t.Errorf("Kinds() = %v", ks)
	}
	for _, bad := range []fake{{"test-a"}, {""}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", bad.k)
				}
			}()
			Register(bad)
		}()
	}
}

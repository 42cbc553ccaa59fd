package localstack

import (
	"flag"
	"fmt"
	"testing"
)

// skipTB records StartForTest's Skip and stops it there, as testing.T's
// Skip does (runtime.Goexit), with a panic this test recovers.
type skipTB struct {
	testing.TB
	skipped string
}

type skipped struct{}

func (s *skipTB) Skip(args ...any) { s.skipped = fmt.Sprint(args...); panic(skipped{}) }

// TestStartForTestSkipsUnderShort: under -short (make unit) StartForTest
// must skip before it looks at the machine, whatever the user.
func TestStartForTestSkipsUnderShort(t *testing.T) {
	f := flag.Lookup("test.short")
	if f == nil {
		t.Fatal("no test.short flag")
	}
	old := f.Value.String()
	if err := flag.Set("test.short", "true"); err != nil {
		t.Fatal(err)
	}
	defer flag.Set("test.short", old)
	// Checked first so that a broken check fails here instead of starting
	// the stack below.
	if !testingShort() {
		t.Fatal("testingShort() is false with -test.short=true")
	}
	tb := &skipTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(skipped); !ok {
					panic(r)
				}
			}
		}()
		StartForTest(tb)
		t.Fatal("StartForTest returned under -short")
	}()
	if tb.skipped == "" {
		t.Fatal("StartForTest did not skip under -short")
	}
}

package shipped_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shipped are the binaries that run in a user's cluster or on their
// machine: the four functions of the pipeline, the tracer's DaemonSet
// command and the user's faasmon command.
var shipped = []string{
	"./functions/faasmon-parse",
	"./functions/faasmon-graph",
	"./functions/faasmon-classify",
	"./functions/faasmon-alert",
	"./tracer-daemonset/cmd/faasmon-tracer",
	"./cmd/faasmon",
}

// forbidden are the packages a shipped binary must not link, each with
// everything under it, and why.
var forbidden = []struct{ pkg, why string }{
	{"github.com/faasmon/faasmon/internal/dev", "development tooling: the local stack, the lab, test helpers"},
	{"github.com/faasmon/faasmon/pkg/classify/gnn/gnntest", "a test helper"},
	{"github.com/faasmon/faasmon/pkg/fnhttp/fnhttptest", "a test helper"},
	{"github.com/faasmon/faasmon/pkg/tracer/backend/backendtest", "a test helper"},
	{"github.com/faasmon/faasmon/pkg/hopauth/hoptest", "a test helper"},
	{"testing", "Go's test framework"},
}

func forbiddenReason(pkg string) (string, bool) {
	for _, f := range forbidden {
		if pkg == f.pkg || strings.HasPrefix(pkg, f.pkg+"/") {
			return f.why, true
		}
	}
	return "", false
}

// TestShippedBinariesLinkNoDevelopmentCode asks the go command for each
// shipped binary's full dependency list (as `go build` links it) and fails
// on any development package or `testing`.
func TestShippedBinariesLinkNoDevelopmentCode(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range shipped {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			for _, p := range listDeps(t, goBin, root, bin) {
				if why, bad := forbiddenReason(p); bad {
					t.Errorf("%s links %s (%s); see `go list -deps %s`", bin, p, why, bin)
				}
			}
		})
	}
	// The development commands link the local stack by design, but not
	// Go's testing package either (it registers test flags in their flag set).
	for _, bin := range devCommands {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			for _, p := range listDeps(t, goBin, root, bin) {
				if p == "testing" || strings.HasPrefix(p, "testing/") {
					t.Errorf("%s links %s; see `go list -deps %s`", bin, p, bin)
				}
			}
		})
	}
}

var devCommands = []string{"./cmd/faasmon-stack", "./cmd/faasmon-demo", "./cmd/faasmon-dot"}

// listDeps is `go list -deps pkg` run at the module root.
func listDeps(t *testing.T, goBin, root, pkg string) []string {
	t.Helper()
	cmd := exec.Command(goBin, "list", "-deps", pkg)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps %s gave %d packages; expected a binary's full list", pkg, len(deps))
	}
	return deps
}

func TestForbiddenReason(t *testing.T) {
	for _, tc := range []struct {
		pkg  string
		want bool
	}{
		{"testing", true},
		{"testing/iotest", true},
		{"github.com/faasmon/faasmon/internal/dev/localstack", true},
		{"github.com/faasmon/faasmon/internal/dev/lab", true},
		{"github.com/faasmon/faasmon/internal/dev/lab/sub", true},
		{"github.com/faasmon/faasmon/pkg/labels", false},
		{"github.com/faasmon/faasmon/pkg/provider", false},
		{"net/http", false},
		{"testingx", false},
	} {
		if _, got := forbiddenReason(tc.pkg); got != tc.want {
			t.Errorf("forbiddenReason(%q) = %v, want %v", tc.pkg, got, tc.want)
		}
	}
}

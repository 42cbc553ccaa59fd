package localstack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The OpenFaaS CE parts are built from tools/go.mod (tool directives at
// pinned versions) so their dependencies never touch the main module. They
// are built once into .cache/bin and reused.
var toolPackages = map[string]string{
	"nats-streaming-server": "github.com/nats-io/nats-streaming-server",
	"gateway":               "github.com/openfaas/faas/gateway",
	"nats-queue-worker":     "github.com/openfaas/nats-queue-worker",
}

// BinDir is where the stack keeps the binaries it builds.
func BinDir(repo string) string { return filepath.Join(repo, ".cache", "bin") }

// EnsureTools builds the OpenFaaS binaries that are missing from BinDir.
func EnsureTools(ctx context.Context, repo string) error {
	bin := BinDir(repo)
	var missing []string
	for name, pkg := range toolPackages {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", bin, err)
	}
	// Build into a private directory and rename into place: a binary is
	// either absent or whole, so a second `up` racing the first build
	// (two test processes, or `make demo` beside `make up`) never execs a
	// half-written file, and an interrupted build leaves nothing behind
	// that the Stat above would take for done.
	tmp, err := os.MkdirTemp(bin, ".build-")
	if err != nil {
		return fmt.Errorf("create build dir in %s: %w", bin, err)
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"build", "-o", tmp + "/"}, missing...)
	if err := runGo(ctx, filepath.Join(repo, "tools"), args...); err != nil {
		return fmt.Errorf("build OpenFaaS tools: %w", err)
	}
	for name := range toolPackages {
		src := filepath.Join(tmp, name)
		if _, err := os.Stat(src); err != nil {
			continue // was not missing
		}
		if err := os.Rename(src, filepath.Join(bin, name)); err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
	}
	return nil
}

// BuildStackBinary (re)builds cmd/faasmon-stack, which is also the
// provider's binary. Go's build cache makes this ~1 s when nothing changed,
// and it means a running test binary never has to be the provider.
func BuildStackBinary(ctx context.Context, repo string) (string, error) {
	out := filepath.Join(BinDir(repo), "faasmon-stack")
	if err := os.MkdirAll(BinDir(repo), 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", BinDir(repo), err)
	}
	// Same reason as EnsureTools: a whole binary or none, even while an
	// older one runs (rename replaces it without "text file busy").
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	defer os.Remove(tmp)
	if err := runGo(ctx, repo, "build", "-o", tmp, "./cmd/faasmon-stack"); err != nil {
		return "", fmt.Errorf("build faasmon-stack: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("install faasmon-stack: %w", err)
	}
	return out, nil
}

// gatewayDir is the gateway module's directory: the gateway serves ./assets
// relative to its working directory.
func gatewayDir(ctx context.Context, repo string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", toolPackages["gateway"])
	cmd.Dir = filepath.Join(repo, "tools")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locate gateway module: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, "assets")); err != nil {
		return "", fmt.Errorf("gateway module at %q has no assets dir: %w", dir, err)
	}
	return dir, nil
}

func runGo(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(args, " "), dir, err, tail(out.Bytes(), 4000))
	}
	return nil
}

// tail returns at most n bytes from the end of b, cut at a line start.
func tail(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	b = b[len(b)-n:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
		b = b[i+1:]
	}
	return "…" + string(b)
}

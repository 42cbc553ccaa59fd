package localstack

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Fixed addresses of the local stack. The gateway's ports are not
// configurable (it always binds :8080 and :8082), so only one stack can run
// on a machine; every other part is pinned next to it.
const (
	GatewayURL      = "http://127.0.0.1:8080"
	ProviderAddr    = "127.0.0.1:8083"
	ProviderURL     = "http://" + ProviderAddr
	NATSAddr        = "127.0.0.1:4222"
	PrometheusAddr  = "127.0.0.1:9090"
	NATSClusterID   = "faas-cluster"
	DefaultStateDir = "/tmp/faasmon-stack"
	// ModulePath is this repository's Go module; the builder and RepoRoot
	// recognise the repository by it.
	ModulePath = "github.com/faasmon/faasmon"
)

// Dirs are the paths the stack keeps under its state directory.
type Dirs struct {
	State string // root, default /tmp/faasmon-stack, FAASMON_STACK_DIR overrides
}

// StateDirFromEnv returns FAASMON_STACK_DIR or the default.
func StateDirFromEnv() string {
	if d := os.Getenv("FAASMON_STACK_DIR"); d != "" {
		return d
	}
	return DefaultStateDir
}

// NewDirs returns the layout under state (made absolute).
func NewDirs(state string) (Dirs, error) {
	abs, err := filepath.Abs(state)
	if err != nil {
		return Dirs{}, fmt.Errorf("state dir %q: %w", state, err)
	}
	return Dirs{State: abs}, nil
}

func (d Dirs) Secrets() string         { return filepath.Join(d.State, "auth") } // gateway basic-auth files
func (d Dirs) CredentialsFile() string { return filepath.Join(d.State, "credentials.env") }
func (d Dirs) Logs() string            { return filepath.Join(d.State, "logs") }
func (d Dirs) Run() string             { return filepath.Join(d.State, "run") }              // pid files
func (d Dirs) Build() string           { return filepath.Join(d.State, "build") }            // function artefacts
func (d Dirs) Instances() string       { return filepath.Join(d.State, "instances") }        // private copies
func (d Dirs) FnSecrets() string       { return filepath.Join(d.State, "function-secrets") } // provider's secret store
func (d Dirs) Prometheus() string      { return filepath.Join(d.State, "prometheus") }
func (d Dirs) NATS() string            { return filepath.Join(d.State, "nats") } // NATS Streaming's file store

// Ensure creates the directories. The state dir is root-only: it holds the
// credentials, and function processes must not read other functions' copies.
func (d Dirs) Ensure() error {
	for _, p := range []string{d.State, d.Secrets(), d.Logs(), d.Run(), d.Build(), d.Instances(), d.FnSecrets(), d.Prometheus()} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	return os.Chmod(d.State, 0o700)
}

// RepoRoot finds this repository's root from dir upwards: the first go.mod
// whose module line is ModulePath. FAASMON_REPO overrides.
func RepoRoot(dir string) (string, error) {
	if r := os.Getenv("FAASMON_REPO"); r != "" {
		return filepath.Abs(r)
	}
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if mod, err := modulePath(filepath.Join(d, "go.mod")); err == nil && mod == ModulePath {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod for module %s above %s (set FAASMON_REPO)", ModulePath, dir)
		}
		d = parent
	}
}

func modulePath(goMod string) (string, error) {
	f, err := os.Open(goMod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if rest, ok := strings.CutPrefix(line, "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", errors.New("no module line")
}

// within reports whether path (absolute, cleaned) is root or below it. It
// resolves symlinks of both when they exist, so that a link inside the repo
// pointing outside of it does not pass.
func within(root, path string) bool {
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel))
}

package localstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// The builder turns a function's handler folder into an artefact directory
// under <state>/build/<name>: what an image is to a cluster. A manifest in
// it records fprocess, as the image's env would.

// ManifestName is the artefact's manifest file.
const ManifestName = ".faasmon-artefact.json"

// Manifest describes a built artefact.
type Manifest struct {
	Function string    `json:"function"`
	Lang     string    `json:"lang"`
	Handler  string    `json:"handler"`  // absolute handler folder it was built from
	FProcess string    `json:"fprocess"` // run with /home/app (the artefact's copy) as cwd
	Built    time.Time `json:"built"`
}

// ReadManifest reads an artefact's manifest.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return m, fmt.Errorf("no artefact manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("bad artefact manifest: %w", err)
	}
	return m, nil
}

// ErrOutsideRepo is returned for a faasmon-go handler folder outside the
// repository: that template builds the handler inside this module (it
// imports pkg/...). Functions of the public templates build from anywhere.
var ErrOutsideRepo = errors.New("handler path is outside the repository root")

// Template names the repository template a stack file's lang is built
// with, and how.
type Template struct {
	Dir  string // folder under <repo>/template
	Kind string // "faasmon-go", "golang-middleware", "node" or "python3-http"
}

// templates maps the lang values the local builder accepts to the
// repository template that builds them. The node langs all run on the
// host's Node (the builder has no images): a function written for a newer
// Node than the host's may fail at run time, as it would on an old image.
var templates = map[string]Template{
	"faasmon-go":        {Dir: "faasmon-go", Kind: "faasmon-go"},
	"golang-middleware": {Dir: "golang-middleware", Kind: "golang-middleware"},
	"node":              {Dir: "node20", Kind: "node"},
	"node18":            {Dir: "node20", Kind: "node"},
	"node20":            {Dir: "node20", Kind: "node"},
	"node22":            {Dir: "node20", Kind: "node"},
	"node24":            {Dir: "node20", Kind: "node"},
	"python3-http":      {Dir: "python3-http", Kind: "python3-http"},
}

// TemplateFor returns the template of a stack file's lang, or an error that
// lists the langs the local builder knows.
func TemplateFor(lang string) (Template, error) {
	if t, ok := templates[lang]; ok {
		return t, nil
	}
	return Template{}, fmt.Errorf("language %q not supported by the local builder (%s); dockerfile and other image-only langs need a container runtime", lang, strings.Join(KnownLangs(), ", "))
}

// KnownLangs lists the langs the local builder builds, sorted.
func KnownLangs() []string {
	known := make([]string, 0, len(templates))
	for k := range templates {
		known = append(known, k)
	}
	sort.Strings(known)
	return known
}

// Builder builds functions of this repository's templates.
type Builder struct {
	Repo      string    // repository root (templates, go.mod)
	BuildRoot string    // <state>/build
	Log       io.Writer // build tool output; nil discards
}

// BuildSpec names one function to build.
type BuildSpec struct {
	Name    string
	Lang    string
	Handler string // folder; relative paths are relative to BaseDir
	BaseDir string // the stack file's folder
}

// Build builds spec and returns the artefact directory.
func (b Builder) Build(ctx context.Context, s BuildSpec) (string, error) {
	if !nameRE.MatchString(s.Name) {
		return "", fmt.Errorf("invalid function name %q", s.Name)
	}
	tpl, err := TemplateFor(s.Lang)
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.Name, err)
	}
	handler := s.Handler
	if !filepath.IsAbs(handler) {
		handler = filepath.Join(s.BaseDir, handler)
	}
	handler = filepath.Clean(handler)
	if tpl.Kind == "faasmon-go" && !within(b.Repo, handler) {
		return "", fmt.Errorf("%s: %w: %s not under %s (lang faasmon-go builds inside the faasmon module; use golang-middleware for a function of your own)", s.Name, ErrOutsideRepo, handler, b.Repo)
	}
	if st, err := os.Stat(handler); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s: handler folder %s: not a directory", s.Name, handler)
	}
	if err := os.MkdirAll(b.BuildRoot, 0o700); err != nil {
		return "", fmt.Errorf("build root: %w", err)
	}
	// Build into a fresh dir and swap it in, so that a failed build leaves
	// the previous artefact usable.
	tmp, err := os.MkdirTemp(b.BuildRoot, "."+s.Name+"-")
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.Name, err)
	}
	defer os.RemoveAll(tmp)
	m := Manifest{Function: s.Name, Lang: s.Lang, Handler: handler, Built: time.Now().UTC()}
	tplDir := filepath.Join(b.Repo, "template", tpl.Dir)
	switch tpl.Kind {
	case "faasmon-go":
		m.FProcess = "./handler"
		err = b.buildGo(ctx, s.Name, handler, tmp)
	case "golang-middleware":
		m.FProcess = "./handler"
		err = b.buildGoMiddleware(ctx, tplDir, handler, tmp)
	case "node":
		m.FProcess = "node index.js"
		err = b.buildNode(ctx, tplDir, handler, tmp)
	case "python3-http":
		m.FProcess = SystemPython + " index.py"
		err = b.buildPython(ctx, tplDir, handler, tmp)
	}
	if err != nil {
		return "", fmt.Errorf("build %s: %w", s.Name, err)
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, ManifestName), mb, 0o644); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(b.BuildRoot, s.Name)
	if err := os.RemoveAll(out); err != nil {
		return "", fmt.Errorf("replace %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("install %s: %w", out, err)
	}
	return out, nil
}

// goTemplateImport is the handler import in template/faasmon-go/main.go: in
// the Docker build the handler sits at ./function of the module.
const goTemplateImport = `"` + ModulePath + `/function"`

// buildGo compiles the template's main.go against the handler package where
// it is in the repository, without touching the tree: an overlay adds the
// generated main package at <repo>/.faasmon-build/<name>/main.go (a dot
// folder, ignored by ./... patterns) only for this go build. The template
// carries the faasmon_template build tag so that ./... never compiles it
// (its import only exists in the Docker build context).
func (b Builder) buildGo(ctx context.Context, name, handler, out string) error {
	rel, err := filepath.Rel(b.Repo, handler)
	if err != nil {
		return err
	}
	if rel == "." {
		return errors.New("handler cannot be the repository root")
	}
	src, err := os.ReadFile(filepath.Join(b.Repo, "template", "faasmon-go", "main.go"))
	if err != nil {
		return fmt.Errorf("read template: %w", err)
	}
	if bytes.Count(src, []byte(goTemplateImport)) != 1 {
		return fmt.Errorf("template/faasmon-go/main.go must import %s exactly once", goTemplateImport)
	}
	imp := `"` + ModulePath + "/" + filepath.ToSlash(rel) + `"`
	mainSrc := bytes.Replace(src, []byte(goTemplateImport), []byte("function "+imp), 1)

	work, err := os.MkdirTemp("", "faasmon-gobuild-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	mainPath := filepath.Join(work, "main.go")
	if err := os.WriteFile(mainPath, mainSrc, 0o644); err != nil {
		return err
	}
	virt := filepath.Join(b.Repo, ".faasmon-build", name, "main.go")
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {virt: mainPath}})
	ovPath := filepath.Join(work, "overlay.json")
	if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
		return err
	}
	return b.run(ctx, b.Repo, []string{"CGO_ENABLED=0"}, "go", "build", "-tags", "faasmon_template", "-overlay", ovPath,
		"-o", filepath.Join(out, "handler"), "./.faasmon-build/"+name)
}

// buildNode lays out the official node template's image: index.js and the
// template's package.json at the top with its node_modules, the handler in
// ./function with its own dependencies installed by npm.
func (b Builder) buildNode(ctx context.Context, tpl, handler, out string) error {
	for _, f := range []string{"handler.js", "package.json"} {
		if _, err := os.Stat(filepath.Join(handler, f)); err != nil {
			return fmt.Errorf("node function needs %s in %s", f, handler)
		}
	}
	base, err := b.nodeBase(ctx, tpl)
	if err != nil {
		return err
	}
	if err := copyDir(base, out, nil); err != nil {
		return fmt.Errorf("copy template: %w", err)
	}
	fnDir := filepath.Join(out, "function")
	if err := copyDir(handler, fnDir, map[string]bool{"node_modules": true}); err != nil {
		return fmt.Errorf("copy handler: %w", err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	pj, err := os.ReadFile(filepath.Join(fnDir, "package.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(pj, &pkg); err != nil {
		return fmt.Errorf("handler package.json: %w", err)
	}
	if len(pkg.Dependencies) == 0 {
		return nil
	}
	// A lock file pins exact versions: npm ci installs exactly those (and
	// fails when it disagrees with package.json, as it would in CI);
	// without one npm install resolves the ranges, as the official
	// template's image build does.
	if fileExists(filepath.Join(fnDir, "package-lock.json")) {
		return b.run(ctx, fnDir, nil, "npm", "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error")
	}
	return b.run(ctx, fnDir, nil, "npm", "install", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error")
}

// nodeBase returns the template with its node_modules installed, cached by
// the hash of its files so that npm runs once per template change.
func (b Builder) nodeBase(ctx context.Context, tpl string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"index.js", "package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join(tpl, f))
		if err != nil {
			return "", fmt.Errorf("node template: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(data))
		h.Write(data)
	}
	base := filepath.Join(b.BuildRoot, ".node20-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(base, "node_modules")); err == nil {
		return base, nil
	}
	tmp, err := os.MkdirTemp(b.BuildRoot, ".node20-tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, f := range []string{"index.js", "package.json", "package-lock.json"} {
		if err := copyFile(filepath.Join(tpl, f), filepath.Join(tmp, f), 0o644); err != nil {
			return "", err
		}
	}
	if err := b.run(ctx, tmp, nil, "npm", "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"); err != nil {
		return "", fmt.Errorf("install node template dependencies: %w", err)
	}
	_ = os.RemoveAll(base)
	if err := os.Rename(tmp, base); err != nil {
		return "", err
	}
	return base, nil
}

func (b Builder) run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	w := io.Writer(&out)
	if b.Log != nil {
		w = io.MultiWriter(&out, b.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s (in %s): %w\n%s", name, strings.Join(args, " "), dir, err, tail(out.Bytes(), 4000))
	}
	return nil
}

// copyDir copies a tree (modes and symlinks kept), skipping top-level
// entries named in skip.
func copyDir(src, dst string, skip map[string]bool) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if skip[e.Name()] {
			continue
		}
		if err := copyTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()), os.Getuid(), os.Getgid()); err != nil {
			return err
		}
	}
	return nil
}

// goMiddlewareImport is the handler import in
// template/golang-middleware/main.go, as in OpenFaaS' template: the
// function is the module handler/function next to the main module.
const goMiddlewareImport = `"handler/function"`

// buildGoMiddleware builds a function of the official golang-middleware
// layout (package function, Handle(w, r), its own go.mod and go.sum) in its
// own module, never in faasmon's: a work dir holds the template's main
// package as module "handler", the handler's copy as ./function, and a
// go.work that uses both, so the function's go.mod and go.sum decide its
// dependencies; an entry its go.sum lacks is checked against the checksum
// database into the work dir's go.work.sum, never into the user's folder. A handler without a
// go.mod gets the template's "module handler/function" one.
func (b Builder) buildGoMiddleware(ctx context.Context, tpl, handler, out string) error {
	if _, err := os.Stat(filepath.Join(handler, "handler.go")); err != nil {
		return fmt.Errorf("golang-middleware function needs handler.go in %s", handler)
	}
	src, err := os.ReadFile(filepath.Join(tpl, "main.go"))
	if err != nil {
		return fmt.Errorf("read template: %w", err)
	}
	if bytes.Count(src, []byte(goMiddlewareImport)) != 1 {
		return fmt.Errorf("%s/main.go must import %s exactly once", tpl, goMiddlewareImport)
	}
	work, err := os.MkdirTemp("", "faasmon-gomw-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fnDir := filepath.Join(work, "function")
	if err := copyDir(handler, fnDir, map[string]bool{".git": true}); err != nil {
		return fmt.Errorf("copy handler: %w", err)
	}
	mod, err := modulePath(filepath.Join(fnDir, "go.mod"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		mod = "handler/function"
		if err := os.WriteFile(filepath.Join(fnDir, "go.mod"), []byte("module handler/function\n\ngo 1.22\n"), 0o644); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("handler go.mod: %w", err)
	}
	if mod == "handler" || strings.ContainsAny(mod, "\"` \t\n") {
		return fmt.Errorf("handler go.mod: module path %q cannot be imported by the template", mod)
	}
	mainSrc := bytes.Replace(src, []byte(goMiddlewareImport), []byte("function \""+mod+"\""), 1)
	if err := os.WriteFile(filepath.Join(work, "main.go"), mainSrc, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte("module handler\n\ngo 1.22\n"), 0o644); err != nil {
		return err
	}
	// The main module has no requirements of its own: in workspace mode
	// the function module's requirements are the build list.
	env := []string{"CGO_ENABLED=0", "GOWORK=" + filepath.Join(work, "go.work"), "GOFLAGS=-mod=readonly -buildvcs=false"}
	if err := b.run(ctx, work, env, "go", "work", "init", ".", "./function"); err != nil {
		return err
	}
	return b.run(ctx, work, env, "go", "build", "-tags", "faasmon_template", "-trimpath", "-o", filepath.Join(out, "handler"), ".")
}

// SystemPython runs python3-http functions: the Debian interpreter, the
// one the unprivileged function user can read (a per-user Python under
// /root is not).
var SystemPython = "/usr/bin/python3"

// buildPython lays out the python3-http template: index.py at the top, the
// handler in ./function. Nothing is installed: pip is not used here, so
// every requirements.txt entry must already be importable by SystemPython
// (Debian packages python3-<name>); a missing one fails the build, naming
// it, rather than the function at its first request.
func (b Builder) buildPython(ctx context.Context, tpl, handler, out string) error {
	if _, err := os.Stat(filepath.Join(handler, "handler.py")); err != nil {
		return fmt.Errorf("python3-http function needs handler.py in %s", handler)
	}
	if err := copyFile(filepath.Join(tpl, "index.py"), filepath.Join(out, "index.py"), 0o644); err != nil {
		return fmt.Errorf("copy template: %w", err)
	}
	fnDir := filepath.Join(out, "function")
	if err := copyDir(handler, fnDir, map[string]bool{".git": true, "__pycache__": true}); err != nil {
		return fmt.Errorf("copy handler: %w", err)
	}
	if !fileExists(filepath.Join(fnDir, "__init__.py")) {
		if err := os.WriteFile(filepath.Join(fnDir, "__init__.py"), nil, 0o644); err != nil {
			return err
		}
	}
	reqs, err := pythonRequirements(filepath.Join(handler, "requirements.txt"))
	if err != nil {
		return err
	}
	// The template's own imports, then the function's.
	need := append([]string{"flask", "werkzeug"}, reqs...)
	var missing []string
	for _, r := range need {
		check := "import importlib.metadata, sys; importlib.metadata.version(sys.argv[1])"
		if err := exec.CommandContext(ctx, SystemPython, "-c", check, r).Run(); err != nil {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("python packages not installed for %s: %s (pip is not used here: install the Debian packages, e.g. apt-get install python3-%s)",
			SystemPython, strings.Join(missing, ", "), strings.ToLower(missing[0]))
	}
	return nil
}

// pythonRequirements reads the distribution names of a requirements file
// (version specifiers, extras, markers and comments dropped). A missing
// file is no requirements; options (-r, -e, --index-url) are refused, as
// nothing is installed here.
func pythonRequirements(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "-") {
			return nil, fmt.Errorf("requirements.txt line %d: option %q not supported by the local builder", i+1, line)
		}
		name := line
		if j := strings.IndexAny(name, "<>=!~;[ @"); j >= 0 {
			name = name[:j]
		}
		if !pyNameRE.MatchString(name) {
			return nil, fmt.Errorf("requirements.txt line %d: %q is not a package name", i+1, line)
		}
		out = append(out, name)
	}
	return out, nil
}

var pyNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)

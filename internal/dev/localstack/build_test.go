package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildPaths builds the handlers in testdata/build from a folder outside
// the repository with the repository's templates, starts each artefact as
// the provider would (its fprocess, cwd the artefact, port in the env) and
// calls it. See testdata/build/README.md.
func TestBuildPaths(t *testing.T) {
	repo, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, lang, fixture string
		drop                []string          // files removed from the copy before the build
		extra               map[string]string // files written into the copy
		network             bool              // needs the npm registry
		python              bool              // needs flask for the system python3
		body, want          string            // request body and the response it must give
		wantErr             string            // the build must fail with this
	}{
		{name: "golang-middleware own go.mod", lang: "golang-middleware", fixture: "gomw-plain", body: "hello", want: "plain POST 5"},
		{name: "golang-middleware without go.mod", lang: "golang-middleware", fixture: "gomw-nomod", body: "abc", want: "nomod POST 3"},
		{name: "golang-middleware with go.sum dependency", lang: "golang-middleware", fixture: "gomw-dep", body: "a: 1\nb: 2\n", want: "dep 2"},
		// Without a go.sum the go command verifies the download against the
		// checksum database (through the module proxy) into the work dir's
		// go.work.sum: the build still works, and nothing is written into
		// the user's folder.
		{name: "golang-middleware without go.sum", lang: "golang-middleware", fixture: "gomw-dep", drop: []string{"go.sum"}, body: "a: 1\n", want: "dep 1"},
		{name: "golang-middleware without handler.go", lang: "golang-middleware", fixture: "node-plain", wantErr: "needs handler.go"},
		{name: "node20 no dependencies", lang: "node20", fixture: "node-plain", body: "hello", want: "node-plain 5"},
		{name: "node alias", lang: "node", fixture: "node-plain", body: "hey", want: "node-plain 3"},
		{name: "node18 npm ci from lock file", lang: "node18", fixture: "node-dep", network: true, body: "2s", want: "node-dep 2000"},
		{name: "node18 npm install without lock file", lang: "node18", fixture: "node-dep", drop: []string{"package-lock.json"}, network: true, body: "1m", want: "node-dep 60000"},
		{name: "python3-http", lang: "python3-http", fixture: "py-plain", python: true, body: "hello", want: `{"method":"POST","py":5}` + "\n"},
		{name: "python3-http with an installed requirement", lang: "python3-http", fixture: "py-req", python: true, body: "x", want: "py-req 2"},
		{name: "python3-http with a missing requirement", lang: "python3-http", fixture: "py-req", python: true, extra: map[string]string{"requirements.txt": "requests\nsurely-not-installed-faasmon\n"}, wantErr: "surely-not-installed-faasmon"},
		{name: "python3-http without handler.py", lang: "python3-http", fixture: "node-plain", wantErr: "needs handler.py"},
		{name: "node without package.json", lang: "node20", fixture: "gomw-plain", wantErr: "handler.js"},
		{name: "faasmon-go outside the repository", lang: "faasmon-go", fixture: "gomw-plain", wantErr: ErrOutsideRepo.Error()},
		{name: "dockerfile", lang: "dockerfile", fixture: "gomw-plain", wantErr: "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.network && testing.Short() {
				t.Skip("needs the npm registry")
			}
			if tc.python && exec.Command(SystemPython, "-c", "import flask").Run() != nil {
				t.Skip("python3-http needs flask for " + SystemPython + " (apt-get install python3-flask python3-requests)")
			}
			// The handler lives outside the repository, as a user's does.
			handler := filepath.Join(t.TempDir(), "fn")
			if err := copyDir(filepath.Join("testdata", "build", tc.fixture), handler, nil); err != nil {
				t.Fatal(err)
			}
			for f, content := range tc.extra {
				if err := os.WriteFile(filepath.Join(handler, f), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tc.drop {
				if err := os.Remove(filepath.Join(handler, f)); err != nil {
					t.Fatal(err)
				}
			}
			b := Builder{Repo: repo, BuildRoot: t.TempDir()}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			out, err := b.Build(ctx, BuildSpec{Name: "fn", Lang: tc.lang, Handler: "fn", BaseDir: filepath.Dir(handler)})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, err := ReadManifest(out)
			if err != nil {
				t.Fatal(err)
			}
			if m.Handler != handler || m.Lang != tc.lang {
				t.Errorf("manifest %+v: want handler %s lang %s", m, handler, tc.lang)
			}
			if got := callArtefact(t, out, m.FProcess, tc.body); got != tc.want {
				t.Errorf("response %q, want %q", got, tc.want)
			}
		})
	}
}

// callArtefact runs fprocess in the artefact dir on a free port and POSTs
// body to it.
func callArtefact(t *testing.T, dir, fprocess, body string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	argv := strings.Fields(fprocess)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	if strings.HasPrefix(argv[0], "./") {
		cmd.Path = filepath.Join(dir, argv[0])
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("port=%d", port), fmt.Sprintf("http_port=%d", port))
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Post(url, "text/plain", strings.NewReader(body))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		var op *net.OpError
		if time.Now().After(deadline) || !errors.As(err, &op) {
			t.Fatalf("call %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPythonRequirements(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []string
		wantErr       string
	}{
		{"plain", "requests\nflask==2.2.2\n", []string{"requests", "flask"}, ""},
		{"specifiers, extras, markers, comments", "# deps\nrequests[socks]>=2.0 ; python_version>'3'\n\nFlask ~= 2.2  # web\nPyYAML @ https://x/y.whl\n", []string{"requests", "Flask", "PyYAML"}, ""},
		{"option", "-r other.txt\n", nil, "not supported"},
		{"index", "--index-url https://x\n", nil, "not supported"},
		{"garbage", "(oops)\n", nil, "not a package name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "requirements.txt")
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := pythonRequirements(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if got, err := pythonRequirements(filepath.Join(t.TempDir(), "none.txt")); err != nil || got != nil {
		t.Errorf("missing file: %v, %v", got, err)
	}
}

// FuzzPythonRequirements: any requirements file gives names or an error,
// never a panic, and every name is one the checker can pass as an argument.
func FuzzPythonRequirements(f *testing.F) {
	f.Add("requests>=2\n# c\nFlask[async] ; python_version > '3'\n")
	f.Add("-r x.txt\n")
	f.Add("\x00\n\n==1\n")
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(t.TempDir(), "requirements.txt")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		names, err := pythonRequirements(p)
		if err != nil {
			return
		}
		for _, n := range names {
			if !pyNameRE.MatchString(n) || strings.HasPrefix(n, "-") {
				t.Fatalf("name %q from %q", n, content)
			}
		}
	})
}

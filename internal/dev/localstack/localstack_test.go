package localstack

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/openfaas/faas-provider/types"
	"github.com/openfaas/go-sdk/stack"
)

func TestWithin(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(root, "a", "escape")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{root, true},
		{filepath.Join(root, "a", "b"), true},
		{filepath.Join(root, "a", "..", "a"), true},
		{filepath.Join(root, ".."), false},
		{filepath.Join(root, "..", filepath.Base(root)+"x"), false},
		{"/etc", false},
		{filepath.Join(root, "a", "escape"), false}, // symlink out of the root
		{filepath.Join(root, "..a"), true},          // a name starting with "..", still inside
	} {
		if got := within(root, tc.path); got != tc.want {
			t.Errorf("within(%s, %s) = %v, want %v", root, tc.path, got, tc.want)
		}
	}
}

func TestSplitName(t *testing.T) {
	for _, tc := range []struct{ in, name, ns string }{
		{"faasmon-parse", "faasmon-parse", DefaultNamespace},
		{"faasmon-parse.openfaas-fn", "faasmon-parse", "openfaas-fn"},
		{"x.other", "x", "other"},
		{"", "", DefaultNamespace},
	} {
		n, ns := splitName(tc.in)
		if n != tc.name || ns != tc.ns {
			t.Errorf("splitName(%q) = %q, %q", tc.in, n, ns)
		}
	}
}

func TestSlotFor(t *testing.T) {
	s := slotFor(7)
	if s.NS != "faasmon-7" || s.HostIf != "fmh7" || s.FnIf != "fmc7" || s.HostIP != "10.62.7.1" || s.FnIP != "10.62.7.2" || s.Path() != "/run/netns/faasmon-7" {
		t.Errorf("slotFor(7) = %+v", s)
	}
	if len(slotFor(maxSlot).HostIf) > 15 {
		t.Error("interface names must fit IFNAMSIZ")
	}
}

func TestFunctionEnv(t *testing.T) {
	env := functionEnv(map[string]string{"port": "9999", "HOME": "/root", "greeting": "hi"}, "./handler")
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	want := map[string]string{"port": "8080", "http_port": "8080", "HOME": "/root", "greeting": "hi", "fprocess": "./handler"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got["PATH"] == "" {
		t.Error("no PATH")
	}
}

func TestSandboxCommand(t *testing.T) {
	argv := sandboxCommand("faasmon-3", "/s/home", "/s/secrets", sandboxUser{Name: "app"}, []string{"node", "index.js"})
	want := []string{"ip", "netns", "exec", "faasmon-3", "/bin/sh", "-c"}
	for i, w := range want {
		if argv[i] != w {
			t.Fatalf("argv[%d] = %q, want %q", i, argv[i], w)
		}
	}
	if tailArgs := strings.Join(argv[7:], " "); tailArgs != "faasmon-sandbox /s/home /s/secrets app node index.js" {
		t.Errorf("script args: %q", tailArgs)
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"line1\nline2\nline3\n", 8, "…line3\n"},
		{"abcdef", 3, "…def"},
	} {
		if got := tail([]byte(tc.in), tc.n); got != tc.want {
			t.Errorf("tail(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// testProvider is a provider that never starts processes: enough for
// validation and HTTP error paths, without root.
func testProvider(t *testing.T) *Provider {
	d, err := NewDirs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ensure(); err != nil {
		t.Fatal(err)
	}
	return &Provider{dirs: d, log: log.New(io.Discard, "", 0), fns: map[string]*function{}, slots: map[int]bool{}}
}

func TestValidate(t *testing.T) {
	p := testProvider(t)
	good := filepath.Join(p.dirs.Build(), "fn")
	if err := os.MkdirAll(good, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(good, ManifestName), []byte(`{"fprocess":"./handler"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	noManifest := filepath.Join(p.dirs.Build(), "bare")
	_ = os.MkdirAll(noManifest, 0o755)
	_ = os.WriteFile(filepath.Join(p.dirs.FnSecrets(), "s1"), []byte("v"), 0o600)

	for _, tc := range []struct {
		name    string
		dep     types.FunctionDeployment
		wantErr string
	}{
		{"ok", types.FunctionDeployment{Service: "fn", Image: "local:" + good}, ""},
		{"ok with namespace suffix and secret", types.FunctionDeployment{Service: "fn.openfaas-fn", Image: "local:" + good, Secrets: []string{"s1"}}, ""},
		{"fprocess override", types.FunctionDeployment{Service: "fn", Image: "local:" + noManifest, EnvProcess: "node index.js"}, ""},
		{"bad name", types.FunctionDeployment{Service: "Bad_Name", Image: "local:" + good}, "invalid function name"},
		{"container image", types.FunctionDeployment{Service: "fn", Image: "alpine:3"}, "not container images"},
		{"relative path", types.FunctionDeployment{Service: "fn", Image: "local:build/fn"}, "not container images"},
		{"outside build root", types.FunctionDeployment{Service: "fn", Image: "local:/etc"}, "outside the build root"},
		{"dot-dot escape", types.FunctionDeployment{Service: "fn", Image: "local:" + good + "/../../../etc"}, "outside the build root"},
		{"build root itself", types.FunctionDeployment{Service: "fn", Image: "local:" + p.dirs.Build()}, "outside the build root"},
		{"missing dir", types.FunctionDeployment{Service: "fn", Image: "local:" + filepath.Join(p.dirs.Build(), "nope")}, "not a built function"},
		{"no manifest", types.FunctionDeployment{Service: "fn", Image: "local:" + noManifest}, "no artefact manifest"},
		{"missing secret", types.FunctionDeployment{Service: "fn", Image: "local:" + good, Secrets: []string{"nope"}}, `secret "nope" not found`},
		{"other namespace", types.FunctionDeployment{Service: "fn", Namespace: "x", Image: "local:" + good}, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dep := tc.dep
			_, fp, err := p.validate(&dep)
			if tc.wantErr == "" {
				if err != nil || len(fp) == 0 || dep.Service != "fn" {
					t.Fatalf("err %v fprocess %v service %q", err, fp, dep.Service)
				}
				return
			}
			var re *requestError
			if !errors.As(err, &re) || re.status != 400 || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want 400 containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestHandlersErrors(t *testing.T) {
	p := testProvider(t)
	call := func(h http.HandlerFunc, method, target, body string, vars map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		if vars != nil {
			r = mux.SetURLVars(r, vars)
		}
		w := httptest.NewRecorder()
		h(w, r)
		return w
	}
	for _, tc := range []struct {
		name   string
		h      http.HandlerFunc
		method string
		target string
		body   string
		vars   map[string]string
		want   int
	}{
		{"deploy malformed", p.guard("deploy", p.handleDeploy(false)), "POST", "/system/functions", "{", nil, 400},
		{"deploy wrong type", p.guard("deploy", p.handleDeploy(false)), "POST", "/system/functions", "[1]", nil, 400},
		{"deploy too large", p.guard("deploy", p.handleDeploy(false)), "POST", "/system/functions", `{"service":"` + strings.Repeat("a", maxAPIBody) + `"}`, nil, 413},
		{"update unknown", p.guard("update", p.handleDeploy(true)), "PUT", "/system/functions", `{"service":"x","image":"alpine"}`, nil, 400},
		{"delete unknown", p.guard("delete", p.handleDelete), "DELETE", "/system/functions", `{"functionName":"x"}`, nil, 404},
		{"status unknown", p.guard("status", p.handleStatus), "GET", "/system/function/x", "", map[string]string{"name": "x"}, 404},
		{"scale unknown", p.guard("scale", p.handleScale), "POST", "/system/scale-function/x", `{"serviceName":"x","replicas":1}`, map[string]string{"name": "x"}, 404},
		{"scale mismatch", p.guard("scale", p.handleScale), "POST", "/system/scale-function/x", `{"serviceName":"y","replicas":1}`, map[string]string{"name": "x"}, 400},
		{"proxy unknown", p.guard("proxy", p.handleProxy), "GET", "/function/x.openfaas-fn/p", "", map[string]string{"name": "x.openfaas-fn", "params": "p"}, 404},
		{"recycle without name", p.guard("recycle", p.handleRecycle), "POST", "/faasmon/recycle", "", nil, 400},
		{"recycle unknown", p.guard("recycle", p.handleRecycle), "POST", "/faasmon/recycle?function=x", "", nil, 404},
		{"secret bad name", p.guard("secrets", p.handleSecrets), "POST", "/system/secrets", `{"name":"../x","value":"v"}`, nil, 400},
		{"secret delete unknown", p.guard("secrets", p.handleSecrets), "DELETE", "/system/secrets", `{"name":"x"}`, nil, 404},
		{"list other namespace", p.guard("list", p.handleList), "GET", "/system/functions?namespace=kube-system", "", nil, 400},
		{"panic recovered", p.guard("boom", func(http.ResponseWriter, *http.Request) { panic("boom") }), "GET", "/", "", nil, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := call(tc.h, tc.method, tc.target, tc.body, tc.vars)
			if w.Code != tc.want {
				t.Errorf("status %d, want %d: %s", w.Code, tc.want, w.Body.String())
			}
		})
	}
}

func TestSecretsRoundTrip(t *testing.T) {
	p := testProvider(t)
	if err := p.putSecret(types.Secret{Name: "a", Value: "1"}, true); err != nil {
		t.Fatal(err)
	}
	var re *requestError
	if err := p.putSecret(types.Secret{Name: "a", Value: "2"}, true); !errors.As(err, &re) || re.status != 409 {
		t.Errorf("create twice: %v", err)
	}
	if err := p.putSecret(types.Secret{Name: "a", RawValue: []byte("3")}, false); err != nil {
		t.Errorf("update: %v", err)
	}
	if b, _ := os.ReadFile(p.secretPath("a")); string(b) != "3" {
		t.Errorf("value %q", b)
	}
	if l, _ := p.listSecrets(); len(l) != 1 || l[0].Name != "a" {
		t.Errorf("list %+v", l)
	}
	if err := p.deleteSecret("a"); err != nil {
		t.Error(err)
	}
}

func TestAccess(t *testing.T) {
	p := testProvider(t)
	// The responder (faasmon-alert) runs at 10.62.4.2; this test process
	// stands in for its live pid.
	p.fns["faasmon-alert"] = &function{inst: &running{Instance: Instance{Function: "faasmon-alert", PID: os.Getpid(),
		IP: "10.62.4.2", Labels: map[string]string{ResponderLabel: "responder"}}}}
	h := p.access(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	for _, tc := range []struct {
		addr, path string
		want       int
	}{
		{"127.0.0.1:5000", "/system/functions", 200},
		{"[::1]:5000", "/faasmon/instances", 200},
		{"10.62.3.2:4000", "/faasmon/instances", 403},
		{"10.62.4.2:4000", "/faasmon/recycle", 200},
		{"10.62.4.2:4000", "/faasmon/instances", 200},
		{"10.62.4.2:4000", "/system/functions", 403},
		{"garbage", "/faasmon/instances", 403},
	} {
		addr, want := tc.addr, tc.want
		r := httptest.NewRequest("GET", tc.path, nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d, want %d", addr, w.Code, want)
		}
	}
}

func TestBuilderRejects(t *testing.T) {
	repo := t.TempDir()
	_ = os.MkdirAll(filepath.Join(repo, "functions", "f"), 0o755)
	b := Builder{Repo: repo, BuildRoot: t.TempDir()}
	for _, tc := range []struct {
		name string
		spec BuildSpec
		want string
	}{
		{"outside", BuildSpec{Name: "f", Lang: "faasmon-go", Handler: "../../etc", BaseDir: repo}, ErrOutsideRepo.Error()},
		{"absolute outside", BuildSpec{Name: "f", Lang: "faasmon-go", Handler: "/etc", BaseDir: repo}, ErrOutsideRepo.Error()},
		{"missing", BuildSpec{Name: "f", Lang: "faasmon-go", Handler: "functions/none", BaseDir: repo}, "not a directory"},
		{"bad name", BuildSpec{Name: "F!", Lang: "faasmon-go", Handler: "functions/f", BaseDir: repo}, "invalid function name"},
		{"language", BuildSpec{Name: "f", Lang: "python3", Handler: "functions/f", BaseDir: repo}, "not supported"},
		{"golang-middleware without handler.go", BuildSpec{Name: "f", Lang: "golang-middleware", Handler: "functions/f", BaseDir: repo}, "handler.go"},
		{"node without handler.js", BuildSpec{Name: "f", Lang: "node20", Handler: "functions/f", BaseDir: repo}, "handler.js"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Build(context.Background(), tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDeploymentFor(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "env.yml"), []byte("environment:\n  a: from-file\n  b: from-file\n"), 0o644)
	labels := map[string]string{"com.openfaas.scale.min": "1"}
	fn := stack.Function{
		Environment: map[string]string{"b": "inline"}, EnvironmentFile: []string{"env.yml"},
		Secrets: []string{"s"}, Labels: &labels, FProcess: "./x",
		Limits: &stack.FunctionResources{Memory: "128Mi", CPU: "100m"},
	}
	dep, err := deploymentFor("f", fn, "/b/f", dir, map[string]string{"c": "override"})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Image != "local:/b/f" || dep.EnvVars["a"] != "from-file" || dep.EnvVars["b"] != "inline" || dep.EnvVars["c"] != "override" ||
		dep.EnvProcess != "./x" || dep.Limits.Memory != "128Mi" || (*dep.Labels)["com.openfaas.scale.min"] != "1" || dep.Secrets[0] != "s" {
		t.Errorf("deployment %+v", dep)
	}
	// -env wins over the stack file, as faas-cli deploy --env does
	dep, _ = deploymentFor("f", fn, "/b/f", dir, map[string]string{"b": "override"})
	if dep.EnvVars["b"] != "override" || dep.EnvVars["a"] != "from-file" {
		t.Errorf("override: env %v", dep.EnvVars)
	}
}

func TestCredentialsStable(t *testing.T) {
	d, _ := NewDirs(t.TempDir())
	a, err := EnsureCredentials(d)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EnsureCredentials(d)
	if err != nil || a != b || len(a.Password) < 32 {
		t.Errorf("first %+v second %+v err %v", a, b, err)
	}
	if st, _ := os.Stat(filepath.Join(d.Secrets(), "basic-auth-password")); st.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v", st.Mode())
	}
}

func TestLogSays(t *testing.T) {
	d, _ := NewDirs(t.TempDir())
	_ = d.Ensure()
	s := &Stack{Dirs: d}
	path := filepath.Join(d.Logs(), "x.log")
	_ = os.WriteFile(path, []byte("=== start 1\nready\n=== start 2\nbooting\n"), 0o600)
	if err := s.logSays(context.Background(), "x", "ready"); err == nil {
		t.Error("a line from an earlier start counted")
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("ready now\n")
	f.Close()
	if err := s.logSays(context.Background(), "x", "ready"); err != nil {
		t.Error(err)
	}
}

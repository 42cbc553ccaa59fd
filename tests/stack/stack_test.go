package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/pkg/provider"
	"github.com/openfaas/faas-provider/types"
	sdk "github.com/openfaas/go-sdk"
)

var detector = []string{"faasmon-alert", "faasmon-classify", "faasmon-graph", "faasmon-parse"}

type env struct {
	t      *testing.T
	s      *localstack.Stack
	client *sdk.Client
	creds  localstack.Credentials
}

func setup(t *testing.T) (*env, context.Context) {
	s := localstack.StartForTest(t)
	client, err := localstack.Client(s.Dirs)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := localstack.ReadCredentials(s.Dirs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	return &env{t: t, s: s, client: client, creds: creds}, ctx
}

// removeAfter deletes functions when the test ends, pass or fail.
func (e *env) removeAfter(names ...string) {
	e.t.Cleanup(func() {
		for _, n := range names {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = e.client.DeleteFunction(ctx, n, localstack.DefaultNamespace)
			cancel()
		}
	})
}

// do sends a request to the gateway (auth: with basic auth) and returns
// status, headers and body.
func (e *env) do(method, path, body string, auth bool, hdr map[string]string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, localstack.GatewayURL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(e.creds.User, e.creds.Password)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) instances() map[string]localstack.Instance {
	e.t.Helper()
	list, err := provider.FetchInstances(context.Background(), nil, localstack.ProviderURL)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]localstack.Instance{}
	for _, i := range list {
		out[i.Function] = i
	}
	return out
}

func TestDetectorStack(t *testing.T) {
	e, ctx := setup(t)
	e.removeAfter(detector...)
	t0 := time.Now()
	names, err := e.s.Deploy(ctx, filepath.Join(e.s.Repo, "stack.yml"), "")
	if err != nil {
		t.Fatalf("deploy stack.yml: %v", err)
	}
	t.Logf("deployed %v in %s", names, time.Since(t0).Round(time.Millisecond))

	fns, err := e.client.GetFunctions(ctx, localstack.DefaultNamespace)
	if err != nil {
		t.Fatalf("GET /system/functions: %v", err)
	}
	got := map[string]types.FunctionStatus{}
	for _, f := range fns {
		got[f.Name] = f
	}
	for _, n := range detector {
		if f, ok := got[n]; !ok || f.AvailableReplicas != 1 {
			t.Errorf("%s: listed=%v status=%+v", n, ok, f)
		}
	}

	t.Run("sync invoke through go-sdk", func(t *testing.T) {
		for _, n := range detector {
			req, _ := http.NewRequest(http.MethodGet, "/", nil)
			resp, err := e.client.InvokeFunction(n, "", false, false, req)
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) || resp.Header.Get("X-Call-Id") == "" {
				t.Errorf("%s: %d %q call-id %q", n, resp.StatusCode, body, resp.Header.Get("X-Call-Id"))
			}
		}
	})

	t.Run("instances are sandboxed processes", func(t *testing.T) {
		inst := e.instances()
		for _, n := range detector {
			i, ok := inst[n]
			if !ok {
				t.Fatalf("%s missing from %s", n, localstack.InstancesPath)
			}
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", i.PID))
			if !strings.HasSuffix(exe, "/handler") {
				t.Errorf("%s: pid %d runs %q, want the handler binary", n, i.PID, exe)
			}
			if sameNetns(t, i.PID, i.NetNS) != nil {
				t.Errorf("%s: pid %d not in %s: %v", n, i.PID, i.NetNS, sameNetns(t, i.PID, i.NetNS))
			}
			var st syscall.Stat_t
			if err := syscall.Stat(fmt.Sprintf("/proc/%d", i.PID), &st); err != nil || st.Uid == 0 {
				t.Errorf("%s: pid %d runs as uid %d (err %v), want unprivileged", n, i.PID, st.Uid, err)
			}
		}
	})

	t.Run("scale to zero and back", func(t *testing.T) {
		const fn = "faasmon-alert"
		before := e.instances()[fn]
		// The CE gateway turns replicas 0 into 1 (scale to zero is a Pro
		// feature): through it, the instance stays.
		if err := e.client.ScaleFunction(ctx, fn, "", 0); err != nil {
			t.Fatalf("scale 0 via gateway: %v", err)
		}
		if e.instances()[fn].ID != before.ID {
			t.Fatalf("scale 0 through the CE gateway replaced the instance")
		}
		// The provider honours 0: same go-sdk call, provider URL.
		pc, err := localstack.ProviderClient(e.s.Dirs)
		if err != nil {
			t.Fatal(err)
		}
		if err := pc.ScaleFunction(ctx, fn, "", 0); err != nil {
			t.Fatalf("scale 0 via provider: %v", err)
		}
		st, err := e.client.GetFunction(ctx, fn, "")
		if err != nil || st.Replicas != 0 {
			t.Fatalf("after scale 0: %+v %v", st, err)
		}
		if _, ok := e.instances()[fn]; ok {
			t.Fatalf("%s still has an instance", fn)
		}
		if processRuns(before.PID) {
			t.Errorf("pid %d still alive after scale 0", before.PID)
		}
		if code, _, _ := e.do("GET", "/function/"+fn, "", false, nil); code < 500 {
			t.Errorf("invoke while scaled to 0: %d, want 5xx", code)
		}
		if err := e.client.ScaleFunction(ctx, fn, "", 1); err != nil {
			t.Fatalf("scale 1: %v", err)
		}
		after := e.instances()[fn]
		if after.ID == "" || after.ID == before.ID {
			t.Errorf("instance after scale 1: %+v (before %s)", after, before.ID)
		}
		if code, _, body := e.do("GET", "/function/"+fn, "", false, nil); code != 200 {
			t.Errorf("invoke after scale 1: %d %s", code, body)
		}
	})

	t.Run("delete", func(t *testing.T) {
		const fn = "faasmon-alert"
		ns := e.instances()[fn].NetNS
		if err := e.client.DeleteFunction(ctx, fn, ""); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := e.client.GetFunction(ctx, fn, ""); err == nil {
			t.Errorf("%s still listed after delete", fn)
		}
		if _, err := os.Stat(ns); err == nil {
			t.Errorf("%s still exists after delete", ns)
		}
		if code, _, _ := e.do("GET", "/function/"+fn, "", false, nil); code != 404 {
			t.Errorf("invoke deleted function: %d, want 404", code)
		}
	})
}

func TestGoAndNodeFunctions(t *testing.T) {
	e, ctx := setup(t)
	e.removeAfter("stacktest-go", "stacktest-node")
	file := filepath.Join(e.s.Repo, "tests", "stack", "testdata", "stack.yml")
	if _, err := e.s.Deploy(ctx, file, "stacktest-go"); err != nil {
		t.Fatalf("deploy go function: %v", err)
	}
	t0 := time.Now()
	if _, err := e.s.Deploy(ctx, file, "stacktest-node"); err != nil {
		t.Fatalf("deploy node function: %v", err)
	}
	t.Logf("node function built and deployed in %s", time.Since(t0).Round(time.Millisecond))

	t.Run("go function sandbox", func(t *testing.T) {
		code, hdr, body := e.do("GET", "/function/stacktest-go/some/path", "", false, nil)
		if code != 200 {
			t.Fatalf("GET: %d %s", code, body)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		want := map[string]any{"home": "/home/app", "cwd": "/home/app", "path": "/some/path", "marker": false,
			"secretReadable": true, "secretsWritable": false, "greeting": "hello", "callId": hdr.Get("X-Call-Id")}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v (%s)", k, got[k], v, body)
			}
		}
		if got["uid"] == float64(0) {
			t.Errorf("function runs as root")
		}
	})

	t.Run("warm state survives until recycle", func(t *testing.T) {
		marker := func() bool {
			_, _, body := e.do("GET", "/function/stacktest-go", "", false, nil)
			return strings.Contains(body, `"marker":true`)
		}
		e.do("GET", "/function/stacktest-go?write=1", "", false, nil)
		if !marker() {
			t.Fatal("file left in /tmp is gone while the instance lives")
		}
		before := e.instances()["stacktest-go"]
		resp, err := http.Post(localstack.ProviderURL+localstack.RecyclePath+"?function=stacktest-go&id="+before.ID, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var inst localstack.Instance
		_ = json.NewDecoder(resp.Body).Decode(&inst)
		resp.Body.Close()
		if resp.StatusCode != 200 || inst.ID == before.ID || inst.PID == before.PID {
			t.Fatalf("recycle: %d %+v (before %+v)", resp.StatusCode, inst, before)
		}
		if marker() {
			t.Error("recycled instance still sees the old /tmp")
		}
		if _, err := os.Stat("/tmp/faasmon-test-marker"); err == nil {
			t.Error("the function's /tmp is the host's /tmp")
		}
	})

	t.Run("async invoke with callback", func(t *testing.T) {
		cb := newCallbackServer(t)
		// through the gateway
		code, hdr, body := e.do("POST", "/async-function/stacktest-go", "ping", false, map[string]string{"X-Callback-Url": cb.url})
		if code != http.StatusAccepted {
			t.Fatalf("async invoke: %d %s", code, body)
		}
		callID := hdr.Get("X-Call-Id")
		got := cb.wait(t)
		if got.header.Get("X-Function-Status") != "200" || got.header.Get("X-Call-Id") != callID || got.body != "echo:ping" {
			t.Errorf("callback: status %q call-id %q (want %q) body %q", got.header.Get("X-Function-Status"), got.header.Get("X-Call-Id"), callID, got.body)
		}
		// through go-sdk
		req, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader("pong"))
		req.Header.Set("X-Callback-Url", cb.url)
		resp, err := e.client.InvokeFunction("stacktest-go", "", true, false, req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("go-sdk async: %d", resp.StatusCode)
		}
		got = cb.wait(t)
		if got.header.Get("X-Function-Status") != "200" || got.header.Get("X-Call-Id") != resp.Header.Get("X-Call-Id") || got.body != "echo:pong" {
			t.Errorf("go-sdk callback: %v %q", got.header, got.body)
		}
	})

	t.Run("node function contract", func(t *testing.T) {
		code, hdr, body := e.do("POST", "/function/stacktest-node/sub/path?x=y", `{"a":1}`, false, map[string]string{"Content-Type": "application/json"})
		if code != 200 || hdr.Get("X-Test-Fn") != "nodefn" {
			t.Fatalf("POST: %d %v %s", code, hdr, body)
		}
		var got struct {
			Method, Path, ContentType, Cwd, Leftpad string
			Query                                   map[string]string
			Body                                    map[string]any
			UID                                     int
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if got.Method != "POST" || got.Path != "/sub/path" || got.Query["x"] != "y" || got.Body["a"] != float64(1) ||
			got.Cwd != "/home/app" || got.UID == 0 || got.Leftpad != "00x" {
			t.Errorf("event as seen by the handler: %+v", got)
		}
		if code, _, body := e.do("GET", "/function/stacktest-node?status=201", "", false, nil); code != 201 {
			t.Errorf("context.status(201): %d %s", code, body)
		}
		if code, _, body := e.do("GET", "/function/stacktest-node?fail=1", "", false, nil); code != 500 || !strings.Contains(body, "asked to fail") {
			t.Errorf("context.fail: %d %s", code, body)
		}
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", e.instances()["stacktest-node"].PID)); !strings.Contains(exe, "node") {
			t.Errorf("node instance pid runs %q", exe)
		}
	})
}

func TestBadInput(t *testing.T) {
	e, ctx := setup(t)
	e.removeAfter("stacktest-crash", "stacktest-outside", "stacktest-bad")
	file := filepath.Join(e.s.Repo, "tests", "stack", "testdata", "stack.yml")

	t.Run("unknown function", func(t *testing.T) {
		if code, _, body := e.do("GET", "/function/no-such-function", "", false, nil); code != 404 {
			t.Errorf("invoke: %d %s", code, body)
		}
		if code, _, body := e.do("GET", "/system/function/no-such-function", "", true, nil); code != 404 {
			t.Errorf("status: %d %s", code, body)
		}
		if code, _, body := e.do("POST", "/system/scale-function/no-such-function", `{"serviceName":"no-such-function","replicas":1}`, true, nil); code != 404 {
			t.Errorf("scale: %d %s", code, body)
		}
		if code, _, body := e.do("DELETE", "/system/functions", `{"functionName":"no-such-function"}`, true, nil); code != 404 {
			t.Errorf("delete: %d %s", code, body)
		}
	})

	t.Run("malformed deployment JSON", func(t *testing.T) {
		if code, _, body := e.do("POST", "/system/functions", `{"service": "x", "image": `, true, nil); code != 400 {
			t.Errorf("deploy: %d %s", code, body)
		}
		if code, _, body := e.do("PUT", "/system/functions", `[1,2,3]`, true, nil); code != 400 {
			t.Errorf("update: %d %s", code, body)
		}
	})

	t.Run("handler outside the repository", func(t *testing.T) {
		_, err := e.s.Deploy(ctx, file, "stacktest-outside")
		if !errors.Is(err, localstack.ErrOutsideRepo) {
			t.Errorf("build: %v, want ErrOutsideRepo", err)
		}
		for _, image := range []string{"local:/etc", "local:" + e.s.Dirs.Build() + "/../../../etc", "alpine:latest"} {
			dep := fmt.Sprintf(`{"service":"stacktest-bad","image":%q}`, image)
			if code, _, body := e.do("POST", "/system/functions", dep, true, nil); code != 400 {
				t.Errorf("deploy image %s: %d %s", image, code, body)
			}
		}
	})

	t.Run("crash at start", func(t *testing.T) {
		before := len(localstack.OurNetns())
		_, err := e.s.Deploy(ctx, file, "stacktest-crash")
		if err == nil || !strings.Contains(err.Error(), "refusing to start") || !strings.Contains(err.Error(), "500") {
			t.Errorf("deploy: %v, want a 500 with the log tail", err)
		}
		if _, err := e.client.GetFunction(ctx, "stacktest-crash", ""); err == nil {
			t.Error("crashed function is listed")
		}
		if after := len(localstack.OurNetns()); after != before {
			t.Errorf("namespaces: %d before, %d after a failed deploy", before, after)
		}
	})

	t.Run("provider survives and logged each", func(t *testing.T) {
		resp, err := http.Get(localstack.ProviderURL + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("provider health after bad input: %v %v", resp, err)
		}
		resp.Body.Close()
		logb, _ := os.ReadFile(filepath.Join(e.s.Dirs.Logs(), "provider.log"))
		for _, want := range []string{"function no-such-function not found", "malformed", "outside the build root", "exited during start"} {
			if !bytes.Contains(logb, []byte(want)) {
				t.Errorf("provider.log has no line with %q", want)
			}
		}
	})
}

func sameNetns(t *testing.T, pid int, nsPath string) error {
	var a, b syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &a); err != nil {
		return err
	}
	if err := syscall.Stat(nsPath, &b); err != nil {
		return err
	}
	if a.Ino != b.Ino {
		return fmt.Errorf("inode %d != %d", a.Ino, b.Ino)
	}
	return nil
}

func processRuns(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

type callback struct {
	header http.Header
	body   string
}

type callbackServer struct {
	url string
	ch  chan callback
}

// newCallbackServer listens on 127.0.0.1: the queue-worker runs on the
// host, so a loopback callback URL is what it can reach.
func newCallbackServer(t *testing.T) *callbackServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cb := &callbackServer{url: "http://" + ln.Addr().String() + "/cb", ch: make(chan callback, 4)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		cb.ch <- callback{header: r.Header.Clone(), body: string(b)}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return cb
}

func (c *callbackServer) wait(t *testing.T) callback {
	t.Helper()
	select {
	case got := <-c.ch:
		return got
	case <-time.After(30 * time.Second):
		t.Fatal("no callback within 30s")
		return callback{}
	}
}

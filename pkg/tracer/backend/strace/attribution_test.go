package strace_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/internal/dev/proctest"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/backend/backendtest"
	stracebe "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

const attribServer = `import http.server, sys, urllib.request
up = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        if self.path == '/up':
            # The "upstream": answers with a forged call id.
            body = b'up'
            self.send_response(200)
            self.send_header('X-Call-Id', 'forged-by-a-response')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        # The handler: calls out, then answers.
        urllib.request.urlopen(up).read()
        body = b'ok'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[3])), H)
open(sys.argv[1], 'w').write(str(s.server_port))
s.serve_forever()
`

// TestStraceAttribution attaches the real sensor (strace -p, the tracer's
// arguments, the scrubber) to an HTTP server that was listening before
// strace came — so its listen() is not in the trace and the listening port
// must come from /proc — and sends requests whose X-Call-Id stands after a
// 3 KB header, beyond the old -s 256. The handler calls out to an upstream
// whose response carries a forged X-Call-Id. Every request's call id must
// be found on the handler's inbound read; the forged one never.
func TestStraceAttribution(t *testing.T) {
	backendtest.Need(t, "strace", "python3")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.py"), []byte(attribServer), 0o600); err != nil {
		t.Fatal(err)
	}
	// The upstream: the same program, not traced.
	up := exec.Command("python3", filepath.Join(dir, "s.py"), filepath.Join(dir, "up.port"), "http://127.0.0.1:1/", "0")
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = up.Process.Kill(); _ = up.Wait() }()
	port := func(f string) string {
		var b []byte
		backendtest.WaitFor(t, f, 10*time.Second, func() bool { b, _ = os.ReadFile(filepath.Join(dir, f)); return len(b) > 0 })
		return string(b)
	}
	upURL := "http://127.0.0.1:" + port("up.port") + "/up"
	srv := exec.Command("python3", filepath.Join(dir, "s.py"), filepath.Join(dir, "fn.port"), upURL, "0")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	fn := "http://127.0.0.1:" + port("fn.port") + "/"

	var col backendtest.Collector
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tg := backendtest.Target(t, srv.Process.Pid)
	cfg := backend.RunConfig{Node: "n1", Chunk: chunker.Config{Quiet: 100 * time.Millisecond}}
	done := make(chan struct{})
	go func() {
		backend.Run(ctx, stracebe.New(stracebe.Config{}), tg, cfg, metrics.New(), col.Sink)
		close(done)
	}()
	backendtest.WaitFor(t, "strace attached", 10*time.Second, func() bool { return proctest.Traced(srv.Process.Pid) })

	const n = 5
	pad := strings.Repeat("a", 3000)
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest(http.MethodGet, fn, nil)
		req.Header.Set("Accept", pad)
		req.Header.Set("X-Call-Id", fmt.Sprintf("attrib-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// The last call traced (its chunk closed after a quiet period), not
	// a fixed wait: strace's output lags on a loaded machine.
	backendtest.WaitFor(t, "the last call traced", 10*time.Second, func() bool {
		return seen(&col, "", fmt.Sprintf("attrib-%d", n-1))
	})
	cancel()
	<-done

	got := map[string]bool{}
	for _, cs := range col.Streams() {
		for _, c := range cs {
			b, err := ingest.Chunk(c.Header, c.Body)
			if err != nil {
				t.Fatalf("ingest: %v", err)
			}
			for _, e := range b.Events {
				if e.CallID == "" {
					continue
				}
				got[e.CallID] = true
				if e.Syscall != "recvfrom" && e.Syscall != "read" && e.Syscall != "recvmsg" {
					t.Errorf("call id %q on %s", e.CallID, e.Syscall)
				}
			}
		}
	}
	for i := 0; i < n; i++ {
		if id := fmt.Sprintf("attrib-%d", i); !got[id] {
			t.Errorf("call id %s not found (found %v)", id, got)
		}
	}
	if got["forged-by-a-response"] {
		t.Error("call id taken from the upstream's response")
	}
}

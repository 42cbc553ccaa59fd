package ebpf_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
	"github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
)

// TestColdStartGraph is a cold start through the tracer's path: an HTTP
// server born in a new cgroup under the followed parent answers its first
// request before the tracer attaches to it, and the chunks of the stream
// attached afterwards give that request's invocation graph (parse stage:
// ingest; graph stage: provenance.Builder).
func TestColdStartGraph(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (cgroups, CAP_BPF, CAP_PERFMON)")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	root, err := ebpf.CgroupRoot("/proc")
	if err != nil {
		t.Skip(err)
	}
	parent := fmt.Sprintf("faasmon-ebpf-cold-%d", os.Getpid())
	dir := filepath.Join(root, parent, "fn")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	defer func() {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
		for i := 0; i < 50 && os.Remove(dir) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		_ = os.Remove(filepath.Join(root, parent))
	}()
	b := ebpf.New(ebpf.Config{FollowParent: parent})
	if err := b.Start(); err != nil {
		t.Skipf("BPF refused: %v", err)
	}
	defer b.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	work := t.TempDir()
	srv := exec.Command("python3", "-c", fmt.Sprintf(`import http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        open(%q, 'w').write('x')
        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'ok')
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', %d), H).serve_forever()
`, filepath.Join(work, "touched"), port))
	srv.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	if err := srv.Start(); err != nil {
		t.Skipf("cannot start a process in a cgroup: %v", err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()

	// The first request, before anything attached.
	var resp *http.Response
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/first", port), nil)
		req.Header.Set("X-Call-Id", "cold-first")
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(300 * time.Millisecond)

	stop := runChunks(t, b, discovery.Target{Key: "k", Function: "fn", Container: "c1", PID: srv.Process.Pid})
	time.Sleep(2*ebpf.PollInterval + 600*time.Millisecond) // a quiet period closes the chunk
	chunks := stop()

	var st *provenance.State
	var graphs []provenance.Graph
	for i, c := range chunks {
		batch, err := ingest.Chunk(c.Header, c.Body)
		if err != nil {
			t.Fatalf("ingest chunk %d: %v", i, err)
		}
		if st == nil {
			st = provenance.NewState(c.Header)
		}
		gs, err := provenance.Builder{}.Apply(st, batch)
		if err != nil {
			t.Fatal(err)
		}
		graphs = append(graphs, gs...)
	}
	var calls []string
	for _, g := range graphs {
		calls = append(calls, g.CallID)
		if g.CallID == "cold-first" {
			touched := false
			for _, n := range g.Nodes {
				touched = touched || strings.HasSuffix(n.Label, "/touched") || strings.HasSuffix(n.Path, "/touched")
			}
			if !touched {
				t.Errorf("the first invocation's graph lacks the file it wrote: %+v", g.Nodes)
			}
			return
		}
	}
	t.Fatalf("no graph for the first request among %d graphs (call ids %q) from %d chunks", len(graphs), calls, len(chunks))
}

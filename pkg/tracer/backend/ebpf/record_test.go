package ebpf_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
)

// nodeHandler is a stand-in for an OpenFaaS Node.js function (the lab's
// product-catalog-api shape): per request it reads a file, resolves a name,
// writes a temporary file and runs a child process, then answers.
const nodeHandler = `
const http = require('http'), fs = require('fs'), cp = require('child_process'), dns = require('dns');
http.createServer((req, res) => {
  fs.readFileSync('/etc/hosts');
  dns.lookup('localhost', () => {
    fs.writeFileSync('/tmp/faasmon-record-' + process.pid, req.url);
    cp.execSync('cat /etc/os-release > /dev/null; ls /usr/lib > /dev/null');
    fs.unlinkSync('/tmp/faasmon-record-' + process.pid);
    res.end('ok');
  });
}).listen(+process.env.PORT, '127.0.0.1', () => console.log('up'));
`

// TestRecordTrace records the chunk bodies in testdata/trace (what
// BenchmarkParseLines and FuzzReadLine's seeds read): the eBPF backend
// attached, through backend.Run as the tracer runs it, to a Node.js HTTP
// server in a fresh cgroup while it serves 20 requests with an X-Call-Id.
// Run as root, outside the local stack:
//
//	FAASMON_RECORD_TRACE=testdata/trace go test -run TestRecordTrace ./pkg/tracer/backend/ebpf/
func TestRecordTrace(t *testing.T) {
	dir := os.Getenv("FAASMON_RECORD_TRACE")
	if dir == "" {
		t.Skip("FAASMON_RECORD_TRACE not set")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (cgroups, CAP_BPF, CAP_PERFMON)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip(err)
	}
	b := ebpf.New(ebpf.Config{})
	if _, err := b.Probe(); errors.Is(err, backend.ErrUnavailable) {
		t.Skipf("BPF refused: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	root, err := ebpf.CgroupRoot("/proc")
	if err != nil {
		t.Skip(err)
	}
	cg := filepath.Join(root, fmt.Sprintf("faasmon-ebpf-record-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	defer func() {
		for i := 0; i < 50 && os.Remove(cg) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	// A shell in the cgroup waits for the tracer, then becomes node: the
	// server's start-up is traced from its exec.
	cmd := exec.Command("/bin/sh", "-c", `read go; exec "$NODE" -e "$SRC"`)
	cmd.Env = append(os.Environ(), "NODE="+node, "SRC="+nodeHandler, "PORT="+strconv.Itoa(port))
	in, _ := cmd.StdinPipe()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		t.Skipf("cannot move pid %d into a cgroup: %v", cmd.Process.Pid, err)
	}

	stop := runChunks(t, b, discovery.Target{Key: "rec", Function: "node-record", Container: "c1", PID: cmd.Process.Pid})
	_, _ = in.Write([]byte("go\n"))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for i := 0; ; i++ {
		if resp, err := http.Get(url + "up"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatal("node did not come up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%sitem/%d?q=%%22x%%22", url, i), nil)
		req.Header.Set("X-Call-Id", fmt.Sprintf("rec-%04d-5f1c9a7e", i))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2*ebpf.PollInterval + 400*time.Millisecond)
	chunks := stop()

	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, c := range chunks {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.ndjson", i)), c.Body, 0o644); err != nil {
			t.Fatal(err)
		}
		total += len(c.Body)
	}
	t.Logf("%d chunks, %d bytes in %s", len(chunks), total, dir)
}

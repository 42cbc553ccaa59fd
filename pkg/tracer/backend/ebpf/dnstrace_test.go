package ebpf

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
)

// dnsResponder answers every DNS query (UDP and TCP, 127.0.0.1:53 of its
// network namespace) with NXDOMAIN, so that resolvers finish at once.
const dnsResponder = `import socket, struct, threading
def answer(d):
    return d[:2] + b"\x81\x83" + d[4:6] + b"\0" * 6 + d[12:]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 53))
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", 53))
t.listen(16)
def tcp():
    while True:
        c, _ = t.accept()
        try:
            n = struct.unpack(">H", c.recv(2))[0]
            d = b""
            while len(d) < n:
                x = c.recv(n - len(d))
                if not x:
                    break
                d += x
            a = answer(d)
            c.sendall(struct.pack(">H", len(a)) + a)
        except Exception:
            pass
        c.close()
threading.Thread(target=tcp, daemon=True).start()
print("up", flush=True)
while True:
    d, a = u.recvfrom(4096)
    if len(d) >= 12:
        u.sendto(answer(d), a)
`

// dnsClient sends queries every way a process can, and two that are not
// DNS: a query to another port, and a query written to a file whose fd
// number was a DNS socket's until it was closed.
const dnsClient = `import socket, struct, os, sys
def q(name, t=1):
    b = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for l in name.split("."):
        b += bytes([len(l)]) + l.encode()
    return b + b"\0" + struct.pack(">HH", t, 1)
r = ("127.0.0.1", 53)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(q("sendto.dns.test"), r)
s.sendmsg([q("sendmsg-to.dns.test")], [], 0, r)
s.close()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(r)
s.send(q("send.dns.test", 28))
os.write(s.fileno(), q("write.dns.test"))
s.sendmsg([q("sendmsg.dns.test")])
s.close()
s = socket.socket()
s.connect(r)
m = q("tcp.dns.test")
s.sendall(struct.pack(">H", len(m)) + m)
s.recv(512)
s.close()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(q("other-port.dns.test"), ("127.0.0.1", 5353))
s.close()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", 5353))
s.send(q("other-connected.dns.test"))
s.close()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(r)
fd = s.fileno()
s.close()
f = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
if f != fd:
    sys.exit("fd %d reused as %d" % (fd, f))
os.write(f, q("closed.dns.test"))
os.close(f)
try:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.sendto(q("v6.dns.test"), ("::1", 53))
    print("v6 sent")
except OSError as e:
    print("no IPv6:", e)
`

// TestDNSHelperProcess is the Go resolver the traced test runs (as this
// test binary): net.Resolver's own code, which connects a UDP socket to
// the nameserver of /etc/resolv.conf and writes its queries, then the same
// over TCP. It does nothing unless FAASMON_DNS_HELPER is set.
func TestDNSHelperProcess(t *testing.T) {
	if os.Getenv("FAASMON_DNS_HELPER") == "" {
		t.Skip("the traced process of TestDNSQueriesTraced")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := &net.Resolver{PreferGo: true}
	_, err := r.LookupHost(ctx, "go.dns.test")
	fmt.Println("udp:", err)
	r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}}
	_, err = r.LookupHost(ctx, "gotcp.dns.test")
	fmt.Println("tcp:", err)
}

// TestDNSQueriesTraced runs resolvers in a traced cgroup against a DNS
// responder on 127.0.0.1:53 of a network namespace of their own (whose
// /etc/resolv.conf names it): glibc's (getent: connect + sendmmsg), Go's
// (connect + write; TCP), c-ares's (Node.js: connect + send), and Python
// sending by hand with sendto, sendmsg (to an address and connected), send,
// write and TCP. Each query's name is in a KindDNS event whose
// destination is the resolver; a query to another port and one written to
// a file that took a closed DNS socket's fd are not copied by the kernel
// at all. Folded into a provenance graph, the resolver's socket node is
// labelled with a queried name, as it is from pcap.
func TestDNSQueriesTraced(t *testing.T) {
	loadOrSkip(t)
	for _, tool := range []string{"unshare", "nsenter", "ip", "python3", "getent"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	b := loadedBackend(t)
	dir, cg := newCgroup(t)
	tmp := t.TempDir()
	rc := filepath.Join(tmp, "resolv.conf")
	if err := os.WriteFile(rc, []byte("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The resolver, in a network and mount namespace of its own, not
	// traced (unshare execs into sh, sh into python: one pid).
	resp := exec.Command("unshare", "-n", "-m", "--propagation", "private", "sh", "-c",
		"ip link set lo up && mount --bind "+rc+" /etc/resolv.conf && exec python3 -c '"+dnsResponder+"'")
	out, err := resp.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var respErr bytes.Buffer
	resp.Stderr = &respErr
	if err := resp.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	t.Cleanup(func() { _ = resp.Process.Kill(); _ = resp.Wait() })
	up := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		up <- line == "up\n"
	}()
	select {
	case ok := <-up:
		if !ok {
			t.Skipf("no network namespace with a DNS responder here: %s", respErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the responder did not start: %s", respErr.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := b.AttachCgroup(ctx, cg, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cgf, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cgf.Close()
	run := func(env []string, args ...string) string {
		t.Helper()
		cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
		defer ccancel()
		cmd := exec.CommandContext(cctx, "nsenter", append([]string{"-t", strconv.Itoa(resp.Process.Pid), "-n", "-m", "--"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cgf.Fd())}
		o, err := cmd.CombinedOutput()
		t.Logf("%s: %v\n%s", args[0], err, o)
		return string(o)
	}
	want := []string{"glibc.dns.test", "sendto.dns.test", "sendmsg-to.dns.test", "send.dns.test",
		"write.dns.test", "sendmsg.dns.test", "tcp.dns.test", "go.dns.test", "gotcp.dns.test"}
	notCopied := []string{"other-port.dns.test", "other-connected.dns.test", "closed.dns.test"}
	run(nil, "getent", "ahosts", "glibc.dns.test")
	v6 := strings.Contains(run(nil, "python3", "-c", dnsClient, filepath.Join(tmp, "closed-fd-file")), "v6 sent")
	run([]string{"FAASMON_DNS_HELPER=1"}, os.Args[0], "-test.run=^TestDNSHelperProcess$", "-test.v")
	if _, err := exec.LookPath("node"); err == nil {
		run(nil, "node", "-e", `const dns = require("dns"); dns.setServers(["127.0.0.1"]); dns.resolve4("cares.dns.test", () => {})`)
		want = append(want, "cares.dns.test")
	}
	time.Sleep(2*PollInterval + 200*time.Millisecond)

	// Every record queued so far: which queries the kernel copied, and
	// the events the decoder makes of them.
	copied := map[string]bool{}
	var evs []event.Event
	var body []byte
	for {
		s.mu.Lock()
		n := len(s.buf)
		s.mu.Unlock()
		if n == 0 && len(s.batch) == 0 {
			break
		}
		raw, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) == sizeDNS {
			r, err := parseRaw(raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, tcp := range []bool{false, true} {
				if name, _, ok := dnsQuestion(r.dns, tcp); ok {
					copied[name] = true
				}
			}
		}
		got, err := s.dec.Decode(raw)
		if err != nil {
			continue
		}
		for _, e := range got {
			evs = append(evs, e)
			line, _ := appendLine(nil, e, 0)
			body = append(body, line...)
		}
	}
	names := map[string]event.DNSQuery{}
	for _, e := range evs {
		if e.Kind == event.KindDNS {
			names[e.DNS.Name] = *e.DNS
		}
	}
	for _, n := range want {
		q, ok := names[n]
		switch {
		case !ok:
			t.Errorf("no DNS event for %s", n)
		case q.Dst != "127.0.0.1:53":
			t.Errorf("%s: destination %q, want 127.0.0.1:53", n, q.Dst)
		}
	}
	if q, ok := names["v6.dns.test"]; v6 && (!ok || q.Dst != "[::1]:53") {
		t.Errorf("v6.dns.test: %v %+v, want a query to [::1]:53", ok, q)
	}
	if q := names["send.dns.test"]; q.Type != "AAAA" {
		t.Errorf("send.dns.test: type %q, want AAAA", q.Type)
	}
	for _, n := range notCopied {
		if copied[n] {
			t.Errorf("the kernel copied %s's query", n)
		}
		if _, ok := names[n]; ok {
			t.Errorf("a DNS event for %s", n)
		}
	}
	var got []string
	for n := range names {
		got = append(got, n)
	}
	sort.Strings(got)
	t.Logf("DNS events: %v", got)

	// Through faasmon-parse's parser and the graph builder, in chunks
	// as the tracer cuts them.
	now := time.Now()
	h := chunk.Header{Node: "n1", Function: "dns", Container: "c1", PID: resp.Process.Pid, Kind: Kind,
		Stream: backend.StreamID("c1", Kind, now), Start: now, End: now}
	bld := provenance.Builder{Class: provenance.DefaultClassifier()}
	st := provenance.NewState(h)
	var gs []provenance.Graph
	for len(body) > 0 {
		n := len(body)
		if n > chunk.MaxBytes {
			n = bytes.LastIndexByte(body[:chunk.MaxBytes], '\n') + 1
		}
		parsed, err := Parse(body[:n])
		body = body[n:]
		if err != nil {
			t.Fatal(err)
		}
		if parsed.Unparsed > 0 {
			t.Errorf("%d lines unparsed: %v", parsed.Unparsed, parsed.Errors)
		}
		h.Seq++
		g, err := bld.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: parsed.Events})
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g...)
	}
	labelled := ""
	for _, g := range gs {
		for _, n := range g.Nodes {
			if n.Kind == provenance.NodeSocket && n.Addr == "127.0.0.1:53" {
				labelled = n.DNS
			}
		}
	}
	if !slices.Contains(want, labelled) {
		t.Errorf("the resolver's socket node is labelled %q, want one of the names queried", labelled)
	}
}

package tcpdump_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/backend/backendtest"
	"github.com/faasmon/faasmon/pkg/tracer/backend/tcpdump"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
)

// TestTcpdumpInNetns captures in a network namespace made for the test,
// where an HTTP server gets requests with X-Call-Id: every chunk parses alone
// and each request opens a chunk. The stream is detached after a quiet
// period, or the moment the last request answered (a container ending
// right after its invocation): tcpdump, stopped with SIGTERM, still hands
// over the last request.
func TestTcpdumpInNetns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		settle time.Duration
	}{
		{"detached after a quiet period", 400 * time.Millisecond},
		{"detached at once", 0},
	} {
		t.Run(tc.name, func(t *testing.T) { tcpdumpInNetns(t, tc.settle) })
	}
}

func tcpdumpInNetns(t *testing.T, settle time.Duration) {
	backendtest.Need(t, "tcpdump", "nsenter", "ip", "python3")
	// Not "faasmon-*": the local stack's teardown removes those, and its tests
	// may run at the same time.
	ns := fmt.Sprintf("fmtest-sensor-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	defer func() { _ = exec.Command("ip", "netns", "del", ns).Run() }()
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	srv := exec.Command("ip", "netns", "exec", ns, "python3", "-m", "http.server", "18091", "--bind", "127.0.0.1")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	tg := backendtest.Target(t, srv.Process.Pid)
	tg.NetNS = "/run/netns/" + ns
	m := metrics.New()
	var col backendtest.Collector
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		backend.Run(ctx, tcpdump.New(tcpdump.Config{}), tg, backend.RunConfig{Node: "n1", RestartMin: 50 * time.Millisecond}, m, col.Sink)
		close(done)
	}()
	backendtest.WaitFor(t, "tcpdump", 10*time.Second, func() bool { return metrics.Value(m.Sensors.WithLabelValues("pcap")) == 1 })
	// tcpdump opens its socket after exec: wait until the namespace (the
	// test's own, where nothing else captures) has a packet socket,
	// rather than for a fixed time.
	backendtest.WaitFor(t, "tcpdump's packet socket", 10*time.Second, func() bool {
		return hasPacketSocket(srv.Process.Pid)
	})
	for i := 0; i < 3; i++ {
		py := fmt.Sprintf(`import http.client,time
for _ in range(20):
    try:
        c=http.client.HTTPConnection('127.0.0.1',18091); c.request('POST','/',body='password=CANARY-PCAP-BODY&'+'x'*300,headers={'X-Call-Id':'id-%d','X-Vault-Token':'CANARY-PCAP-VAULT'}); c.getresponse().read(); break
    except OSError: time.sleep(0.1)`, i)
		if out, err := exec.Command("ip", "netns", "exec", ns, "python3", "-c", py).CombinedOutput(); err != nil {
			t.Fatalf("client: %v %s", err, out)
		}
		if i < 2 {
			time.Sleep(50 * time.Millisecond) // < quiet: only the X-Call-Id cuts
		}
	}
	time.Sleep(settle)
	cancel()
	<-done
	var firsts []string
	streams := col.Streams()
	if len(streams) != 1 {
		t.Fatalf("%d streams", len(streams))
	}
	for name, cs := range streams {
		backendtest.CheckStream(t, name, cs)
		for i, c := range cs {
			r, err := pcapgo.NewReader(bytes.NewReader(c.Body))
			if err != nil {
				t.Fatalf("chunk %d does not parse alone: %v", i, err)
			}
			for j := 0; ; j++ {
				data, _, err := r.ReadPacketData()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("chunk %d packet %d: %v", i, j, err)
				}
				// Only the request line, Host and X-Call-Id leave the
				// node (chunker.ScrubPacket): not the token, not the body.
				if bytes.Contains(data, []byte("CANARY-PCAP")) {
					t.Errorf("chunk %d packet %d carries a canary: %q", i, j, data)
				}
				if k := bytes.Index(data, []byte("X-Call-Id: ")); k >= 0 {
					if j != 0 {
						t.Errorf("chunk %d: request %q is packet %d, not the first", i, data[k:k+15], j)
					}
					firsts = append(firsts, string(data[k+11:k+15]))
				}
			}
		}
	}
	if strings.Join(firsts, ",") != "id-0,id-1,id-2" {
		t.Fatalf("requests seen: %v", firsts)
	}
}

// hasPacketSocket says whether the network namespace of pid has a packet
// socket (/proc/<pid>/net/packet: a header line, then one per socket).
func hasPacketSocket(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/packet", pid))
	return err == nil && len(strings.Fields(strings.TrimSpace(string(b)))) > 9
}

package stantest

import (
	"os/exec"
	"strings"
	"testing"

	stan "github.com/nats-io/stan.go"
)

// TestBinary finds (or, on a fresh machine, builds) the server at the
// version tools/go.mod pins, and starts it.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts nats-streaming-server; skipped under -short (make unit)")
	}
	bin := Binary(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0.25.6") {
		t.Fatalf("%s: %v %s", bin, err, out)
	}
	url := Start(t, "stantest")
	sc, err := stan.Connect("stantest", "stantest-client", stan.NatsURL(url))
	if err != nil {
		t.Fatal(err)
	}
	sc.Close()
}

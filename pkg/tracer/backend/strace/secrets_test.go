package strace_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
	"github.com/faasmon/faasmon/pkg/parse/strace"
	stracebe "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
)

// canaries are planted in every place issue 14 found secrets leaving the
// node; none may appear in a chunk, an event batch, a graph or the graph
// stage's state.
var canaries = map[string]string{
	"secret file":            "CANARY-FILE-5c1e",
	"private key":            "CANARY-KEY-0b7d",
	"environ":                "CANARY-ENV-93aa",
	"curl -u":                "CANARY-CURLU-44f0",
	"URL user:pw@":           "CANARY-URLPW-1d2e",
	"password= query":        "CANARY-QUERY-7a7a",
	"JSON password":          "CANARY-JSON-e3b9",
	"X-Vault-Token":          "CANARY-VAULT-61c2",
	"X-Amz-Security-Token":   "CANARY-AMZ-0f0f",
	"Private-Token":          "CANARY-PRIV-2b2b",
	"Authorization (header)": "CANARY-AUTH-8e8e",
	"--password= flag":       "CANARY-FLAG-5e5e",
	"env VAR= argv":          "CANARY-ENVARGV-6d6d",
}

const canaryServer = `import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get('Content-Length', 0))
        self.rfile.read(n)
        self.send_response(200)
        self.send_header('X-Call-Id', self.headers.get('X-Call-Id', ''))
        self.end_headers()
        self.wfile.write(b'ok')
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
open(sys.argv[1], 'w').write(str(s.server_port))
s.handle_request()
`

// TestCanarySecretsStayOnNode runs a real workload under the real strace
// with the tracer's arguments — an HTTP server receiving a request that
// carries every kind of credential (curl -u, user:pw@ URL, password= query,
// JSON body, four token headers, X-Call-Id after a 300-byte header), a
// process reading a secret file, a private key and /proc/self/environ, a
// command line with --password= — and takes its output through the
// tracer's own path (LineReader, Scrubber, StraceUnit, Cutter), then
// faasmon-parse's (ingest.Chunk) and faasmon-graph's (provenance.Builder).
// It also checks the attempt is still visible: the secret file's open, the
// curl command (masked) and the call id.
func TestCanarySecretsStayOnNode(t *testing.T) {
	for _, b := range []string{"strace", "curl", "python3", "sh"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("needs %s", b)
		}
	}
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("server.py", canaryServer)
	write("secret.txt", "db-password="+canaries["secret file"]+"\n")
	write("id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n"+canaries["private key"]+"\n-----END OPENSSH PRIVATE KEY-----\n")
	pad := strings.Repeat("a", 300)
	script := `exec >/dev/null 2>&1
cd ` + dir + `
python3 server.py port &
while [ ! -s port ]; do sleep 0.05; done
P=$(cat port)
curl -s -o /dev/null -u "user:` + canaries["curl -u"] + `" \
  "http://bob:` + canaries["URL user:pw@"] + `@127.0.0.1:$P/submit?q=1&password=` + canaries["password= query"] + `" \
  -H "X-Vault-Token: ` + canaries["X-Vault-Token"] + `" \
  -H "X-Amz-Security-Token: ` + canaries["X-Amz-Security-Token"] + `" \
  -H "Private-Token: ` + canaries["Private-Token"] + `" \
  -H "X-Pad: ` + pad + `" \
  -H "X-Call-Id: canary-call-0001" \
  -H "Content-Type: application/json" \
  -d '{"user":"u","password":"` + canaries["JSON password"] + `"}'
curl -s -o /dev/null -H "Authorization: Bearer ` + canaries["Authorization (header)"] + `" "http://127.0.0.1:1/"
cat secret.txt id_ed25519 > /dev/null
CANARY_ENV=` + canaries["environ"] + ` cat /proc/self/environ > /dev/null
env SOME_VAR=` + canaries["env VAR= argv"] + ` true
sh -c 'true --password=` + canaries["--password= flag"] + `'
wait
`
	write("workload.sh", script)

	cmd := exec.Command("strace", append(stracebe.Args(), "sh", filepath.Join(dir, "workload.sh"))...)
	var raw bytes.Buffer
	cmd.Stdout = &raw
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("strace: %v", err)
	}

	// The canaries really were in strace's output: without the scrubber
	// they would leave (this is what makes the test able to fail).
	leaked := 0
	for _, v := range canaries {
		if bytes.Contains(raw.Bytes(), []byte(v)) {
			leaked++
		}
	}
	if leaked < len(canaries)-1 { // base64 hides curl -u's in the request
		t.Fatalf("only %d of %d canaries in strace's raw output: the workload did not run as planned\n%s", leaked, len(canaries), raw.String())
	}

	// The tracer's path.
	meta := chunk.Header{Node: "n1", Function: "canary", Container: "c1", PID: 1, Kind: chunk.KindStrace, Stream: "c1-strace-1"}
	var chunks []chunker.Chunk
	cutter := chunker.NewCutter(chunker.Config{}, meta, func(c chunker.Chunk) { chunks = append(chunks, c) })
	_ = stracebe.Read(bytes.NewReader(raw.Bytes()), cutter.Room(), strace.NewScrubber(), func(u chunker.Unit) { cutter.Add(u, time.Now()) })
	cutter.Flush()
	if len(chunks) == 0 {
		t.Fatal("no chunks")
	}

	forbidden := map[string]string{}
	for k, v := range canaries {
		forbidden[k] = v
	}
	forbidden["curl -u (base64 in the request)"] = base64.StdEncoding.EncodeToString([]byte("user:" + canaries["curl -u"]))
	check := func(where string, data []byte) {
		t.Helper()
		for k, v := range forbidden {
			if bytes.Contains(data, []byte(v)) {
				i := bytes.Index(data, []byte(v))
				t.Errorf("%s leaks the %s canary: …%s…", where, k, data[max(0, i-120):min(len(data), i+60)])
			}
		}
	}

	st := provenance.NewState(meta)
	var b provenance.Builder
	var events []event.Event
	var graphs []provenance.Graph
	for _, c := range chunks {
		check("chunk", c.Body)
		batch, err := ingest.Chunk(c.Header, c.Body)
		if err != nil {
			t.Fatalf("ingest chunk %d: %v", c.Header.Seq, err)
		}
		js, _ := json.Marshal(batch)
		check("event batch", js)
		events = append(events, batch.Events...)
		gs, err := b.Apply(st, batch)
		if err != nil {
			t.Fatalf("graph: %v", err)
		}
		graphs = append(graphs, gs...)
	}
	for _, g := range graphs {
		js, _ := json.Marshal(g)
		check("graph", js)
	}
	js, _ := json.Marshal(st)
	check("graph state", js)

	// What detection needs is still there.
	var sawCall, sawOpen, sawCurl, sawEnviron bool
	for _, e := range events {
		switch {
		case e.CallID == "canary-call-0001":
			sawCall = true
		case e.Syscall == "openat" && strings.HasSuffix(e.Path, "/secret.txt"):
			sawOpen = true
		case e.Syscall == "openat" && strings.HasSuffix(e.Path, "/environ"):
			sawEnviron = true
		case e.Syscall == "execve" && strings.HasSuffix(e.Path, "curl") && strings.Contains(strings.Join(e.Argv, " "), "user:"+strace.Mask):
			sawCurl = true
		}
	}
	if !sawCall {
		t.Error("X-Call-Id (after a 300-byte header, past the old -s 256 cut) not found on the inbound read")
	}
	if !sawOpen || !sawEnviron {
		t.Errorf("open of the secret file (%v) or of environ (%v) missing: the attempt must stay visible", sawOpen, sawEnviron)
	}
	if !sawCurl {
		t.Error("curl's execve with its masked -u missing")
	}
	t.Logf("%d bytes of strace output → %d chunks (%d bytes), %d events, %d graphs", raw.Len(), len(chunks), totalBytes(chunks), len(events), len(graphs))
}

func totalBytes(cs []chunker.Chunk) int {
	n := 0
	for _, c := range cs {
		n += len(c.Body)
	}
	return n
}

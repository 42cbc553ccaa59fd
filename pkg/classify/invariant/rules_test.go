package invariant

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// gb builds small graphs for the rules' edge cases; the real traces in
// testdata cover the main paths end to end.
type gb struct{ g provenance.Graph }

func newGB(w provenance.Window) *gb {
	return &gb{g: provenance.Graph{Version: provenance.SchemaVersion, ID: "g", Function: "fn", Window: w}}
}

func (b *gb) proc(label, exe, spawned string, pid int) int {
	id := len(b.g.Nodes)
	b.g.Nodes = append(b.g.Nodes, provenance.Node{ID: id, Kind: provenance.NodeProcess, Label: label, Exe: exe, PID: pid, Spawned: spawned})
	return id
}

func (b *gb) file(path, label string, written bool) int {
	if label == "" {
		label = path
	}
	class, _ := provenance.DefaultClassifier().File(path)
	id := len(b.g.Nodes)
	b.g.Nodes = append(b.g.Nodes, provenance.Node{ID: id, Kind: provenance.NodeFile, Label: label, Path: path, Class: class, Written: written})
	return id
}

func (b *gb) sock(addr string, class provenance.PathClass) int {
	id := len(b.g.Nodes)
	b.g.Nodes = append(b.g.Nodes, provenance.Node{ID: id, Kind: provenance.NodeSocket, Label: addr, Addr: addr, Class: class})
	return id
}

func (b *gb) edge(src, dst int, k provenance.EdgeKind) *gb {
	b.g.Edges = append(b.g.Edges, provenance.Edge{Src: src, Dst: dst, Kind: k, Count: 1})
	return b
}

func (b *gb) act(a provenance.Act) *gb {
	a.Count = 1
	b.g.Acts = append(b.g.Acts, a)
	return b
}

func TestRules(t *testing.T) {
	inv, bg := provenance.WindowInvocation, provenance.WindowBackground
	for _, tc := range []struct {
		name  string
		build func() *gb
		want  []string
	}{
		{"planted module in the function's code", func() *gb {
			b := newGB(inv)
			p := b.proc("node index.js", "/usr/bin/node", "", 10)
			return b.edge(p, b.file("/home/app/function/rules/velocity-v3.js", "$FUNC/function/rules/velocity-v3.js", true), provenance.EdgeWrite)
		}, []string{"function-code-write"}},
		{"data file in the function dir is not code", func() *gb {
			b := newGB(inv)
			p := b.proc("node index.js", "/usr/bin/node", "", 10)
			return b.edge(p, b.file("/home/app/function/cache/out.png", "$FUNC/function/cache/out.png", true), provenance.EdgeWrite)
		}, nil},
		{"python's own bytecode cache", func() *gb {
			b := newGB(inv)
			p := b.proc("python3 index.py", "/usr/bin/python3.11", "", 10)
			return b.edge(p, b.file("/home/app/function/__pycache__/handler.cpython-311.pyc", "$FUNC/function/__pycache__/handler.cpython-311.pyc", true), provenance.EdgeWrite)
		}, nil},
		{"a refused write to the function's code counts", func() *gb {
			b := newGB(inv)
			p := b.proc("sh -c x", "/usr/bin/sh", "", 10)
			return b.act(provenance.Act{Proc: p, Syscall: "openat", Path: "/home/app/index.js", Label: "$FUNC/index.js", Arg: "O_WRONLY|O_TRUNC", Errno: "EACCES"})
		}, []string{"function-code-write"}},
		{"payload left running after its invocation", func() *gb {
			b := newGB(bg)
			p := b.proc("sh -c while true; do curl ...; done", "/usr/bin/sh", "call-1", 20)
			c := b.proc("curl -s telnet://10.66.0.2:4444", "/usr/bin/curl", "call-1", 21)
			b.edge(p, c, provenance.EdgeFork)
			return b.edge(c, b.sock("10.66.0.2:4444", provenance.ClassExternal), provenance.EdgeConnect)
		}, []string{"outlived-invocation"}},
		{"a child pipeline finishing after the answer is not a payload left running", func() *gb {
			b := newGB(bg)
			p := b.proc("sh /home/app/function/convert-sim.sh --to gif /tmp/photos/up-1.jpg", "/usr/bin/sh", "call-1", 20)
			c := b.proc("sha256sum /tmp/photos/up-1.jpg", "/usr/bin/sha256sum", "call-1", 21)
			b.edge(p, c, provenance.EdgeFork)
			b.edge(b.file("/usr/bin/sha256sum", "", false), c, provenance.EdgeExecve)
			return b.edge(c, b.file("/tmp/photos/up-1.converted", "", true), provenance.EdgeWrite)
		}, nil},
		{"an interpreter reading its data argument is not running a dropped script", func() *gb {
			b := newGB(inv)
			p := b.proc("sh /home/app/function/convert-sim.sh --to gif /tmp/photos/up-1.jpg", "/usr/bin/sh", "call-1", 20)
			b.edge(b.file("/home/app/function/convert-sim.sh", "$FUNC/function/convert-sim.sh", false), p, provenance.EdgeRead)
			return b.edge(b.file("/tmp/photos/up-1.jpg", "", true), p, provenance.EdgeRead)
		}, nil},
		{"a refused executable map of a file in /dev/shm is an attempt to run it", func() *gb {
			b := newGB(inv)
			p := b.proc("python3 loader.py", "/usr/bin/python3", "call-1", 20)
			return b.act(provenance.Act{Proc: p, Syscall: "mmap", Path: "/dev/shm/x.so", Label: "/dev/shm/x.so", Arg: "PROT_READ|PROT_EXEC", Errno: "EPERM"})
		}, []string{"exec-from-writable-dir"}},
		{"an interpreter running a script it dropped", func() *gb {
			b := newGB(inv)
			p := b.proc("sh /tmp/p.sh --quiet", "/usr/bin/sh", "call-1", 20)
			return b.edge(b.file("/tmp/p.sh", "", true), p, provenance.EdgeRead)
		}, []string{"drift-exec", "exec-from-writable-dir"}},
		{"the server's own background work is not outliving", func() *gb {
			b := newGB(bg)
			p := b.proc("attached process", "", "", 1)
			return b.edge(p, b.sock("10.66.0.5:443", provenance.ClassExternal), provenance.EdgeConnect)
		}, nil},
		{"spawned process in the invocation itself is fine", func() *gb {
			b := newGB(inv)
			p := b.proc("sh convert-sim.sh", "/usr/bin/sh", "call-1", 20)
			return b.edge(p, b.file("/tmp/img.png", "", true), provenance.EdgeWrite)
		}, nil},
		{"fileless exec of a memfd", func() *gb {
			b := newGB(inv)
			p := b.proc("x", "/usr/bin/python3", "", 10)
			return b.edge(b.file("/proc/self/fd/3", "/proc/self/fd/3", false), p, provenance.EdgeExecve)
		}, []string{"fileless-exec"}},
		{"npm's .bin shim is not hidden", func() *gb {
			b := newGB(inv)
			p := b.proc("x", "/usr/bin/node", "", 10)
			return b.edge(b.file("/home/app/node_modules/.bin/tsc", "$FUNC/node_modules/.bin/tsc", false), p, provenance.EdgeExecve)
		}, nil},
		{"CA bundles are not private keys, own environ is not another's", func() *gb {
			b := newGB(inv)
			p := b.proc("node index.js", "/usr/bin/node", "", 10)
			b.edge(b.file("/etc/ssl/certs/ca-certificates.pem", "", false), p, provenance.EdgeRead)
			b.edge(b.file("/proc/self/environ", "/proc/self/environ", false), p, provenance.EdgeRead)
			return b.edge(b.file("/proc/10/environ", "/proc/N/environ", false), p, provenance.EdgeRead)
		}, nil},
		{"another process's environ", func() *gb {
			b := newGB(inv)
			p := b.proc("cat /proc/1/environ", "/usr/bin/cat", "", 10)
			return b.edge(b.file("/proc/1/environ", "/proc/N/environ", false), p, provenance.EdgeRead)
		}, []string{"credential-store-read"}},
		{"appending to a log is not tampering, truncating it is", func() *gb {
			b := newGB(inv)
			p := b.proc("sh", "/usr/bin/sh", "", 10)
			b.edge(p, b.file("/var/log/app.log", "", true), provenance.EdgeWrite)
			return b.act(provenance.Act{Proc: p, Syscall: "truncate", Path: "/var/log/auth.log"})
		}, []string{"log-tamper"}},
		{"sniffer, raw socket and ptrace", func() *gb {
			b := newGB(inv)
			p := b.proc("python3 x.py", "/usr/bin/python3", "", 10)
			b.act(provenance.Act{Proc: p, Syscall: "socket", Arg: "PACKET", Errno: "EPERM"})
			b.act(provenance.Act{Proc: p, Syscall: "ptrace", Arg: "PTRACE_ATTACH", Target: 1, Errno: "EPERM"})
			return b.edge(b.file("/usr/bin/tcpdump", "", false), b.proc("tcpdump -i any", "/usr/bin/tcpdump", "", 11), provenance.EdgeExecve)
		}, []string{"network-tool-exec", "ptrace", "raw-socket"}},
		{"setuid bit on a file", func() *gb {
			b := newGB(inv)
			p := b.proc("chmod u+s /tmp/x", "/usr/bin/chmod", "", 10)
			return b.act(provenance.Act{Proc: p, Syscall: "fchmodat", Path: "/tmp/x", Mode: 0o4755})
		}, []string{"set-id"}},
		{"download tool and admin tool", func() *gb {
			b := newGB(inv)
			b.edge(b.file("/usr/bin/wget", "", false), b.proc("wget http://x", "/usr/bin/wget", "", 11), provenance.EdgeExecve)
			return b.edge(b.file("/usr/bin/crontab", "", false), b.proc("crontab /tmp/c", "/usr/bin/crontab", "", 12), provenance.EdgeExecve)
		}, []string{"admin-tool-exec", "ingress-tool-exec"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.build()
			for i := range b.g.Nodes {
				b.g.Nodes[i].ID = i
			}
			if err := b.g.Validate(); err != nil {
				t.Fatal(err)
			}
			got := rulesOf(Check(&b.g))
			if !slices.Equal(got, tc.want) {
				for _, f := range Check(&b.g) {
					t.Logf("%s: %s", f.Rule, f.Text)
				}
				t.Fatalf("rules %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCheckUnvalidated: a graph from outside that was not validated (edges
// and acts pointing nowhere) gives findings or none, never a panic.
func TestCheckUnvalidated(t *testing.T) {
	g := &provenance.Graph{Nodes: []provenance.Node{{Kind: provenance.NodeProcess}},
		Edges: []provenance.Edge{{Src: 0, Dst: 7, Kind: provenance.EdgeExecve}, {Src: -1, Dst: 0, Kind: provenance.EdgeRead}},
		Acts:  []provenance.Act{{Proc: 9, Syscall: "ptrace", Count: 1}, {Proc: -3, Syscall: "openat", Path: "/etc/shadow", Errno: "EACCES"}}}
	_ = Check(g)
	_ = Check(nil)
}

func BenchmarkCheck(b *testing.B) {
	gs := graphsOf(b, "drift")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range gs {
			Check(&gs[j])
		}
	}
}

// TestDocMatchesRules: docs/invariants.md lists every rule with its
// technique, tactic and severity.
func TestDocMatchesRules(t *testing.T) {
	b, err := os.ReadFile("../../../docs/invariants.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules {
		row := fmt.Sprintf("| `%s` | %s | %s | %s |", r.ID, r.Technique, r.Tactic, r.Severity)
		if !strings.Contains(string(b), row) {
			t.Errorf("docs/invariants.md has no row starting %q", row)
		}
	}
}

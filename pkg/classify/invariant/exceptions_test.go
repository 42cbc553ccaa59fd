package invariant

import (
	"errors"
	"testing"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

func TestParseExceptions(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		ok        bool
	}{
		{"good", "exceptions:\n- function: cc\n  rule: function-code-write\n  paths: [\"$FUNC/function/rules/*.js\"]\n  reason: downloads its fraud rules\n", true},
		{"empty file", "", true},
		{"unknown field", "exceptions:\n- function: cc\n  rule: function-code-write\n  paths: [a]\n  reason: r\n  allow_all: true\n", false},
		{"unknown rule", "exceptions:\n- function: cc\n  rule: everything\n  paths: [a]\n  reason: r\n", false},
		{"no reason", "exceptions:\n- function: cc\n  rule: ptrace\n  paths: [a]\n", false},
		{"no paths", "exceptions:\n- function: cc\n  rule: ptrace\n  reason: r\n", false},
		{"everything", "exceptions:\n- function: cc\n  rule: drift-exec\n  paths: [\"*\"]\n  reason: r\n", false},
		{"bad pattern", "exceptions:\n- function: cc\n  rule: drift-exec\n  paths: [\"[\"]\n  reason: r\n", false},
		{"wildcard function", "exceptions:\n- function: \"*\"\n  rule: drift-exec\n  paths: [a]\n  reason: r\n", false},
		{"not YAML", "{{{", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseExceptions([]byte(tc.doc))
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrExceptions)) {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestExceptionIsNarrow: an exception silences its rule on its paths for
// its function, and nothing else.
func TestExceptionIsNarrow(t *testing.T) {
	x, err := ParseExceptions([]byte("exceptions:\n- function: fn\n  rule: function-code-write\n  paths: [\"$FUNC/function/rules/*.js\"]\n  reason: downloads its fraud rules\n"))
	if err != nil {
		t.Fatal(err)
	}
	build := func(fn, label string) *provenance.Graph {
		b := newGB(provenance.WindowInvocation)
		b.g.Function = fn
		p := b.proc("node index.js", "/usr/bin/node", "", 10)
		b.edge(p, b.file("/home/app/"+label[len("$FUNC/"):], label, true), provenance.EdgeWrite)
		b.act(provenance.Act{Proc: p, Syscall: "openat", Path: "/etc/shadow", Errno: "EACCES"})
		return &b.g
	}
	for _, tc := range []struct {
		name, fn, label string
		want            []string
	}{
		{"excepted path", "fn", "$FUNC/function/rules/velocity-v2.js", []string{"credential-store-read"}},
		{"other path of the function's code", "fn", "$FUNC/function/handler.js", []string{"credential-store-read", "function-code-write"}},
		{"another function", "other", "$FUNC/function/rules/velocity-v2.js", []string{"credential-store-read", "function-code-write"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rulesOf(CheckWith(build(tc.fn, tc.label), x))
			if len(got) != len(tc.want) {
				t.Fatalf("rules %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("rules %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func FuzzParseExceptions(f *testing.F) {
	f.Add([]byte("exceptions:\n- function: cc\n  rule: function-code-write\n  paths: [\"$FUNC/x/*.js\"]\n  reason: r\n"))
	f.Add([]byte("exceptions: [{function: a, rule: ptrace, paths: [b], reason: c}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ParseExceptions(b)
		if err == nil {
			g := &provenance.Graph{Function: "cc"}
			_ = CheckWith(g, x)
		}
	})
}

// TestLabExceptionsFile: the lab app's reviewed exceptions load.
func TestLabExceptionsFile(t *testing.T) {
	x, err := LoadExceptions("../../../tests/lab/invariant-exceptions.yaml")
	if err != nil || len(x.Exceptions) == 0 {
		t.Fatalf("%v, %+v", err, x)
	}
}

package provenance

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// allControls is every C0 control character, DEL and every C1 control
// character, in order.
func allControls() string {
	var b strings.Builder
	for r := rune(0); r < 0x20; r++ {
		b.WriteRune(r)
	}
	b.WriteRune(0x7f)
	for r := rune(0x80); r < 0xa0; r++ {
		b.WriteRune(r)
	}
	return b.String()
}

// hostileLabels are what a traced program can put in a label (its argv, a
// file name, a DNS answer): each with the DOT quoted string DOTQuote must
// write. Graphviz shows \\ as a backslash, \" as a quote and \n as a line
// break, so "shown" is what the reader of the rendered graph sees.
var hostileLabels = []struct {
	name, in, want string
}{
	{"plain", "/usr/bin/python3", `"/usr/bin/python3"`},
	{"empty", "", `""`},
	{"quote closes the label", `/tmp/"];n9 [label="x`, `"/tmp/\"];n9 [label=\"x"`},
	{"backslashes", `C:\Users\a\\b`, `"C:\\Users\\a\\\\b"`},
	{"trailing backslash would eat the closing quote", `/tmp/a\`, `"/tmp/a\\"`},
	{"escaped quote stays escaped", `a\"b`, `"a\\\"b"`},
	{"newline is a line break", "line1\nline2", `"line1\nline2"`},
	{"carriage return", "a\rb", `"a\\x0db"`},
	{"NUL", "a\x00b", `"a\\x00b"`},
	{"escape sequence", "\x1b[31mred\x1b[0m", `"\\x1b[31mred\\x1b[0m"`},
	{"tab and DEL", "a\tb\x7f", `"a\\x09b\\x7f"`},
	{"C1 next-line", "a\u0085b", `"a\\x85b"`},
	{"bidi override", "evil\u202etxt.sh", `"evil\\u202etxt.sh"`},
	{"zero-width space", "ba\u200bsh", `"ba\\u200bsh"`},
	{"line separator", "a\u2028b", `"a\\u2028b"`},
	{"invalid UTF-8 byte", "a\xffb", `"a\\xffb"`},
	{"truncated UTF-8 sequence", "a\xe2\x82", `"a\\xe2\\x82"`},
	{"valid non-ASCII is kept", "café ×3 → 日本", `"café ×3 → 日本"`},
	{"DOT keywords and HTML-like label", "<b>digraph</b> } {", `"<b>digraph</b> } {"`},
}

func TestDOTQuote(t *testing.T) {
	for _, tc := range hostileLabels {
		t.Run(tc.name, func(t *testing.T) {
			got := DOTQuote(tc.in)
			if got != tc.want {
				t.Errorf("DOTQuote(%q) = %s, want %s", tc.in, got, tc.want)
			}
			checkQuoted(t, got)
		})
	}
	t.Run("every control character", func(t *testing.T) {
		got := DOTQuote(allControls())
		checkQuoted(t, got)
		// 65 characters, the newline as \n, the others as \\xNN.
		if n := strings.Count(got, `\\x`); n != 64 || !strings.Contains(got, `\n`) {
			t.Errorf("%d characters escaped as \\\\xNN, want 64: %s", n, got)
		}
	})
}

// checkQuoted fails unless q is one DOT double-quoted string in which every
// quote and backslash is escaped, with nothing a terminal or a viewer
// would interpret: valid UTF-8 without control or format characters.
func checkQuoted(t *testing.T, q string) {
	t.Helper()
	if !utf8.ValidString(q) {
		t.Errorf("not valid UTF-8: %q", q)
	}
	for _, r := range q {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Errorf("raw %U in %q", r, q)
		}
	}
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		t.Fatalf("not a quoted string: %q", q)
	}
	in := q[1 : len(q)-1]
	for i := 0; i < len(in); i++ {
		switch in[i] {
		case '\\':
			if i+1 == len(in) {
				t.Errorf("backslash escapes the closing quote: %q", q)
			}
			i++ // the escaped character
		case '"':
			t.Errorf("unescaped quote at %d ends the string early: %q", i+1, q)
		}
	}
}

// TestDOTHostileGraph renders a graph whose every label is hostile, of
// every node kind and one unknown, and has Graphviz parse it when it is
// installed: one graph, every node and edge where it belongs.
func TestDOTHostileGraph(t *testing.T) {
	g := &Graph{Version: SchemaVersion, Function: "f\"n\n", Window: WindowInvocation, CallID: "c\x00\\"}
	kinds := []NodeKind{NodeProcess, NodeFile, NodeSocket, NodePipe, NodeKind("mystery\"")}
	labels := []string{allControls()}
	for _, tc := range hostileLabels {
		labels = append(labels, tc.in)
	}
	for i, l := range labels {
		g.Nodes = append(g.Nodes, Node{ID: i, Kind: kinds[i%len(kinds)], Label: l, DNS: l})
		if i > 0 {
			g.Edges = append(g.Edges, Edge{Src: i - 1, Dst: i, Kind: EdgeKind("x\"\n" + l), Count: i})
		}
	}
	var sb strings.Builder
	if err := DOT(&sb, g, map[int]bool{0: true, 1: true}); err != nil {
		t.Fatal(err)
	}
	dot := sb.String()
	if !utf8.ValidString(dot) {
		t.Errorf("DOT not valid UTF-8")
	}
	for _, k := range kinds {
		if want := "shape=" + NodeShape(k) + ","; !strings.Contains(dot, want) {
			t.Errorf("no %q for kind %q", want, k)
		}
	}
	if NodeShape("mystery\"") != "ellipse" {
		t.Errorf("unknown kind drawn as %q", NodeShape("mystery\""))
	}
	dotBin, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz dot not installed: DOT checked textually only")
	}
	cmd := exec.Command(dotBin, "-Tcanon")
	cmd.Stdin = strings.NewReader(dot)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("dot -Tcanon: %v %s\n%s", err, errb.String(), dot)
	}
	// Graphviz read as many nodes and edges as were written: no label
	// escaped its quotes to add or end statements.
	canon := out.String()
	if n := strings.Count(canon, " -> "); n != len(g.Edges) {
		t.Errorf("graphviz read %d edges, wrote %d", n, len(g.Edges))
	}
	for i := range g.Nodes {
		if !strings.Contains(canon, "\tn"+itoa(i)+"\t[") {
			t.Errorf("graphviz lost node n%d", i)
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func FuzzDOTQuote(f *testing.F) {
	for _, tc := range hostileLabels {
		f.Add(tc.in)
	}
	f.Add(allControls())
	f.Fuzz(func(t *testing.T, s string) {
		checkQuoted(t, DOTQuote(s))
	})
}

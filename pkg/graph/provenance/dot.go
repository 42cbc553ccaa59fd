package provenance

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DOT writes g in Graphviz's language. highlight marks nodes (by id) that an
// explanation named, so a person sees the suspicious part at once.
func DOT(w io.Writer, g *Graph, highlight map[int]bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n", "g")
	fmt.Fprintf(&b, "  label=%s; labelloc=t; rankdir=LR; fontname=Helvetica;\n",
		DOTQuote(fmt.Sprintf("%s %s %s", g.Function, g.Window, g.CallID)))
	b.WriteString("  node [fontname=Helvetica, fontsize=10]; edge [fontname=Helvetica, fontsize=9];\n")
	for _, n := range g.Nodes {
		label := n.Label
		if n.DNS != "" {
			label += "\n" + n.DNS
		}
		attrs := fmt.Sprintf("shape=%s, label=%s", NodeShape(n.Kind), DOTQuote(label))
		if highlight[n.ID] {
			attrs += `, style=filled, fillcolor="#f8c4c4", color="#c00000", penwidth=2`
		}
		fmt.Fprintf(&b, "  n%d [%s];\n", n.ID, attrs)
	}
	for _, e := range g.Edges {
		label := string(e.Kind)
		if e.Count > 1 {
			label += fmt.Sprintf(" ×%d", e.Count)
		}
		attrs := "label=" + DOTQuote(label)
		if highlight[e.Src] && highlight[e.Dst] {
			attrs += `, color="#c00000", penwidth=2`
		}
		fmt.Fprintf(&b, "  n%d -> n%d [%s];\n", e.Src, e.Dst, attrs)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// nodeShapes are the Graphviz shapes of the node kinds, the same in every
// DOT faasmon writes (the whole graph here, an alert's subgraph in
// pkg/alert), so that a reader learns them once.
var nodeShapes = map[NodeKind]string{
	NodeProcess: "box",
	NodeFile:    "note",
	NodeSocket:  "diamond",
	NodePipe:    "cds",
}

// NodeShape is the Graphviz shape of a node of kind k; "ellipse" for a
// kind without one, so that the DOT stays valid whatever the kind.
func NodeShape(k NodeKind) string {
	if s, ok := nodeShapes[k]; ok {
		return s
	}
	return "ellipse"
}

// DOTQuote makes any string a valid DOT double-quoted string that shows
// what the string holds: labels come from traces, which an attacker
// controls. '"' and '\\' are escaped, a newline becomes DOT's \n line break,
// and everything that could break the file or mislead its reader is
// written out as visible text instead of passed through: C0 and C1 control
// characters and DEL (\\xNN in the source, shown as \xNN), Unicode format
// characters such as bidi overrides and zero-width spaces, and the line
// and paragraph separators U+2028 and U+2029 (\\uNNNN), and
// each byte of invalid UTF-8 (\\xNN), so that the output is valid UTF-8.
func DOTQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, "\\\\x%02x", s[i])
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, "\\\\x%02x", r)
		case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			fmt.Fprintf(&b, "\\\\u%04x", r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

package provenance

import (
	"fmt"
	"io"
	"strings"
)

// DOT writes g in Graphviz's language. highlight marks nodes (by id) that an
// explanation named, so a person sees the suspicious part at once.
func DOT(w io.Writer, g *Graph, highlight map[int]bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n", "g")
	fmt.Fprintf(&b, "  label=%s; labelloc=t; rankdir=LR; fontname=Helvetica;\n",
		quote(fmt.Sprintf("%s %s %s", g.Function, g.Window, g.CallID)))
	b.WriteString("  node [fontname=Helvetica, fontsize=10]; edge [fontname=Helvetica, fontsize=9];\n")
	for _, n := range g.Nodes {
		shape := map[NodeKind]string{NodeProcess: "box", NodeFile: "note", NodeSocket: "diamond", NodePipe: "cds"}[n.Kind]
		label := n.Label
		if n.DNS != "" {
			label += "\n" + n.DNS
		}
		attrs := fmt.Sprintf("shape=%s, label=%s", shape, quote(label))
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
		attrs := "label=" + quote(label)
		if highlight[e.Src] && highlight[e.Dst] {
			attrs += `, color="#c00000", penwidth=2`
		}
		fmt.Fprintf(&b, "  n%d -> n%d [%s];\n", e.Src, e.Dst, attrs)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// quote makes any string a valid DOT quoted string: labels come from traces,
// which an attacker controls.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

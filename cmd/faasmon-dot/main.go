package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

func main() {
	in := flag.String("in", "-", "graph JSON file, - for stdin")
	svg := flag.String("svg", "", "write SVG here (needs Graphviz dot) instead of DOT on stdout")
	hide := flag.String("hide", "", "comma-separated file classes to leave out for readability, e.g. syslib,proc,etc")
	flag.Parse()
	if err := run(*in, *svg, *hide); err != nil {
		fmt.Fprintln(os.Stderr, "faasmon-dot:", err)
		os.Exit(1)
	}
}

func run(in, svg, hide string) error {
	var r io.Reader = os.Stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	var g provenance.Graph
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	if err := dec.Decode(&g); err != nil {
		return fmt.Errorf("decode graph %s: %w", in, err)
	}
	if err := g.Validate(); err != nil {
		return fmt.Errorf("graph %s: %w", in, err)
	}
	if hide != "" {
		g = without(g, strings.Split(hide, ","))
	}
	var dot bytes.Buffer
	if err := provenance.DOT(&dot, &g, nil); err != nil {
		return err
	}
	if svg == "" {
		_, err := os.Stdout.Write(dot.Bytes())
		return err
	}
	cmd := exec.Command("dot", "-Tsvg", "-o", svg)
	cmd.Stdin = &dot
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("graphviz dot: %w", err)
	}
	return nil
}

// without drops file nodes of the given classes and their edges: a Node.js
// process opens hundreds of library files that hide the story.
func without(g provenance.Graph, classes []string) provenance.Graph {
	drop := map[provenance.PathClass]bool{}
	for _, c := range classes {
		drop[provenance.PathClass(strings.TrimSpace(c))] = true
	}
	out := g
	out.Nodes, out.Edges = nil, nil
	id := make([]int, len(g.Nodes))
	for i, n := range g.Nodes {
		id[i] = -1
		if n.Kind == provenance.NodeFile && drop[n.Class] {
			continue
		}
		id[i] = len(out.Nodes)
		n.ID = id[i]
		out.Nodes = append(out.Nodes, n)
	}
	for _, e := range g.Edges {
		if id[e.Src] < 0 || id[e.Dst] < 0 {
			continue
		}
		e.Src, e.Dst = id[e.Src], id[e.Dst]
		out.Edges = append(out.Edges, e)
	}
	return out
}

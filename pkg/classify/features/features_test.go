package features

import (
	"errors"
	"slices"
	"testing"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

func sample() *provenance.Graph {
	return &provenance.Graph{Version: provenance.SchemaVersion, Nodes: []provenance.Node{
		{ID: 0, Kind: provenance.NodeProcess, Label: "node index.js", Exe: "/usr/local/bin/node", Argv0: "node"},
		{ID: 1, Kind: provenance.NodeFile, Label: "/tmp/p123.sh", Class: provenance.ClassTmp},
		{ID: 2, Kind: provenance.NodeSocket, Label: "203.0.113.7:4444", Class: provenance.ClassExternal, Packets: 10, Bytes: 5000},
	}, Edges: []provenance.Edge{
		{Src: 0, Dst: 1, Kind: provenance.EdgeWrite, Count: 2, Bytes: 100},
		{Src: 0, Dst: 1, Kind: provenance.EdgeWrite, Count: 1, Bytes: 50}, // merged
		{Src: 0, Dst: 2, Kind: provenance.EdgeConnect, Count: 1},
		{Src: 2, Dst: 0, Kind: provenance.EdgeRecv, Count: 3, Bytes: 900},
	}}
}

func TestExtract(t *testing.T) {
	f, err := Extract(sample())
	if err != nil {
		t.Fatal(err)
	}
	if Dim != 112 || len(f.X) != 3*Dim {
		t.Fatalf("Dim %d, len %d", Dim, len(f.X))
	}
	r1 := f.Row(1)
	if r1[OffKind+1] != 1 || r1[OffClass+1] != 1 {
		t.Error("file/tmp one-hot")
	}
	if f.Row(0)[OffClass+len(PathClasses)] != 1 {
		t.Error("process has class none")
	}
	w := slices.Index(provenance.EdgeKinds, provenance.EdgeWrite)
	if r1[OffDegree+2*w] == 0 || f.Row(0)[OffDegree+2*w+1] == 0 {
		t.Error("write degree")
	}
	a := &f.Adj[w]
	if a.RowPtr[1]-a.RowPtr[0] != 1 || a.Count[0] != 3 || a.Edge[0] != 0 {
		t.Errorf("merged write adjacency %+v", a)
	}
	f2, _ := Extract(sample())
	if !slices.Equal(f.X, f2.X) {
		t.Error("not deterministic")
	}
	for c := 0; c < Dim; c++ {
		if Describe(c) == "" {
			t.Fatal(c)
		}
	}
	toks := NodeTokens(&sample().Nodes[2], nil)
	if !slices.Contains(toks, "port:reg") {
		t.Errorf("tokens %v", toks)
	}
	if got := Tokens("l:", "/tmp/P123.sh", nil); !slices.Equal(got, []string{"l:tmp", "l:p0", "l:sh", "l:b:p0.sh", "l:x:sh"}) {
		t.Errorf("tokens %v", got)
	}
	bad := sample()
	bad.Edges[0].Dst = 9
	if _, err := Extract(bad); !errors.Is(err, provenance.ErrInvalid) {
		t.Errorf("invalid graph: %v", err)
	}
}

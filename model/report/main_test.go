package main

import (
	"strings"
	"testing"

	"github.com/faasmon/faasmon/pkg/classify/gnn"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

func ex(fn, label string) gnn.Example {
	y := 0
	if label == "attack" {
		y = 1
	}
	return gnn.Example{Graph: &provenance.Graph{ID: fn + "-1", Function: fn, Label: label}, Label: y}
}

// TestDisjoint: the held-out public functions never feed training, and the
// pool and the held-out set are benign only.
func TestDisjoint(t *testing.T) {
	lab := []gnn.Example{ex("photo-receive", "benign"), ex("photo-receive", "attack")}
	for _, c := range []struct {
		name       string
		pool, held []gnn.Example
		want       string // "" = accepted
	}{
		{"disjoint", []gnn.Example{ex("pool-go-echo", "benign")}, []gnn.Example{ex("cows", "benign")}, ""},
		{"no pool", nil, []gnn.Example{ex("cows", "benign")}, ""},
		{"held-out function in the pool", []gnn.Example{ex("cows", "benign")}, []gnn.Example{ex("cows", "benign")}, "-pool holds graphs of held-out functions [cows]"},
		{"held-out function in the lab data", nil, []gnn.Example{ex("photo-receive", "benign")}, "-data holds graphs of held-out functions [photo-receive]"},
		{"attack in the pool", []gnn.Example{ex("pool-go-echo", "attack")}, nil, "the pool is benign only"},
		{"attack in the held-out set", nil, []gnn.Example{ex("cows", "attack")}, "the held-out set is benign"},
	} {
		err := disjoint(lab, c.pool, c.held)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
}

package profile_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/faasmon/faasmon/pkg/classify/profile"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// A classifier hands every graph to a Learner with the function's version;
// once the profile is armed, deviations come back as findings.
func Example() {
	data, err := os.ReadFile("../../../tests/e2e/testdata/attack3-photo-receive.json")
	if err != nil {
		panic(err)
	}
	var attack provenance.Graph
	if err := json.Unmarshal(data, &attack); err != nil {
		panic(err)
	}
	// The benign call of the same function: the attack graph without the
	// injected commands (its own converter and nothing else).
	benign := attack
	benign.Nodes, benign.Edges = nil, nil
	keep := map[int]int{}
	for _, n := range attack.Nodes {
		if n.Kind == provenance.NodeProcess && n.Exe != "" && n.Exe != "/bin/sh" {
			continue
		}
		keep[n.ID] = len(benign.Nodes)
		n.ID = len(benign.Nodes)
		benign.Nodes = append(benign.Nodes, n)
	}
	for _, e := range attack.Edges {
		s, ok1 := keep[e.Src]
		d, ok2 := keep[e.Dst]
		if ok1 && ok2 {
			e.Src, e.Dst = s, d
			benign.Edges = append(benign.Edges, e)
		}
	}

	dir, _ := os.MkdirTemp("", "profiles")
	defer os.RemoveAll(dir)
	l := &profile.Learner{Store: profile.FileStore{Dir: dir}, Config: profile.Config{LearnGraphs: 25}}
	for i := 0; i < 25; i++ {
		if _, err := l.Observe("ghcr.io/acme/photo-receive@sha256:ab12", &benign, nil, true); err != nil {
			panic(err)
		}
	}
	res, err := l.Observe("ghcr.io/acme/photo-receive@sha256:ab12", &attack, nil, true)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.State)
	for _, f := range res.Findings[:3] {
		fmt.Println(f.Rule + ": " + f.Text)
	}
	// Output:
	// armed
	// count: photo-receive had 11 executions in one invocation window; at most 1 in 25 learnt graphs
	// count: photo-receive had 13 processes in one invocation window; at most 5 in 25 learnt graphs
	// exe: photo-receive ran /usr/bin/nohup from sh for the first time; it runs: sh
}

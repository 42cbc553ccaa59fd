package gnn

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/faasmon/faasmon/pkg/provenance"
)

// LoadDir reads every *.json file under dir (recursively, in sorted path
// order, so that splits are deterministic) as one labelled provenance.Graph
// and returns the examples, skipping those whose Scenario is in exclude.
func LoadDir(dir string, exclude []string) ([]Example, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	var out []Example
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var g provenance.Graph
		if err := json.Unmarshal(data, &g); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if slices.Contains(exclude, g.Scenario) {
			continue
		}
		e, err := NewExample(&g)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no graphs (*.json) under %s", dir)
	}
	return out, nil
}

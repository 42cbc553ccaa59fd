package gnn

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// LoadDir reads every *.json file under the comma-separated directories
// dirs (recursively; each directory in sorted path order, the directories
// in the order given, so that splits are deterministic) as one labelled
// provenance.Graph and returns the examples, skipping those whose Scenario
// is in exclude.
func LoadDir(dirs string, exclude []string) ([]Example, error) {
	var paths []string
	for _, dir := range strings.Split(dirs, ",") {
		var ps []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".json") {
				ps = append(ps, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.Sort(ps)
		paths = append(paths, ps...)
	}
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
		return nil, fmt.Errorf("no graphs (*.json) under %s", dirs)
	}
	return out, nil
}

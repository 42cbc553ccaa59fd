package function

import (
	"fmt"
	"io"
	"net/http"

	"gopkg.in/yaml.v3"
)

// Handle reads a YAML mapping and answers its number of keys.
func Handle(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "dep %d", len(m))
}

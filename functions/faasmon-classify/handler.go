// Package function is the faasmon-classify OpenFaaS function (template
// faasmon-go). Placeholder: it answers a health document on GET until its
// stage is implemented.
package function

import (
	"encoding/json"
	"net/http"
)

// Handle serves the function.
func Handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "faasmon-classify: not implemented yet", http.StatusNotImplemented)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"function": "faasmon-classify", "status": "ok"})
}

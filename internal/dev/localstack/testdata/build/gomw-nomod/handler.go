package function

import (
	"fmt"
	"io"
	"net/http"
)

// Handle echoes the body's length and the method.
func Handle(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "nomod %s %d", r.Method, len(b))
}

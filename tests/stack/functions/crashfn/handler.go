package function

import (
	"fmt"
	"net/http"
	"os"
)

func init() {
	fmt.Fprintln(os.Stderr, "crashfn: refusing to start (on purpose)")
	os.Exit(3)
}

// Handle is never reached.
func Handle(w http.ResponseWriter, r *http.Request) {}

package function

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
)

// Handle answers GET with facts about its process; POST echoes the body.
func Handle(w http.ResponseWriter, r *http.Request) {
	const marker = "/tmp/faasmon-test-marker"
	switch r.Method {
	case http.MethodGet:
		if r.URL.Query().Get("write") == "1" {
			_ = os.WriteFile(marker, []byte("left behind"), 0o644)
		}
		_, err := os.Stat(marker)
		secret, serr := os.ReadFile("/var/openfaas/secrets/faasmon-gateway-auth")
		werr := os.WriteFile("/var/openfaas/secrets/x", nil, 0o644)
		wd, _ := os.Getwd()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"uid":             os.Getuid(),
			"home":            os.Getenv("HOME"),
			"cwd":             wd,
			"path":            r.URL.Path,
			"callId":          r.Header.Get("X-Call-Id"),
			"marker":          err == nil,
			"secretReadable":  serr == nil && len(secret) > 0,
			"secretsWritable": werr == nil,
			"greeting":        os.Getenv("greeting"),
		})
	case http.MethodPost:
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(append([]byte("echo:"), body...))
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

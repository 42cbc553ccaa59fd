package invoke

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The files of the gateway's admin credentials, as OpenFaaS mounts them in
// its secret_mount_path (faas-netes' basic-auth secret; the local stack's
// /tmp/faasmon-stack/auth).
const (
	BasicAuthUserFile     = "basic-auth-user"
	BasicAuthPasswordFile = "basic-auth-password"
)

// BasicAuth is the gateway's admin user and password.
type BasicAuth struct {
	User, Password string
}

// ReadBasicAuth reads the credentials from dir (BasicAuthUserFile,
// BasicAuthPasswordFile), trimming the newline an editor or
// `kubectl create secret --from-file` leaves. Missing or empty is an error:
// a client without them would get 401s far from the cause.
func ReadBasicAuth(dir string) (BasicAuth, error) {
	var out [2]string
	for i, name := range []string{BasicAuthUserFile, BasicAuthPasswordFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return BasicAuth{}, fmt.Errorf("read gateway credentials: %w", err)
		}
		out[i] = strings.TrimSpace(string(b))
		if out[i] == "" {
			return BasicAuth{}, fmt.Errorf("read gateway credentials: %s is empty", filepath.Join(dir, name))
		}
	}
	return BasicAuth{User: out[0], Password: out[1]}, nil
}

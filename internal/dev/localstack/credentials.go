package localstack

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/invoke"
)

// Credentials are the gateway's basic-auth user and password.
type Credentials struct {
	User     string
	Password string
}

// EnsureCredentials generates the credentials once (random password) and
// writes them where the gateway, the provider and the queue-worker read them
// (secret_mount_path: basic-auth-user, basic-auth-password) plus a
// credentials.env for people and scripts. Later calls read them back, so the
// password survives down/up.
func EnsureCredentials(d Dirs) (Credentials, error) {
	if c, err := ReadCredentials(d); err == nil {
		return c, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, err
	}
	buf := make([]byte, 20)
	if _, err := rand.Read(buf); err != nil {
		return Credentials{}, fmt.Errorf("generate password: %w", err)
	}
	c := Credentials{User: "admin", Password: hex.EncodeToString(buf)}
	if err := os.MkdirAll(d.Secrets(), 0o700); err != nil {
		return Credentials{}, fmt.Errorf("create %s: %w", d.Secrets(), err)
	}
	files := map[string]string{
		filepath.Join(d.Secrets(), invoke.BasicAuthUserFile):     c.User,
		filepath.Join(d.Secrets(), invoke.BasicAuthPasswordFile): c.Password,
		d.CredentialsFile(): fmt.Sprintf("OPENFAAS_URL=%s\nOPENFAAS_USER=%s\nOPENFAAS_PASSWORD=%s\n", GatewayURL, c.User, c.Password),
	}
	for p, v := range files {
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			return Credentials{}, fmt.Errorf("write %s: %w", p, err)
		}
	}
	return c, nil
}

// ReadCredentials reads the credentials written by EnsureCredentials, as
// every gateway client reads them (invoke.ReadBasicAuth).
func ReadCredentials(d Dirs) (Credentials, error) {
	a, err := invoke.ReadBasicAuth(d.Secrets())
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{User: a.User, Password: a.Password}, nil
}

// HopKeyFile is the stack's hop key (pkg/hopauth): the tracer reads it from
// Secrets() (-secret-dir), and the deploy step gives the detector functions
// the same value as the OpenFaaS secret hopauth.SecretName.
func (d Dirs) HopKeyFile() string { return filepath.Join(d.Secrets(), hopauth.SecretName) }

// EnsureHopKey generates the stack's hop key once (one random "id:secret"
// line, 0600) and returns the file's content. Later calls read it back, so
// the key survives down/up; rotate it with hopauth's file format by hand.
func EnsureHopKey(d Dirs) ([]byte, error) {
	if b, err := os.ReadFile(d.HopKeyFile()); err == nil {
		if _, err := hopauth.ParseKeys(b); err != nil {
			return nil, fmt.Errorf("%s: %w", d.HopKeyFile(), err)
		}
		return b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	line, err := hopauth.GenerateKey("local-1")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(d.Secrets(), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", d.Secrets(), err)
	}
	b := []byte(line + "\n")
	if err := os.WriteFile(d.HopKeyFile(), b, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", d.HopKeyFile(), err)
	}
	return b, nil
}

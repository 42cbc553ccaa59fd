package localstack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/openfaas/faas-provider/types"
)

// The provider's secret store is one root-only file per secret under
// <state>/function-secrets; each instance gets copies readable by the
// function user only, bound read-only at /var/openfaas/secrets/<name>.

func (p *Provider) secretPath(name string) string { return filepath.Join(p.dirs.FnSecrets(), name) }

func (p *Provider) listSecrets() ([]types.Secret, error) {
	entries, err := os.ReadDir(p.dirs.FnSecrets())
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	out := []types.Secret{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			out = append(out, types.Secret{Name: e.Name(), Namespace: DefaultNamespace})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// putSecret creates (create=true: 409 when it exists) or updates (404 when
// missing) a secret. Running instances keep the value they started with,
// as mounted secrets of a running pod do until it restarts.
func (p *Provider) putSecret(s types.Secret, create bool) error {
	if !nameRE.MatchString(s.Name) {
		return badRequest("invalid secret name %q", s.Name)
	}
	if s.Namespace != "" && s.Namespace != DefaultNamespace {
		return badRequest("namespace %q not supported", s.Namespace)
	}
	value := s.RawValue
	if len(value) == 0 {
		value = []byte(s.Value)
	}
	_, err := os.Stat(p.secretPath(s.Name))
	exists := err == nil
	if create && exists {
		return &requestError{status: 409, msg: fmt.Sprintf("secret %s already exists", s.Name)}
	}
	if !create && !exists {
		return notFound("secret %s not found", s.Name)
	}
	if err := os.WriteFile(p.secretPath(s.Name), value, 0o600); err != nil {
		return fmt.Errorf("write secret %s: %w", s.Name, err)
	}
	return nil
}

func (p *Provider) deleteSecret(name string) error {
	if !nameRE.MatchString(name) {
		return badRequest("invalid secret name %q", name)
	}
	err := os.Remove(p.secretPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return notFound("secret %s not found", name)
	}
	return err
}

// materialiseSecrets copies the named secrets into dir, owned root with the
// function's group, 0440: readable by the function, not writable.
func (p *Provider) materialiseSecrets(dir string, names []string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("secrets dir: %w", err)
	}
	if err := os.Chown(dir, 0, p.user.GID); err != nil {
		return fmt.Errorf("secrets dir: %w", err)
	}
	for _, n := range names {
		b, err := os.ReadFile(p.secretPath(n))
		if err != nil {
			return badRequest("secret %q not found", n)
		}
		dst := filepath.Join(dir, n)
		if err := os.WriteFile(dst, b, 0o440); err != nil {
			return fmt.Errorf("secret %s: %w", n, err)
		}
		if err := os.Chown(dst, 0, p.user.GID); err != nil {
			return fmt.Errorf("secret %s: %w", n, err)
		}
	}
	return nil
}

package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/openfaas/faas-provider/types"
	sdk "github.com/openfaas/go-sdk"
	"github.com/openfaas/go-sdk/stack"

	"github.com/faasmon/faasmon/pkg/hopauth"
)

// GatewaySecretName is the secret the deploy step creates (when a function
// asks for it) holding the gateway's basic auth as "user:password", for
// functions that call the gateway's authenticated API.
const GatewaySecretName = "faasmon-gateway-auth"

// Client returns a go-sdk client for the local gateway with the stack's
// credentials.
func Client(d Dirs) (*sdk.Client, error) {
	c, err := ReadCredentials(d)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(GatewayURL)
	return sdk.NewClient(u, &sdk.BasicAuth{Username: c.User, Password: c.Password}, &http.Client{Timeout: 5 * time.Minute}), nil
}

// ProviderClient returns a go-sdk client that talks to the provider
// directly (same API, same credentials). It exists for scale-to-zero: the CE
// gateway (scaling/ranges.go) raises every scale request below 1 replica to
// 1, as scaling to zero is an OpenFaaS Pro feature; the provider itself
// honours 0.
func ProviderClient(d Dirs) (*sdk.Client, error) {
	c, err := ReadCredentials(d)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(ProviderURL)
	return sdk.NewClient(u, &sdk.BasicAuth{Username: c.User, Password: c.Password}, &http.Client{Timeout: 5 * time.Minute}), nil
}

// DeployOptions configure DeployStack.
type DeployOptions struct {
	StackFile  string
	Filter     string // glob on function names, as faas-cli --filter; empty: all
	Repo       string
	Dirs       Dirs
	SecretsDir string    // optional: files named after secrets the stack needs
	Log        io.Writer // build and progress output; nil discards
	// Env overrides environment variables of every function deployed, as
	// faas-cli deploy --env does.
	Env map[string]string
}

// DeployStack is faas-cli up for the local stack: it parses the stack file
// with go-sdk's stack package, builds each function into <state>/build and
// deploys it through the gateway (image "local:<artefact dir>"), creating
// the secrets it names when missing. It returns the functions deployed.
func DeployStack(ctx context.Context, o DeployOptions) ([]string, error) {
	abs, err := filepath.Abs(o.StackFile)
	if err != nil {
		return nil, err
	}
	services, err := stack.ParseYAMLFile(abs, "", o.Filter, true)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", o.StackFile, err)
	}
	if len(services.Functions) == 0 {
		return nil, fmt.Errorf("%s: no functions (filter %q)", o.StackFile, o.Filter)
	}
	client, err := Client(o.Dirs)
	if err != nil {
		return nil, err
	}
	b := Builder{Repo: o.Repo, BuildRoot: o.Dirs.Build(), Log: o.Log}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	names := make([]string, 0, len(services.Functions))
	for n := range services.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	// Refuse a stack with a lang the builder does not know before building
	// anything, naming every such function (faas-cli --filter picks the
	// others).
	var unknown []string
	for _, name := range names {
		if _, err := TemplateFor(services.Functions[name].Language); err != nil {
			unknown = append(unknown, name+" ("+services.Functions[name].Language+")")
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s: the local builder cannot build %s: it knows %s (dockerfile and other image-only langs need a container runtime); deploy the others with --filter",
			o.StackFile, strings.Join(unknown, ", "), strings.Join(KnownLangs(), ", "))
	}
	var deployed []string
	for _, name := range names {
		fn := services.Functions[name]
		t0 := time.Now()
		artefact, err := b.Build(ctx, BuildSpec{Name: name, Lang: fn.Language, Handler: fn.Handler, BaseDir: filepath.Dir(abs)})
		if err != nil {
			return deployed, err
		}
		fmt.Fprintf(logw, "built %s (%s) in %s\n", name, fn.Language, time.Since(t0).Round(time.Millisecond))
		if err := ensureSecrets(ctx, client, o, fn.Secrets); err != nil {
			return deployed, fmt.Errorf("%s: %w", name, err)
		}
		dep, err := deploymentFor(name, fn, artefact, filepath.Dir(abs), o.Env)
		if err != nil {
			return deployed, err
		}
		t1 := time.Now()
		if _, err := client.Deploy(ctx, dep); err != nil {
			return deployed, fmt.Errorf("deploy %s: %w", name, err)
		}
		fmt.Fprintf(logw, "deployed %s in %s\n", name, time.Since(t1).Round(time.Millisecond))
		deployed = append(deployed, name)
	}
	return deployed, nil
}

// deploymentFor maps a stack.yml function to the provider's deployment, as
// faas-cli does (environment_file entries first, then environment, then
// the --env overrides).
func deploymentFor(name string, fn stack.Function, artefact, baseDir string, override map[string]string) (types.FunctionDeployment, error) {
	env := map[string]string{}
	for _, f := range fn.EnvironmentFile {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return types.FunctionDeployment{}, fmt.Errorf("%s: environment_file: %w", name, err)
		}
		var ef stack.EnvironmentFile
		if err := yamlUnmarshal(data, &ef); err != nil {
			return types.FunctionDeployment{}, fmt.Errorf("%s: environment_file %s: %w", name, p, err)
		}
		for k, v := range ef.Environment {
			env[k] = v
		}
	}
	for k, v := range fn.Environment {
		env[k] = v
	}
	for k, v := range override {
		env[k] = v
	}
	dep := types.FunctionDeployment{
		Service:                name,
		Image:                  ArtefactScheme + artefact,
		Namespace:              fn.Namespace,
		EnvProcess:             fn.FProcess,
		EnvVars:                env,
		Secrets:                fn.Secrets,
		Labels:                 fn.Labels,
		Annotations:            fn.Annotations,
		ReadOnlyRootFilesystem: fn.ReadOnlyRootFilesystem,
	}
	if fn.Constraints != nil {
		dep.Constraints = *fn.Constraints
	}
	if fn.Limits != nil {
		dep.Limits = &types.FunctionResources{Memory: fn.Limits.Memory, CPU: fn.Limits.CPU}
	}
	if fn.Requests != nil {
		dep.Requests = &types.FunctionResources{Memory: fn.Requests.Memory, CPU: fn.Requests.CPU}
	}
	return dep, nil
}

// ensureSecrets creates the missing secrets a function names: from
// SecretsDir/<name> when given, the gateway credentials for
// GatewaySecretName, else it is an error, as a missing secret is in a
// cluster.
func ensureSecrets(ctx context.Context, c *sdk.Client, o DeployOptions, names []string) error {
	if len(names) == 0 {
		return nil
	}
	have, err := c.GetSecrets(ctx, DefaultNamespace)
	if err != nil {
		return fmt.Errorf("list secrets: %w", err)
	}
	exists := map[string]bool{}
	for _, s := range have {
		exists[s.Name] = true
	}
	for _, n := range names {
		if n == hopauth.SecretName && (o.SecretsDir == "" || !fileExists(filepath.Join(o.SecretsDir, n))) {
			// The hop key must be the one the local tracer signs with
			// (Dirs.HopKeyFile): set it even when the secret exists, so a
			// stack whose key was regenerated never leaves the functions
			// with a stale one.
			if err := ensureHopKeySecret(ctx, c, o, exists[n]); err != nil {
				return err
			}
			continue
		}
		if exists[n] {
			continue
		}
		var value []byte
		switch {
		case o.SecretsDir != "" && fileExists(filepath.Join(o.SecretsDir, n)):
			if value, err = os.ReadFile(filepath.Join(o.SecretsDir, n)); err != nil {
				return err
			}
		case n == GatewaySecretName:
			cr, err := ReadCredentials(o.Dirs)
			if err != nil {
				return err
			}
			value = []byte(cr.User + ":" + cr.Password)
		default:
			return fmt.Errorf("secret %q does not exist: create it (faas-cli secret create, or a file in --secrets-dir)", n)
		}
		if _, err := c.CreateSecret(ctx, types.Secret{Name: n, Namespace: DefaultNamespace, RawValue: value}); err != nil {
			return fmt.Errorf("create secret %s: %w", n, err)
		}
	}
	return nil
}

func ensureHopKeySecret(ctx context.Context, c *sdk.Client, o DeployOptions, exists bool) error {
	value, err := EnsureHopKey(o.Dirs)
	if err != nil {
		return err
	}
	sec := types.Secret{Name: hopauth.SecretName, Namespace: DefaultNamespace, RawValue: value}
	if exists {
		if _, err := c.UpdateSecret(ctx, sec); err != nil {
			return fmt.Errorf("update secret %s: %w", sec.Name, err)
		}
		return nil
	}
	if _, err := c.CreateSecret(ctx, sec); err != nil {
		return fmt.Errorf("create secret %s: %w", sec.Name, err)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}

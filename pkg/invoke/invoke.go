package invoke

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	sdk "github.com/openfaas/go-sdk"
)

// Client invokes functions on one gateway.
type Client struct {
	sdk       *sdk.Client
	auth      *sdk.BasicAuth
	Namespace string
}

// New returns a client for gateway. auth may be nil: OpenFaaS CE does not
// guard /async-function, but a gateway behind a proxy may.
func New(gateway string, auth *sdk.BasicAuth) (*Client, error) {
	u, err := url.Parse(gateway)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("gateway url %q: not an absolute URL", gateway)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	var ca sdk.ClientAuth
	if auth != nil {
		ca = auth
	}
	return &Client{sdk: sdk.NewClient(u, ca, hc), auth: auth}, nil
}

// FromEnv builds a client from the function's environment: gateway_url
// (default the in-cluster gateway) and the basic-auth secret files in
// secret_mount_path (default /var/openfaas/secrets), if present.
func FromEnv() (*Client, error) {
	gw := os.Getenv("gateway_url")
	if gw == "" {
		gw = "http://gateway.openfaas:8080"
	}
	auth, err := ReadBasicAuth(os.Getenv("secret_mount_path"))
	if err != nil {
		return nil, err
	}
	c, err := New(gw, auth)
	if err != nil {
		return nil, err
	}
	c.Namespace = os.Getenv("faasmon_namespace")
	return c, nil
}

// SecretName is the OpenFaaS secret ("user:password") that detector
// functions use to call the gateway.
const SecretName = "faasmon-gateway-auth"

// ReadBasicAuth reads the gateway credentials from an OpenFaaS secrets
// directory: the SecretName file, else the gateway's own basic-auth-user and
// basic-auth-password files; nil, nil when none is there.
func ReadBasicAuth(dir string) (*sdk.BasicAuth, error) {
	if dir == "" {
		dir = "/var/openfaas/secrets"
	}
	if b, err := os.ReadFile(filepath.Join(dir, SecretName)); err == nil {
		user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("secret %s: want user:password", SecretName)
		}
		return &sdk.BasicAuth{Username: user, Password: pass}, nil
	}
	user, err1 := os.ReadFile(filepath.Join(dir, "basic-auth-user"))
	pass, err2 := os.ReadFile(filepath.Join(dir, "basic-auth-password"))
	if os.IsNotExist(err1) && os.IsNotExist(err2) {
		return nil, nil
	}
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("read basic auth in %s: user: %v, password: %v", dir, err1, err2)
	}
	return &sdk.BasicAuth{Username: strings.TrimSpace(string(user)), Password: strings.TrimSpace(string(pass))}, nil
}

// Async queues body for function fn with the given query and headers and
// expects the gateway's 202 Accepted. The queue-worker passes the query on.
func (c *Client) Async(ctx context.Context, fn string, query url.Values, body []byte, hdr http.Header) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://placeholder/", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("invoke %s: %w", fn, err)
	}
	req.URL.RawQuery = query.Encode()
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.auth != nil {
		c.auth.Set(req)
	}
	res, err := c.sdk.InvokeFunction(fn, c.Namespace, true, false, req)
	if err != nil {
		return "", fmt.Errorf("invoke %s: %w", fn, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("invoke %s: gateway answered %d: %s", fn, res.StatusCode, bytes.TrimSpace(msg))
	}
	return res.Header.Get("X-Call-Id"), nil
}

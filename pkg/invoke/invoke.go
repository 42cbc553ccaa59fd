package invoke

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	sdk "github.com/openfaas/go-sdk"

	"github.com/faasmon/faasmon/pkg/hopauth"
)

// Client invokes functions on one gateway.
type Client struct {
	sdk       *sdk.Client
	Namespace string
	// Keys sign every message Async sends (pkg/hopauth); nil sends it
	// unsigned, which the detector's stages refuse.
	Keys *hopauth.Source
}

// New returns a client for gateway. It sends no Authorization header:
// OpenFaaS CE does not guard /async-function, and the gateway stores a
// queued request's headers in the NATS message, which the queue-worker
// prints in its log, so basic auth there would spread the gateway's admin
// password. Messages are authenticated by their hop MAC instead.
func New(gateway string) (*Client, error) {
	u, err := url.Parse(gateway)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("gateway url %q: not an absolute URL", gateway)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	return &Client{sdk: sdk.NewClient(u, nil, hc)}, nil
}

// FromEnv builds a client from the function's environment: gateway_url
// (default the in-cluster gateway) and the hop key (hopauth.SecretName)
// in secret_mount_path (default /var/openfaas/secrets).
func FromEnv() (*Client, error) {
	gw := os.Getenv("gateway_url")
	if gw == "" {
		gw = "http://gateway.openfaas:8080"
	}
	c, err := New(gw)
	if err != nil {
		return nil, err
	}
	c.Keys = hopauth.SourceFromEnv(os.Getenv)
	c.Namespace = os.Getenv("faasmon_namespace")
	return c, nil
}

// Async queues body for function fn with the given query and headers,
// signed as a message of kind, and expects the gateway's 202 Accepted. The
// queue-worker passes the query and headers on.
func (c *Client) Async(ctx context.Context, fn string, kind hopauth.Kind, query url.Values, body []byte, hdr http.Header) (string, error) {
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
	if c.Keys != nil {
		kr, err := c.Keys.Keyring()
		if err != nil {
			return "", fmt.Errorf("invoke %s: %w", fn, err)
		}
		if err := kr.Sign(kind, req.Header, body, time.Now()); err != nil {
			return "", fmt.Errorf("invoke %s: %w", fn, err)
		}
	}
	res, err := c.sdk.InvokeFunction(fn, c.Namespace, true, false, req)
	if err != nil {
		return "", fmt.Errorf("invoke %s: %w", fn, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusAccepted {
		return "", &StatusError{Function: fn, Status: res.StatusCode, Body: string(bytes.TrimSpace(msg))}
	}
	return res.Header.Get("X-Call-Id"), nil
}

// StatusError is an answer outside 2xx to a Sync call (outside 202 to an
// Async one).
type StatusError struct {
	Function string
	Status   int
	Body     string // its first 512 bytes
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("invoke %s: gateway answered %d: %s", e.Function, e.Status, e.Body)
}

// Permanent says whether sending the same request again cannot help: a 4xx
// other than a timeout, a rate limit or an authentication refusal (a key
// being rotated).
func (e *StatusError) Permanent() bool {
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusUnauthorized, http.StatusForbidden:
		return false
	}
	return e.Status >= 400 && e.Status < 500
}

// Sync calls function fn and waits for its answer, signed as Async signs:
// for a hop that must not answer its own caller before the next stage has
// what it sent (faasmon-parse to faasmon-graph), since CE's queue-worker
// does not retry. A non-2xx answer is a *StatusError.
func (c *Client) Sync(ctx context.Context, fn string, kind hopauth.Kind, query url.Values, body []byte, hdr http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://placeholder/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", fn, err)
	}
	req.URL.RawQuery = query.Encode()
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.Keys != nil {
		kr, err := c.Keys.Keyring()
		if err != nil {
			return nil, fmt.Errorf("invoke %s: %w", fn, err)
		}
		if err := kr.Sign(kind, req.Header, body, time.Now()); err != nil {
			return nil, fmt.Errorf("invoke %s: %w", fn, err)
		}
	}
	res, err := c.sdk.InvokeFunction(fn, c.Namespace, false, false, req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", fn, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, &StatusError{Function: fn, Status: res.StatusCode, Body: string(bytes.TrimSpace(msg[:min(len(msg), 512)]))}
	}
	return msg, nil
}

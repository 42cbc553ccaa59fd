package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	sdk "github.com/openfaas/go-sdk"

	"github.com/faasmon/faasmon/pkg/hopauth"
)

// DefaultTimeout bounds one request of a client made by New.
const DefaultTimeout = 10 * time.Second

// MaxResponseBytes is how much of a response body a Client keeps (Call,
// System): a function's answer is untrusted, and the callers read status
// lines, small JSON documents and error messages. The rest is read and
// counted, not kept.
const MaxResponseBytes = 1 << 20

// Client talks to one OpenFaaS gateway: function calls, sync and async,
// optionally signed with the hop key, and the admin API with basic auth.
type Client struct {
	base *url.URL
	http *http.Client

	Namespace string
	// Keys sign every message Async sends, and Call's when its Kind is
	// set (pkg/hopauth); nil sends them unsigned, which the detector's
	// stages refuse.
	Keys *hopauth.Source
	// Admin is the gateway's admin credentials (ReadBasicAuth), sent by
	// System only: never on a function call (see NewSDK).
	Admin *BasicAuth
}

// NewSDK is the go-sdk client every faasmon component that invokes
// functions uses (this package's Client, the tracer's sender). It sends no
// Authorization header: OpenFaaS CE does not guard /function or
// /async-function, and the gateway stores a queued request's headers in
// the NATS message, which the queue-worker prints in its log, so basic
// auth there would spread the gateway's admin password. Messages are
// authenticated by their hop MAC instead.
func NewSDK(gateway *url.URL, timeout time.Duration) *sdk.Client {
	return sdk.NewClient(gateway, nil, &http.Client{Timeout: timeout})
}

// New returns a client for gateway with DefaultTimeout per request.
func New(gateway string) (*Client, error) {
	return NewTimeout(gateway, DefaultTimeout)
}

// NewTimeout returns a client for gateway whose requests each take at
// most timeout (a function call included: its answer must arrive in it).
func NewTimeout(gateway string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(gateway)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("gateway url %q: not an absolute URL", gateway)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &Client{base: u, http: &http.Client{Timeout: timeout}}, nil
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

// Base is the gateway's URL, without a trailing slash.
func (c *Client) Base() string { return c.base.String() }

// Request is one function call.
type Request struct {
	Function string
	// Namespace is the function's (Client.Namespace when empty; none in
	// the URL when both are: the gateway's default).
	Namespace string
	// Async queues the call (/async-function): the gateway answers 202
	// and the queue-worker makes the call, posting the answer to the
	// X-Callback-Url header when there is one.
	Async  bool
	Method string // POST when empty
	// Path is appended to /function/NAME as it is, a query included
	// ("/products?id=3", "?id=3"); Query adds to the query. The
	// queue-worker passes both on.
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	// Kind, when set and the client has Keys, signs the call as a message
	// of that kind (pkg/hopauth).
	Kind hopauth.Kind
}

// Response is a function's answer (or the gateway's, for an async call or
// an error): at most MaxResponseBytes of its body are kept, Bytes counts
// all of it.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	Bytes  int64
	// CallID is the gateway's X-Call-Id for the call.
	CallID string
}

// URL is where r goes: <gateway>/function/NAME[.NAMESPACE]PATH, or
// /async-function/….
func (c *Client) URL(r Request) (*url.URL, error) {
	if r.Function == "" || strings.ContainsAny(r.Function, "/?#") {
		return nil, fmt.Errorf("function name %q", r.Function)
	}
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") && !strings.HasPrefix(r.Path, "?") {
		return nil, fmt.Errorf("invoke %s: path %q must start with / or ?", r.Function, r.Path)
	}
	endpoint := "/function/"
	if r.Async {
		endpoint = "/async-function/"
	}
	name := r.Function
	ns := r.Namespace
	if ns == "" {
		ns = c.Namespace
	}
	if ns != "" {
		name += "." + ns
	}
	u, err := url.Parse(c.base.String() + endpoint + name + r.Path)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", r.Function, err)
	}
	if len(r.Query) > 0 {
		q := u.Query()
		for k, vs := range r.Query {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// Call makes one function call and reads its answer. A non-2xx status is
// an answer, not an error: the error is for what kept the call from being
// answered (transport, signing, the client's timeout, ctx). It sends no
// Authorization header (see NewSDK).
func (c *Client) Call(ctx context.Context, r Request) (*Response, error) {
	u, err := c.URL(r)
	if err != nil {
		return nil, err
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", r.Function, err)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.Kind != "" && c.Keys != nil {
		kr, err := c.Keys.Keyring()
		if err != nil {
			return nil, fmt.Errorf("invoke %s: %w", r.Function, err)
		}
		if err := kr.Sign(r.Kind, req.Header, r.Body, time.Now()); err != nil {
			return nil, fmt.Errorf("invoke %s: %w", r.Function, err)
		}
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", r.Function, err)
	}
	defer res.Body.Close()
	out := &Response{Status: res.StatusCode, Header: res.Header, CallID: res.Header.Get("X-Call-Id")}
	out.Body, out.Bytes, err = readBounded(res.Body, MaxResponseBytes)
	if err != nil {
		return out, fmt.Errorf("invoke %s: read the answer: %w", r.Function, err)
	}
	return out, nil
}

// Async queues body for function fn with the given query and headers,
// signed as a message of kind, and expects the gateway's 202 Accepted. The
// queue-worker passes the query and headers on.
func (c *Client) Async(ctx context.Context, fn string, kind hopauth.Kind, query url.Values, body []byte, hdr http.Header) (string, error) {
	// The namespace as go-sdk, which this client used before, names it.
	ns := c.Namespace
	if ns == "" {
		ns = sdk.DefaultNamespace
	}
	res, err := c.Call(ctx, Request{Function: fn, Namespace: ns, Async: true, Query: query, Header: hdr, Body: body, Kind: kind})
	if err != nil {
		return "", err
	}
	if res.Status != http.StatusAccepted {
		return "", &StatusError{Function: fn, Status: res.Status, Body: string(bytes.TrimSpace(clipBytes(res.Body, 512)))}
	}
	return res.CallID, nil
}

// Sync calls function fn and waits for its answer, signed as Async signs:
// for a hop that must not answer its own caller before the next stage has
// what it sent (faasmon-parse to faasmon-graph), since CE's queue-worker
// does not retry. A non-2xx answer is a *StatusError.
func (c *Client) Sync(ctx context.Context, fn string, kind hopauth.Kind, query url.Values, body []byte, hdr http.Header) ([]byte, error) {
	ns := c.Namespace
	if ns == "" {
		ns = sdk.DefaultNamespace
	}
	res, err := c.Call(ctx, Request{Function: fn, Namespace: ns, Query: query, Header: hdr, Body: body, Kind: kind})
	if err != nil {
		return nil, err
	}
	if res.Status < 200 || res.Status > 299 {
		return nil, &StatusError{Function: fn, Status: res.Status, Body: string(bytes.TrimSpace(clipBytes(res.Body, 512)))}
	}
	return res.Body, nil
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

// System calls the admin API at path (/system/…) with the Admin
// credentials, body (when not nil) as JSON, and returns the status and at
// most MaxResponseBytes of the answer. The local stack's provider takes
// the same credentials: a Client whose base is the provider's URL calls
// its /faasmon/… endpoints.
func (c *Client) System(ctx context.Context, method, p string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("%s %s: %w", method, p, err)
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	rel, err := url.Parse(p)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, p, err)
	}
	u.Path = path.Join("/", c.base.Path, rel.Path)
	u.RawQuery = rel.RawQuery
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, p, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Admin != nil {
		req.SetBasicAuth(c.Admin.User, c.Admin.Password)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, p, err)
	}
	defer res.Body.Close()
	b, _, err := readBounded(res.Body, MaxResponseBytes)
	if err != nil {
		return res.StatusCode, b, fmt.Errorf("%s %s: read the answer: %w", method, p, err)
	}
	return res.StatusCode, b, nil
}

// readBounded keeps the first max bytes of r and reads the rest only to
// count it.
func readBounded(r io.Reader, max int64) ([]byte, int64, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(r, max))
	if err != nil {
		return b.Bytes(), n, err
	}
	rest, err := io.Copy(io.Discard, r)
	return b.Bytes(), n + rest, err
}

func clipBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

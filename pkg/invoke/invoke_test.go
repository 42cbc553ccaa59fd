package invoke

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/hopauth"
)

// seen is one request as it reached the other end of the wire.
type seen struct {
	method, uri string
	header      http.Header
	body        []byte
}

// recorder answers every request with status, the headers and body given,
// and records what it received: the tests check what the client puts on
// the wire (the URL, headers, auth, MAC), which is the client's job; what
// the gateway does with it is tested on the local stack (tests/e2e).
func recorder(t *testing.T, status int, hdr http.Header, body []byte) (*httptest.Server, chan seen) {
	t.Helper()
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.Header.Clone(), b}
		for k, vs := range hdr {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestCall(t *testing.T) {
	kr := hopauth.NewKeyring(hopauth.Key{ID: "k1", Secret: []byte("0123456789abcdef0123")})
	big := bytes.Repeat([]byte("x"), 3*MaxResponseBytes)
	tests := []struct {
		name      string
		namespace string // Client.Namespace
		keys      bool
		req       Request
		status    int
		answer    []byte
		wantURI   string
		wantBody  int   // bytes kept
		wantBytes int64 // bytes counted
		signed    bool
	}{
		{name: "sync with a path and query, no namespace", req: Request{Function: "product-catalog-api", Method: http.MethodGet, Path: "/products?id=3"},
			status: 200, answer: []byte(`{"id":3}`), wantURI: "/function/product-catalog-api/products?id=3", wantBody: 8, wantBytes: 8},
		{name: "query alone", req: Request{Function: "f", Path: "?a=1"}, status: 200, wantURI: "/function/f?a=1"},
		{name: "async, namespace from the client, query added", namespace: "openfaas-fn", req: Request{Function: "faasmon-classify", Async: true, Query: url.Values{"graph": {"true"}}, Body: []byte("{}")},
			status: 202, wantURI: "/async-function/faasmon-classify.openfaas-fn?graph=true"},
		{name: "the request's namespace wins", namespace: "a", req: Request{Function: "f", Namespace: "b"}, status: 200, wantURI: "/function/f.b"},
		{name: "an error status is an answer", req: Request{Function: "f"}, status: 502, answer: []byte("boom"), wantURI: "/function/f", wantBody: 4, wantBytes: 4},
		{name: "a large answer is kept up to the bound and counted", req: Request{Function: "f"}, status: 200, answer: big,
			wantURI: "/function/f", wantBody: MaxResponseBytes, wantBytes: int64(len(big))},
		{name: "signed when there are keys and a kind", keys: true, req: Request{Function: "f", Async: true, Kind: hopauth.KindGraph, Body: []byte("g")},
			status: 202, wantURI: "/async-function/f", signed: true},
		{name: "a kind without keys goes unsigned", req: Request{Function: "f", Kind: hopauth.KindGraph}, status: 200, wantURI: "/function/f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recorder(t, tc.status, http.Header{"X-Call-Id": {"call-1"}}, tc.answer)
			c, err := New(srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			c.Namespace = tc.namespace
			c.Admin = &BasicAuth{User: "admin", Password: "never-on-a-function-call"}
			if tc.keys {
				c.Keys = hopauth.Static(kr)
			}
			tc.req.Header = http.Header{"X-Faasmon-Test": {"1"}, "X-Callback-Url": {"http://cb/"}}
			res, err := c.Call(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			s := <-got
			if s.uri != tc.wantURI {
				t.Errorf("URI %s, want %s", s.uri, tc.wantURI)
			}
			if want := tc.req.Method; want != "" && s.method != want || want == "" && s.method != http.MethodPost {
				t.Errorf("method %s", s.method)
			}
			if a := s.header.Get("Authorization"); a != "" {
				t.Errorf("Authorization %q on a function call", a)
			}
			if s.header.Get("X-Faasmon-Test") != "1" || s.header.Get("X-Callback-Url") != "http://cb/" {
				t.Errorf("headers not passed on: %v", s.header)
			}
			if !bytes.Equal(s.body, tc.req.Body) {
				t.Errorf("body %q, want %q", s.body, tc.req.Body)
			}
			if hopauth.Signed(s.header) != tc.signed {
				t.Errorf("signed %v, want %v", hopauth.Signed(s.header), tc.signed)
			}
			if tc.signed {
				if err := kr.Verify(tc.req.Kind, s.header, s.body, time.Now(), time.Minute); err != nil {
					t.Errorf("MAC: %v", err)
				}
			}
			if res.Status != tc.status || res.CallID != "call-1" || len(res.Body) != tc.wantBody || res.Bytes != tc.wantBytes {
				t.Errorf("response status %d call %q body %d bytes %d, want %d call-1 %d %d",
					res.Status, res.CallID, len(res.Body), res.Bytes, tc.status, tc.wantBody, tc.wantBytes)
			}
		})
	}
}

func TestCallRejects(t *testing.T) {
	c, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Request{
		{Function: ""},
		{Function: "a/b"},
		{Function: "a?b"},
		{Function: "f", Path: "x"},
	} {
		if _, err := c.Call(context.Background(), r); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
	for _, gw := range []string{"", "gateway:8080", "/only/path", "http://"} {
		if _, err := New(gw); err == nil {
			t.Errorf("New(%q): no error", gw)
		}
	}
}

func TestAsync(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		wantErr string
	}{
		{"accepted", http.StatusAccepted, ""},
		{"refused", http.StatusBadRequest, "gateway answered 400: no"},
		{"sync answer is not queued", http.StatusOK, "gateway answered 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recorder(t, tc.status, http.Header{"X-Call-Id": {"c9"}}, []byte("no\n"))
			c, _ := New(srv.URL)
			id, err := c.Async(context.Background(), "faasmon-graph", hopauth.KindEvents, nil, []byte("b"), nil)
			if s := <-got; s.uri != "/async-function/faasmon-graph.openfaas-fn" {
				t.Errorf("URI %s (go-sdk's default namespace, as before)", s.uri)
			}
			if tc.wantErr == "" && (err != nil || id != "c9") {
				t.Errorf("id %q err %v", id, err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestSystem(t *testing.T) {
	for _, tc := range []struct {
		name, base, path string
		admin            *BasicAuth
		body             any
		wantURI          string
		wantAuth         bool
	}{
		{name: "scale with auth and JSON", path: "/system/scale-function/f", admin: &BasicAuth{"admin", "pw"},
			body: map[string]any{"serviceName": "f", "replicas": 0}, wantURI: "/system/scale-function/f", wantAuth: true},
		{name: "query kept, base path joined", base: "/prefix/", path: "/faasmon/recycle?function=f", admin: &BasicAuth{"admin", "pw"},
			wantURI: "/prefix/faasmon/recycle?function=f", wantAuth: true},
		{name: "no credentials, no header", path: "/system/functions", wantURI: "/system/functions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recorder(t, 200, nil, []byte(`[]`))
			c, err := New(srv.URL + tc.base)
			if err != nil {
				t.Fatal(err)
			}
			c.Admin = tc.admin
			st, b, err := c.System(context.Background(), http.MethodPost, tc.path, tc.body)
			if err != nil || st != 200 || string(b) != "[]" {
				t.Fatalf("%d %q %v", st, b, err)
			}
			s := <-got
			if s.uri != tc.wantURI {
				t.Errorf("URI %s, want %s", s.uri, tc.wantURI)
			}
			u, p, ok := (&http.Request{Header: s.header}).BasicAuth()
			if ok != tc.wantAuth || ok && (u != tc.admin.User || p != tc.admin.Password) {
				t.Errorf("basic auth %v %q %q", ok, u, p)
			}
			if (tc.body != nil) != (s.header.Get("Content-Type") == "application/json") || (tc.body == nil) != (len(s.body) == 0) {
				t.Errorf("body %q content type %q", s.body, s.header.Get("Content-Type"))
			}
		})
	}
}

func TestReadBasicAuth(t *testing.T) {
	for _, tc := range []struct {
		name       string
		user, pass *string
		want       BasicAuth
		wantErr    string
	}{
		{name: "as kubectl writes them, with newlines", user: ptr("admin\n"), pass: ptr("s3cret\n"), want: BasicAuth{"admin", "s3cret"}},
		{name: "no password file", user: ptr("admin"), wantErr: BasicAuthPasswordFile},
		{name: "no user file", pass: ptr("x"), wantErr: BasicAuthUserFile},
		{name: "empty password", user: ptr("admin"), pass: ptr(" \n"), wantErr: "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, v := range map[string]*string{BasicAuthUserFile: tc.user, BasicAuthPasswordFile: tc.pass} {
				if v != nil {
					if err := os.WriteFile(filepath.Join(dir, name), []byte(*v), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := ReadBasicAuth(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("%+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

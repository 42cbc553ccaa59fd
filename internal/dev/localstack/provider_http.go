package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/openfaas/faas-provider"
	"github.com/openfaas/faas-provider/types"
)

// maxAPIBody bounds every JSON body the provider reads.
const maxAPIBody = 1 << 20

// ProviderPort is the port of ProviderAddr.
const ProviderPort = 8083

// Serve runs the provider API until ctx ends, then stops all functions.
// faas-provider's bootstrap.Serve listens on all interfaces; the
// loopbackOnly middleware makes that 127.0.0.1 in effect, so a function in
// its namespace cannot reach 10.62.N.1:8083 (the /faasmon endpoints have no
// basic auth).
func (p *Provider) Serve(ctx context.Context) {
	handlers := &types.FaaSHandlers{
		FunctionProxy:  p.guard("proxy", p.handleProxy),
		FunctionLister: p.guard("list", p.handleList),
		DeployFunction: p.guard("deploy", p.handleDeploy(false)),
		UpdateFunction: p.guard("update", p.handleDeploy(true)),
		DeleteFunction: p.guard("delete", p.handleDelete),
		FunctionStatus: p.guard("status", p.handleStatus),
		ScaleFunction:  p.guard("scale", p.handleScale),
		Secrets:        p.guard("secrets", p.handleSecrets),
		Logs:           p.guard("logs", p.handleLogs),
		Health:         func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) },
		Info:           p.guard("info", p.handleInfo),
		ListNamespaces: p.guard("namespaces", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, []string{DefaultNamespace})
		}),
	}
	r := bootstrap.Router()
	r.Use(p.access)
	r.HandleFunc(InstancesPath, p.guard("instances", p.handleInstances)).Methods(http.MethodGet)
	r.HandleFunc(RecyclePath, p.guard("recycle", p.handleRecycle)).Methods(http.MethodPost)

	port := ProviderPort
	bootstrap.Serve(ctx, handlers, &types.FaaSConfig{
		TCPPort:         &port,
		ReadTimeout:     5 * time.Minute,
		WriteTimeout:    5 * time.Minute,
		EnableBasicAuth: true,
		SecretMountPath: p.dirs.Secrets(),
	})
	p.Shutdown()
}

// ResponderLabel marks the function allowed to list and recycle instances
// from its namespace: faasmon-alert's response, the local stand-in for the
// RBAC (delete pods) it gets on Kubernetes.
const ResponderLabel = "com.faasmon.role"

// access lets loopback callers through, and the responder function to the
// /faasmon endpoints: nothing else in a function namespace reaches the
// provider.
func (p *Provider) access(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		switch {
		case err == nil && ip != nil && ip.IsLoopback():
		case err == nil && ip != nil && (r.URL.Path == InstancesPath || r.URL.Path == RecyclePath) && p.isResponder(ip.String()):
		default:
			http.Error(w, "the local provider only answers on 127.0.0.1", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Provider) isResponder(ip string) bool {
	for _, in := range p.instances() {
		if in.IP == ip && in.Labels[ResponderLabel] == "responder" {
			return true
		}
	}
	return false
}

// guard recovers a panic into a 500 and a log line: one bad request must
// never take the provider, and with it every function, down.
func (p *Provider) guard(op string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // the proxy's way to abort a response: let net/http handle it
				}
				p.log.Printf("%s %s %s: panic: %v\n%s", op, r.Method, r.URL.Path, v, debug.Stack())
				http.Error(w, fmt.Sprintf("internal error in %s", op), http.StatusInternalServerError)
			}
		}()
		h(w, r)
	}
}

// fail answers err with its status (requestError) or 500 (start errors
// carry the function's log tail), and logs it.
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	status := http.StatusInternalServerError
	var re *requestError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &re):
		status = re.status
	case errors.As(err, &mbe):
		status = http.StatusRequestEntityTooLarge
	}
	p.log.Printf("%s %s %s: %d: %v", op, r.Method, r.URL.Path, status, err)
	http.Error(w, err.Error(), status)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxAPIBody)
	if err := json.NewDecoder(body).Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("malformed JSON body: %v", err)
	}
	return nil
}

func (p *Provider) handleDeploy(update bool) http.HandlerFunc {
	op := map[bool]string{false: "deploy", true: "update"}[update]
	return func(w http.ResponseWriter, r *http.Request) {
		var dep types.FunctionDeployment
		if err := decodeBody(w, r, &dep); err != nil {
			p.fail(w, r, op, fmt.Errorf("malformed deployment: %w", err))
			return
		}
		start := time.Now()
		if err := p.deploy(r.Context(), dep, update); err != nil {
			p.fail(w, r, op+" "+dep.Service, err)
			return
		}
		p.log.Printf("%s %s: ok in %s", op, dep.Service, time.Since(start).Round(time.Millisecond))
		w.WriteHeader(http.StatusAccepted)
	}
}

func (p *Provider) handleDelete(w http.ResponseWriter, r *http.Request) {
	var req types.DeleteFunctionRequest
	if err := decodeBody(w, r, &req); err != nil {
		p.fail(w, r, "delete", err)
		return
	}
	name, _ := splitName(req.FunctionName)
	if err := p.remove(name); err != nil {
		p.fail(w, r, "delete "+name, err)
		return
	}
	p.log.Printf("delete %s: ok", name)
	w.WriteHeader(http.StatusAccepted)
}

func (p *Provider) handleList(w http.ResponseWriter, r *http.Request) {
	if ns := r.URL.Query().Get("namespace"); ns != "" && ns != DefaultNamespace {
		p.fail(w, r, "list", badRequest("namespace %q not supported", ns))
		return
	}
	writeJSON(w, http.StatusOK, p.list())
}

func (p *Provider) handleStatus(w http.ResponseWriter, r *http.Request) {
	name, _ := splitName(mux.Vars(r)["name"])
	for _, s := range p.list() {
		if s.Name == name {
			writeJSON(w, http.StatusOK, s)
			return
		}
	}
	p.fail(w, r, "status", notFound("function %s not found", name))
}

func (p *Provider) handleScale(w http.ResponseWriter, r *http.Request) {
	var req types.ScaleServiceRequest
	if err := decodeBody(w, r, &req); err != nil {
		p.fail(w, r, "scale", err)
		return
	}
	name, _ := splitName(mux.Vars(r)["name"])
	if req.ServiceName != "" {
		if n, _ := splitName(req.ServiceName); n != name {
			p.fail(w, r, "scale", badRequest("serviceName %q does not match path %q", req.ServiceName, name))
			return
		}
	}
	if err := p.scale(r.Context(), name, req.Replicas); err != nil {
		p.fail(w, r, fmt.Sprintf("scale %s to %d", name, req.Replicas), err)
		return
	}
	p.log.Printf("scale %s to %d: ok", name, req.Replicas)
	w.WriteHeader(http.StatusAccepted)
}

func (p *Provider) handleSecrets(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s, err := p.listSecrets()
		if err != nil {
			p.fail(w, r, "secrets", err)
			return
		}
		writeJSON(w, http.StatusOK, s)
	case http.MethodPost, http.MethodPut:
		var s types.Secret
		if err := decodeBody(w, r, &s); err != nil {
			p.fail(w, r, "secrets", err)
			return
		}
		if err := p.putSecret(s, r.Method == http.MethodPost); err != nil {
			p.fail(w, r, "secret "+s.Name, err)
			return
		}
		p.log.Printf("secret %s: %s ok", s.Name, r.Method)
		w.WriteHeader(http.StatusAccepted)
	case http.MethodDelete:
		var s types.Secret
		if err := decodeBody(w, r, &s); err != nil {
			p.fail(w, r, "secrets", err)
			return
		}
		if err := p.deleteSecret(s.Name); err != nil {
			p.fail(w, r, "secret "+s.Name, err)
			return
		}
		p.log.Printf("secret %s: deleted", s.Name)
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (p *Provider) handleLogs(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "logs are files on the local stack: "+p.dirs.Logs()+"/functions/<name>.log", http.StatusNotImplemented)
}

func (p *Provider) handleInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, types.ProviderInfo{
		Name:          "faasmon-local",
		Orchestration: "processes",
		Version:       &types.VersionInfo{Release: "dev", SHA: "local"},
	})
}

func (p *Provider) handleInstances(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, p.instances())
}

func (p *Provider) handleRecycle(w http.ResponseWriter, r *http.Request) {
	name, _ := splitName(r.URL.Query().Get("function"))
	if name == "" {
		p.fail(w, r, "recycle", badRequest("missing ?function=NAME"))
		return
	}
	inst, err := p.recycle(r.Context(), name, r.URL.Query().Get("id"))
	if err != nil {
		p.fail(w, r, "recycle "+name, err)
		return
	}
	p.log.Printf("recycle %s: new instance %s pid %d", name, inst.ID, inst.PID)
	writeJSON(w, http.StatusOK, inst)
}

// proxyTransport is shared by all proxied calls; functions are on veths, so
// idle connections are cheap and dials should fail fast.
var proxyTransport = &http.Transport{
	DialContext:         (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:        256,
	MaxIdleConnsPerHost: 32,
	IdleConnTimeout:     90 * time.Second,
}

// handleProxy forwards /function/<name>[.<ns>][/path] to the instance.
func (p *Provider) handleProxy(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	name, _ := splitName(vars["name"])
	target, err := p.target(name)
	if err != nil {
		p.fail(w, r, "invoke "+name, err)
		return
	}
	u, err := url.Parse(target)
	if err != nil {
		p.fail(w, r, "invoke "+name, err)
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = u.Scheme, u.Host
			pr.Out.URL.Path = "/" + strings.TrimPrefix(vars["params"], "/")
			pr.Out.URL.RawPath = ""
			pr.Out.Host = u.Host
			// Keep the gateway's X-Forwarded-For chain, then add the hop.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
		},
		Transport: proxyTransport,
		ErrorLog:  log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			p.log.Printf("invoke %s: upstream %s: %v", name, target, err)
			http.Error(w, fmt.Sprintf("function %s: %v", name, err), http.StatusBadGateway)
		},
	}
	rp.ServeHTTP(w, r)
}

package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faasmon/faasmon/internal/dev/localstack"
)

// HostConfig is one lab host: a network namespace joined to the host by a
// veth pair (HostIP/24 on the host side, IP/24 inside, default route via
// the host so that function namespaces 10.62.N.2 reach it through the
// host's forwarding), an HTTP server on HTTPPort and optionally a TCP
// listener on ShellPort, both listening inside the namespace.
type HostConfig struct {
	Role      string // "attacker", "supplier": what records say
	NetNS     string // namespace name, e.g. fmlab-attacker
	HostIf    string // host-side veth (≤ 15 characters)
	PeerIf    string // namespace-side veth
	HostIP    string
	IP        string
	HTTPPort  int
	ShellPort int // 0: none
	// ShellTask is the line the shell listener sends to every connection
	// (what a C2 server would ask the beacon to run). Default "id".
	ShellTask string
}

// Names of the lab's namespaces and veths. They avoid the local stack's
// "faasmon-" namespace and "fmh" veth prefixes on purpose: the stack's
// crash sweeper deletes every namespace named faasmon-*.
const (
	AttackerNetNS = "fmlab-attacker"
	SupplierNetNS = "fmlab-supplier"
)

// AttackerConfig and SupplierConfig are the lab's two hosts.
func AttackerConfig() HostConfig {
	return HostConfig{Role: "attacker", NetNS: AttackerNetNS, HostIf: "fmlab-att-h", PeerIf: "fmlab-att-n",
		HostIP: AttackerHostIP, IP: AttackerIP, HTTPPort: 80, ShellPort: ShellPort, ShellTask: "id"}
}

func SupplierConfig() HostConfig {
	return HostConfig{Role: "supplier", NetNS: SupplierNetNS, HostIf: "fmlab-sup-h", PeerIf: "fmlab-sup-n",
		HostIP: SupplierHostIP, IP: SupplierIP, HTTPPort: 80}
}

// Request is one HTTP request a lab host received: for the attacker, the
// exfiltrated data.
type Request struct {
	Host     string    `json:"host"` // role
	Time     time.Time `json:"time"`
	Remote   string    `json:"remote"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	Query    string    `json:"query,omitempty"`
	Agent    string    `json:"user_agent,omitempty"`
	CallID   string    `json:"call_id,omitempty"` // when the client passed X-Call-Id on
	BodySize int64     `json:"body_size"`
	Head     string    `json:"head,omitempty"` // first bytes of the body
	Status   int       `json:"status"`
}

// Conn is one connection to the shell listener.
type Conn struct {
	Host     string    `json:"host"`
	Time     time.Time `json:"time"`
	End      time.Time `json:"end"`
	Remote   string    `json:"remote"`
	Received int64     `json:"received"`
	Head     string    `json:"head,omitempty"`
}

const (
	headBytes    = 512
	maxBodyBytes = 16 << 20
	maxBlob      = 4 << 20
)

// Host is a running lab host.
type Host struct {
	cfg     HostConfig
	vars    TemplateVars
	srv     *http.Server
	httpLn  net.Listener
	shellLn net.Listener
	wg      sync.WaitGroup

	mu       sync.Mutex
	files    map[string]ServedFile
	requests []Request
	conns    []Conn
	closed   bool
}

// ipForward remembers whether a lab host turned forwarding on, so that the
// last Close puts it back when no stack namespace needs it any more.
var ipForward struct {
	sync.Mutex
	hosts   int
	changed bool
}

// StartHost creates cfg's namespace and veth (removing a stale one of the
// same name first: a previous run that crashed), and starts the servers
// inside it. On error everything made so far is removed.
func StartHost(ctx context.Context, cfg HostConfig, vars TemplateVars) (_ *Host, err error) {
	if cfg.ShellTask == "" {
		cfg.ShellTask = "id"
	}
	if len(cfg.HostIf) > 15 || len(cfg.PeerIf) > 15 {
		return nil, fmt.Errorf("lab host %s: interface names longer than 15 characters", cfg.Role)
	}
	h := &Host{cfg: cfg, vars: vars, files: map[string]ServedFile{}}
	_ = teardownNetns(cfg) // stale leftovers of a crashed run: they are ours by name
	defer func() {
		if err != nil {
			_ = h.Close()
		}
	}()
	if err := setupNetns(ctx, cfg); err != nil {
		return nil, err
	}
	if err := enableForwarding(); err != nil {
		return nil, err
	}
	h.registerForwarding()
	nsPath := filepath.Join("/run/netns", cfg.NetNS)
	h.httpLn, err = listenInNetns(nsPath, net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.HTTPPort)))
	if err != nil {
		return nil, fmt.Errorf("lab host %s: %w", cfg.Role, err)
	}
	if cfg.ShellPort > 0 {
		h.shellLn, err = listenInNetns(nsPath, net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.ShellPort)))
		if err != nil {
			return nil, fmt.Errorf("lab host %s: %w", cfg.Role, err)
		}
	}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		_ = h.srv.Serve(h.httpLn)
	}()
	if h.shellLn != nil {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.serveShell()
		}()
	}
	return h, nil
}

// Addr is the host's address as scenarios see it.
func (h *Host) Addr() string { return h.cfg.IP }

// Config returns the host's configuration.
func (h *Host) Config() HostConfig { return h.cfg }

// SetFiles replaces what the host serves.
func (h *Host) SetFiles(files map[string]ServedFile) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files = map[string]ServedFile{}
	for k, v := range files {
		h.files[k] = v
	}
}

// AddFiles adds to (or overrides) what the host serves.
func (h *Host) AddFiles(files map[string]ServedFile) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, v := range files {
		h.files[k] = v
	}
}

// Requests returns a copy of the requests recorded so far.
func (h *Host) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.requests...)
}

// Conns returns a copy of the shell connections recorded so far.
func (h *Host) Conns() []Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Conn(nil), h.conns...)
}

// ServeHTTP serves files (GET/HEAD), answers anything else with the file at
// that path when there is one (a canned API answer) or a small JSON receipt,
// and records every request. GET /blob/N returns N deterministic bytes, for
// downloads of different sizes.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	head := make([]byte, headBytes)
	n, _ := io.ReadFull(body, head)
	rest, _ := io.Copy(io.Discard, body)
	rec := Request{Host: h.cfg.Role, Time: time.Now().UTC(), Remote: r.RemoteAddr, Method: r.Method,
		Path: r.URL.Path, Query: r.URL.RawQuery, Agent: r.UserAgent(), CallID: r.Header.Get("X-Call-Id"),
		BodySize: int64(n) + rest, Head: string(bytes.ToValidUTF8(head[:n], []byte("?")))}

	h.mu.Lock()
	f, ok := h.files[r.URL.Path]
	h.mu.Unlock()
	status := http.StatusOK
	switch {
	case ok:
		content := f.Content
		if s, err := Expand(string(content), h.vars, nil, 0); err == nil {
			content = []byte(s)
		}
		w.Header().Set("Content-Type", f.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(content)
		}
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/blob/"):
		size, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/blob/"), filepath.Ext(r.URL.Path)))
		if err != nil || size < 0 || size > maxBlob {
			status = http.StatusBadRequest
			http.Error(w, "blob size 0..4194304", status)
			break
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		if r.Method != http.MethodHead {
			_, _ = w.Write(blob(size))
		}
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		status = http.StatusNotFound
		http.NotFound(w, r)
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "received": rec.BodySize})
	}
	rec.Status = status
	h.mu.Lock()
	h.requests = append(h.requests, rec)
	h.mu.Unlock()
}

func blob(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// serveShell records every connection: it sends the task line, then reads
// what the peer sends until it closes or stays quiet for 1.5 s.
func (h *Host) serveShell() {
	for {
		c, err := h.shellLn.Accept()
		if err != nil {
			return
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer c.Close()
			rec := Conn{Host: h.cfg.Role, Time: time.Now().UTC(), Remote: c.RemoteAddr().String()}
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, h.cfg.ShellTask+"\n")
			var head bytes.Buffer
			buf := make([]byte, 4096)
			for rec.Received < maxBodyBytes {
				_ = c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
				n, err := c.Read(buf)
				rec.Received += int64(n)
				if head.Len() < headBytes {
					head.Write(buf[:min(n, headBytes-head.Len())])
				}
				if err != nil {
					break
				}
			}
			rec.End = time.Now().UTC()
			rec.Head = string(bytes.ToValidUTF8(head.Bytes(), []byte("?")))
			h.mu.Lock()
			h.conns = append(h.conns, rec)
			h.mu.Unlock()
		}()
	}
}

// Close stops the servers and removes the namespace and veth. It is safe to
// call more than once and after a failed start.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	var errs []error
	if h.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = h.srv.Shutdown(ctx)
		cancel()
		_ = h.srv.Close()
	} else if h.httpLn != nil {
		_ = h.httpLn.Close()
	}
	if h.shellLn != nil {
		_ = h.shellLn.Close()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	errs = append(errs, teardownNetns(h.cfg))
	h.unregisterForwarding()
	return errors.Join(errs...)
}

func setupNetns(ctx context.Context, c HostConfig) error {
	v := localstack.Veth{NS: c.NetNS, HostIf: c.HostIf, PeerIf: c.PeerIf, HostIP: c.HostIP, IP: c.IP}
	if err := v.Connect(ctx); err != nil {
		return fmt.Errorf("lab host %s: %w", c.Role, err)
	}
	return nil
}

// teardownNetns removes the namespace (which removes the veth pair) and the
// host-side veth if it survived a half-done setup. Missing pieces are fine.
func teardownNetns(c HostConfig) error {
	var errs []error
	if _, err := os.Stat(filepath.Join("/run/netns", c.NetNS)); err == nil {
		if err := localstack.RunIP(context.Background(), "netns", "delete", c.NetNS); err != nil {
			errs = append(errs, err)
		}
	}
	// Deleting the namespace deletes the pair, asynchronously: give the
	// kernel a moment before deleting a host veth that survived a
	// half-done setup, and accept that it vanished meanwhile.
	hostIf := filepath.Join("/sys/class/net", c.HostIf)
	for i := 0; i < 20; i++ {
		if _, err := os.Stat(hostIf); err != nil {
			return errors.Join(errs...)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err := localstack.RunIP(context.Background(), "link", "delete", c.HostIf); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// listenInNetns opens a TCP listener inside the namespace bound at nsPath:
// it switches a locked OS thread into the namespace, listens (the socket
// stays in that namespace for its whole life) and switches back. If
// switching back fails the thread stays locked and dies with its goroutine,
// so no goroutine ever runs in the wrong namespace.
func listenInNetns(nsPath, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("open own netns: %w", err)}
			return
		}
		defer orig.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("open %s: %w", nsPath, err)}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns %s: %w", nsPath, err)}
			return
		}
		ln, lerr := net.Listen("tcp", addr)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		if lerr != nil {
			lerr = fmt.Errorf("listen %s in %s: %w", addr, nsPath, lerr)
		}
		ch <- result{ln: ln, err: lerr}
	}()
	r := <-ch
	return r.ln, r.err
}

const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

func enableForwarding() error {
	ipForward.Lock()
	defer ipForward.Unlock()
	cur, err := os.ReadFile(ipForwardPath)
	if err != nil {
		return fmt.Errorf("read ip_forward: %w", err)
	}
	if strings.TrimSpace(string(cur)) == "1" {
		return nil
	}
	if err := os.WriteFile(ipForwardPath, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable ip_forward: %w", err)
	}
	ipForward.changed = true
	return nil
}

func (h *Host) registerForwarding() {
	ipForward.Lock()
	ipForward.hosts++
	ipForward.Unlock()
}

// unregisterForwarding turns forwarding off again when the lab turned it on,
// this was the last lab host, and no local-stack namespace is left (the
// stack keeps its own record and restores it at down).
func (h *Host) unregisterForwarding() {
	ipForward.Lock()
	defer ipForward.Unlock()
	if ipForward.hosts == 0 {
		return
	}
	ipForward.hosts--
	if ipForward.hosts > 0 || !ipForward.changed {
		return
	}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "faasmon-") {
			return
		}
	}
	_ = os.WriteFile(ipForwardPath, []byte("0\n"), 0o644)
	ipForward.changed = false
}

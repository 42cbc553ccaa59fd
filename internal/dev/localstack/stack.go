package localstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Stack is the local OpenFaaS stack of one state directory.
type Stack struct {
	Dirs Dirs
	Repo string
	Out  io.Writer // progress lines; nil discards
}

// NewStack returns the stack for state dir and repository root.
func NewStack(stateDir, repo string) (*Stack, error) {
	d, err := NewDirs(stateDir)
	if err != nil {
		return nil, err
	}
	return &Stack{Dirs: d, Repo: repo, Out: io.Discard}, nil
}

func (s *Stack) printf(format string, a ...any) {
	if s.Out != nil {
		fmt.Fprintf(s.Out, format, a...)
	}
}

// Component names, also the pid and log file names.
const (
	cNATS       = "nats-streaming-server"
	cPrometheus = "prometheus"
	cProvider   = "provider"
	cGateway    = "gateway"
	cWorker     = "queue-worker"
)

// stopOrder is the reverse of the start order.
var stopOrder = []string{cWorker, cGateway, cProvider, cPrometheus, cNATS}

// Up starts whatever part of the stack is not running and waits until all
// of it is healthy. On a running stack it only checks health.
func (s *Stack) Up(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("the local stack needs root (network namespaces, mounts)")
	}
	d := s.Dirs
	if err := d.Ensure(); err != nil {
		return err
	}
	creds, err := EnsureCredentials(d)
	if err != nil {
		return err
	}
	_ = creds
	// The tracer signs with it from the start; deploy hands it on.
	if _, err := EnsureHopKey(d); err != nil {
		return err
	}
	if err := EnsureTools(ctx, s.Repo); err != nil {
		return err
	}
	if err := s.writePrometheusConfig(); err != nil {
		return err
	}
	bin := BinDir(s.Repo)

	// NATS listens beyond loopback for the same reason the gateway does:
	// functions in their namespaces reach the host at 10.62.N.1, and
	// faasmon-alert publishes alerts to the queue server (as it would reach
	// the NATS service in a cluster).
	nats := daemon{Name: cNATS, Path: filepath.Join(bin, "nats-streaming-server"),
		// A file store: the queue (the async invocations in flight, the
		// alert outbox, the alerts) survives a restart of the server,
		// bounded per channel in bytes and age so that a flood cannot
		// fill the disk.
		Args: []string{"-a", "0.0.0.0", "-p", "4222", "--cluster_id", NATSClusterID,
			"--store", "FILE", "--dir", d.NATS(), "--max_bytes", "256MB", "--max_age", "24h"},
		Addrs: []string{NATSAddr},
		Ready: func(ctx context.Context) error { return s.logSays(ctx, cNATS, "Streaming Server is ready") }}
	prom := daemon{Name: cPrometheus, Path: "prometheus",
		Args: []string{"--config.file=" + filepath.Join(d.Prometheus(), "prometheus.yml"),
			"--storage.tsdb.path=" + filepath.Join(d.Prometheus(), "data"),
			"--storage.tsdb.retention.time=1d",
			"--web.listen-address=" + PrometheusAddr},
		Ready: httpOK("http://" + PrometheusAddr + "/-/ready"), Addrs: []string{PrometheusAddr}}
	prov := daemon{Name: cProvider, Args: []string{"provider"}, Env: []string{"FAASMON_STACK_DIR=" + d.State},
		Ready: httpOK(ProviderURL + "/healthz"), Addrs: []string{ProviderAddr}}
	if _, running := runningPID(d, cProvider); !running {
		if prov.Path, err = BuildStackBinary(ctx, s.Repo); err != nil {
			return err
		}
	}
	secretPath := d.Secrets() + "/"
	gw := daemon{Name: cGateway, Path: filepath.Join(bin, "gateway"),
		Env: []string{
			"functions_provider_url=" + ProviderURL + "/",
			"faas_nats_address=127.0.0.1", "faas_nats_port=4222", "faas_nats_cluster_name=" + NATSClusterID,
			"faas_prometheus_host=127.0.0.1", "faas_prometheus_port=9090",
			"basic_auth=true", "secret_mount_path=" + secretPath,
			"direct_functions=false", "scale_from_zero=false",
			"read_timeout=65s", "write_timeout=65s", "upstream_timeout=60s",
		},
		Ready: httpOK(GatewayURL + "/healthz"), Addrs: []string{"127.0.0.1:8080", "127.0.0.1:8082"}}
	if _, running := runningPID(d, cGateway); !running {
		if gw.Dir, err = gatewayDir(ctx, s.Repo); err != nil {
			return err
		}
	}
	// The queue-worker posts async results to X-Callback-Url as the
	// caller wrote it; the detector's callbacks name the gateway the way a
	// cluster does (gateway.openfaas). Give the worker its own /etc/hosts
	// with that name, in a mount namespace of its own, rather than edit the
	// machine's.
	hosts, err := s.workerHosts()
	if err != nil {
		return err
	}
	worker := daemon{Name: cWorker, Path: "unshare", Exe: filepath.Join(bin, "nats-queue-worker"),
		Args: []string{"--mount", "--propagation", "private", "sh", "-c",
			`mount --bind "$1" /etc/hosts && exec "$2"`, "sh", hosts, filepath.Join(bin, "nats-queue-worker")},
		Env: []string{
			"faas_nats_address=127.0.0.1", "faas_nats_port=4222", "faas_nats_cluster_name=" + NATSClusterID,
			"faas_gateway_address=127.0.0.1", "faas_gateway_port=8080",
			"ack_wait=65s", "max_inflight=1",
			"basic_auth=true", "secret_mount_path=" + secretPath,
		},
		Ready: func(ctx context.Context) error { return s.logSays(ctx, cWorker, "Listening on") }}

	// NATS, Prometheus and the provider do not depend on each other; the
	// gateway and the queue-worker connect to NATS at start.
	if err := s.startAll(ctx, nats, prom, prov); err != nil {
		return err
	}
	if err := s.startAll(ctx, gw, worker); err != nil {
		return err
	}
	s.printf("credentials: %s\n", d.CredentialsFile())
	return nil
}

// startAll starts the daemons concurrently and waits for all to be ready.
func (s *Stack) startAll(ctx context.Context, ds ...daemon) error {
	var wg sync.WaitGroup
	errs := make([]error, len(ds))
	for i, dm := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started, err := dm.start(s.Dirs)
			if err != nil {
				errs[i] = err
				return
			}
			t0 := time.Now()
			rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := waitFor(rctx, s.Dirs, dm.Name, dm.Ready); err != nil {
				errs[i] = err
				return
			}
			pid, _ := runningPID(s.Dirs, dm.Name)
			if started {
				s.printf("%-22s started (pid %d, ready in %s)\n", dm.Name, pid, time.Since(t0).Round(time.Millisecond))
			} else {
				s.printf("%-22s already running (pid %d), healthy\n", dm.Name, pid)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// logSays waits for a line in a daemon's log written after its last start.
func (s *Stack) logSays(_ context.Context, name, needle string) error {
	f, err := os.Open(filepath.Join(s.Dirs.Logs(), name+".log"))
	if err != nil {
		return err
	}
	defer f.Close()
	found := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "=== ") {
			found = false // a newer start: only its lines count
		} else if strings.Contains(line, needle) {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("log has no %q yet", needle)
	}
	return nil
}

func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// The gateway panics on GET /system/functions when its Prometheus query
// gets no answer, so Prometheus runs even though nothing else needs it.
func (s *Stack) writePrometheusConfig() error {
	cfg := `# written by faasmon-stack up
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: gateway
    static_configs:
      - targets: ['127.0.0.1:8082']
`
	return os.WriteFile(filepath.Join(s.Dirs.Prometheus(), "prometheus.yml"), []byte(cfg), 0o600)
}

// Down stops every part, sweeps function processes, namespaces and veths
// the stack made, and restores ip_forward. Credentials and logs stay.
func (s *Stack) Down(ctx context.Context) error {
	d := s.Dirs
	var errs []error
	for _, name := range stopOrder {
		pid, running := runningPID(d, name)
		grace := 3 * time.Second
		if name == cProvider {
			grace = 20 * time.Second // it stops its functions first
		}
		if err := stopDaemon(d, name, grace); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", name, err))
		} else if running {
			s.printf("%-22s stopped (pid %d)\n", name, pid)
		}
	}
	if err := SweepInstances(d); err != nil {
		errs = append(errs, err)
	}
	// The queue's file store outlives a crash of the server, not a down:
	// the next `up` starts with an empty queue, as a new cluster does
	// (and a test run never receives the last run's messages).
	if err := os.RemoveAll(d.NATS()); err != nil {
		errs = append(errs, fmt.Errorf("remove the queue's store: %w", err))
	}
	if err := SweepNetwork(); err != nil {
		errs = append(errs, err)
	}
	if err := restoreIPForward(d); err != nil {
		errs = append(errs, err)
	}
	if left := append(OurNetns(), OurLinks()...); len(left) > 0 {
		errs = append(errs, fmt.Errorf("left behind: %v", left))
	}
	return errors.Join(errs...)
}

// ComponentStatus is one line of Status.
type ComponentStatus struct {
	Name    string
	PID     int
	Running bool
	Healthy bool
	Err     error
}

// Status reports each component's process and health.
func (s *Stack) Status(ctx context.Context) []ComponentStatus {
	checks := map[string]func(context.Context) error{
		cNATS:       func(ctx context.Context) error { return dialOK(ctx, NATSAddr) },
		cPrometheus: httpOK("http://" + PrometheusAddr + "/-/ready"),
		cProvider:   httpOK(ProviderURL + "/healthz"),
		cGateway:    httpOK(GatewayURL + "/healthz"),
		cWorker:     func(context.Context) error { return nil },
	}
	var out []ComponentStatus
	for i := len(stopOrder) - 1; i >= 0; i-- {
		name := stopOrder[i]
		pid, running := runningPID(s.Dirs, name)
		c := ComponentStatus{Name: name, PID: pid, Running: running}
		if running {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			c.Err = checks[name](cctx)
			cancel()
			c.Healthy = c.Err == nil
		}
		out = append(out, c)
	}
	return out
}

// Healthy reports whether every component runs and answers.
func (s *Stack) Healthy(ctx context.Context) bool {
	for _, c := range s.Status(ctx) {
		if !c.Healthy {
			return false
		}
	}
	return true
}

func dialOK(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// workerHosts writes the queue-worker's hosts file: the machine's, plus the
// gateway's in-cluster names on loopback.
func (s *Stack) workerHosts() (string, error) {
	base, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return "", fmt.Errorf("read /etc/hosts: %w", err)
	}
	p := filepath.Join(s.Dirs.Run(), "queue-worker.hosts")
	data := append(base, []byte("\n127.0.0.1\tgateway.openfaas gateway.openfaas.svc.cluster.local\n")...)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return "", fmt.Errorf("queue-worker hosts: %w", err)
	}
	return p, nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/envconf"
	"github.com/faasmon/faasmon/pkg/tracer"
	"github.com/faasmon/faasmon/pkg/tracer/backend"
	"github.com/faasmon/faasmon/pkg/tracer/backend/ebpf"
	stracebe "github.com/faasmon/faasmon/pkg/tracer/backend/strace"
	"github.com/faasmon/faasmon/pkg/tracer/backend/tcpdump"
	"github.com/faasmon/faasmon/pkg/tracer/chunker"
	"github.com/faasmon/faasmon/pkg/tracer/discovery"
	"github.com/faasmon/faasmon/pkg/tracer/metrics"
	"github.com/faasmon/faasmon/pkg/tracer/sender"
)

// env gives the flags' defaults: an unset or empty variable leaves the
// built-in default (envconf.Lookup.NonEmpty).
var env = envconf.Lookup(os.LookupEnv)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("faasmon-tracer", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	host, _ := os.Hostname()
	defSource := "local"
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		defSource = "kube"
	}
	source := flag.String("source", env.NonEmpty("FAASMON_SOURCE", defSource), "discovery source: kube | local [FAASMON_SOURCE]")
	node := flag.String("node", env.NonEmpty("NODE_NAME", host), "this node's name [NODE_NAME]")
	provider := flag.String("provider-url", env.NonEmpty("FAASMON_PROVIDER_URL", "http://127.0.0.1:8083"), "local provider (source=local) [FAASMON_PROVIDER_URL]")
	gateway := flag.String("gateway", env.NonEmpty("GATEWAY_URL", "http://127.0.0.1:8080"), "OpenFaaS gateway [GATEWAY_URL]")
	secretDir := flag.String("secret-dir", env.NonEmpty("FAASMON_SECRET_DIR", ""), "dir with the hop key (faasmon-hop-key) that signs every chunk [FAASMON_SECRET_DIR]")
	fn := flag.String("function", env.NonEmpty("FAASMON_PARSE_FUNCTION", "faasmon-parse"), "function receiving chunks [FAASMON_PARSE_FUNCTION]")
	fnNS := flag.String("function-namespace", env.NonEmpty("FAASMON_FUNCTION_NAMESPACE", "openfaas-fn"), "its namespace [FAASMON_FUNCTION_NAMESPACE]")
	queueBytes := flag.Int("queue-bytes", env.Int("FAASMON_QUEUE_BYTES", 64<<20), "send queue bound in bytes [FAASMON_QUEUE_BYTES]")
	listen := flag.String("listen", env.NonEmpty("FAASMON_LISTEN", "127.0.0.1:9464"), "metrics and health address, node-local by default [FAASMON_LISTEN]")
	pin := flag.String("pin", env.NonEmpty("FAASMON_PIN", string(stracebe.PinSameCPU)), "strace placement: same-cpu | off [FAASMON_PIN]")
	procRoot := flag.String("proc", env.NonEmpty("FAASMON_PROC", "/proc"), "host /proc (the tracer needs hostPID) [FAASMON_PROC]")
	kinds := flag.String("kinds", env.NonEmpty("FAASMON_KINDS", "auto"), "sensors to run: strace, pcap, ebpf (eBPF replaces strace; it needs CAP_BPF and CAP_PERFMON); auto: ebpf,pcap where the eBPF sensor loads, else strace,pcap [FAASMON_KINDS]")
	cgroupRoot := flag.String("cgroup-root", env.NonEmpty("FAASMON_CGROUP_ROOT", ""), "host cgroup v2 mount, where the ebpf sensor filters and strace rescans each container's processes; empty: found in /proc/self/mountinfo [FAASMON_CGROUP_ROOT]")
	cgroupParent := flag.String("cgroup-parent", env.NonEmpty("FAASMON_CGROUP_PARENT", ""), "ebpf: cgroup (under the cgroup root) whose new containers are traced from creation, before discovery names them: kubepods.slice (systemd driver) or kubepods on Kubernetes, faasmon-fn on the local stack; empty: from attachment [FAASMON_CGROUP_PARENT]")
	exclude := flag.String("exclude", env.NonEmpty("FAASMON_EXCLUDE", "faasmon-parse,faasmon-graph,faasmon-classify,faasmon-alert"), "functions never traced, comma-separated, each name (in -function-namespace) or namespace/name: the detector itself [FAASMON_EXCLUDE]")
	hbEvery := flag.Duration("heartbeat", time.Duration(env.PositiveInt("FAASMON_HEARTBEAT_SECONDS", int(sender.DefaultHeartbeat/time.Second)))*time.Second, "how often to tell faasmon-parse this node's tracer is alive, traffic or not: faasmon-graph alerts on a node silent for long [FAASMON_HEARTBEAT_SECONDS]")
	forward := flag.String("forward", env.NonEmpty("FAASMON_FORWARD", "sync"), "sync: a chunk is sent once faasmon-parse answered, after faasmon-graph stored it (a stage killed mid-chunk loses nothing: the chunk is retried from the queue); async: queued at the gateway as before [FAASMON_FORWARD]")
	strict := envconf.Strict{Lookup: env}
	withPprof := flag.Bool("pprof", strict.Bool("FAASMON_PPROF", false), "serve Go's profiles (/debug/pprof/) on -listen: where the tracer's own CPU goes [FAASMON_PPROF]")
	healthcheck := flag.String("healthcheck", "", "GET this URL, exit 0 on 200 (liveness probe; /healthz listens on 127.0.0.1 only)")
	flag.Parse()
	if err := strict.Err(); err != nil {
		return err
	}
	if *healthcheck != "" {
		return probe(*healthcheck)
	}

	// Locally functions are plain processes, not containers: the ebpf
	// sensor gives each a cgroup of its own to filter on.
	ebpf.Default.Configure(ebpf.Config{ProcRoot: *procRoot, CgroupRoot: *cgroupRoot, Adopt: *source == "local", FollowParent: *cgroupParent})
	if *kinds == "auto" {
		// eBPF where it loads: no ptrace stop, nothing the function can
		// see, a container followed from its creation. strace otherwise
		// (an old kernel, no cgroup v2, no CAP_BPF), said in the log.
		*kinds = "ebpf,pcap"
		if p, err := ebpf.Default.Probe(); err != nil {
			*kinds = "strace,pcap"
			log.Warn("the eBPF sensor does not load here: strace instead", "err", err)
		} else if p.ForkErr != nil {
			log.Warn("the eBPF sensor takes new processes from clone's return (no kernel BTF for sched_process_fork): a child that runs before it is not its parent's", "err", p.ForkErr)
		}
	}
	var ks []chunk.Kind
	for _, k := range strings.Split(*kinds, ",") {
		kind := chunk.Kind(strings.TrimSpace(k))
		if _, ok := backend.Lookup(kind); !ok {
			return fmt.Errorf("-kinds: unknown sensor %q (known: %v)", k, backend.Kinds())
		}
		ks = append(ks, kind)
	}
	if *forward != "sync" && *forward != "async" {
		return fmt.Errorf("-forward: want sync or async, got %q", *forward)
	}
	if p := stracebe.PinMode(*pin); p != stracebe.PinSameCPU && p != stracebe.PinOff {
		return fmt.Errorf("-pin: want same-cpu or off, got %q", *pin)
	}
	m := metrics.New()
	if slices.Contains(ks, chunk.KindEBPF) {
		if p, err := ebpf.Default.Probe(); err == nil {
			m.Registry.MustRegister(p.Collectors()...)
		}
	}
	// strace counts the processes its rescans find entering a container
	// (kubectl exec) in m.
	stracebe.Default.Configure(stracebe.Config{Pin: stracebe.PinMode(*pin), ProcRoot: *procRoot, Log: log, Metrics: m})
	tcpdump.Default.Configure(tcpdump.Config{})

	countErr := func(err error) {
		m.DiscoveryError.Inc()
		log.Warn("discovery", "err", err)
	}
	var src discovery.Source
	switch *source {
	case "kube":
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return fmt.Errorf("kubernetes config: %w", err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return fmt.Errorf("kubernetes client: %w", err)
		}
		src = &discovery.Kube{Client: cs, Node: *node, ProcRoot: *procRoot, CgroupRoot: *cgroupRoot, OnError: countErr}
	case "local":
		src = &discovery.Local{URL: strings.TrimRight(*provider, "/"), ProcRoot: *procRoot, CgroupRoot: *cgroupRoot, OnError: countErr}
	default:
		return fmt.Errorf("-source: want kube or local, got %q", *source)
	}

	snd, err := sender.New(sender.Config{
		Gateway: *gateway, Function: *fn, Namespace: *fnNS, SecretDir: *secretDir, QueueBytes: *queueBytes,
		Sync: *forward != "async",
	}, m)
	if err != nil {
		return err
	}
	// faasmon-parse refuses unsigned chunks: without the key the tracer
	// would only produce refusals, so fail at start.
	if *secretDir == "" {
		return fmt.Errorf("-secret-dir: the hop key's directory is required (faasmon-hop-key)")
	}
	if err := sender.CheckKeys(*secretDir); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tr := &tracer.Tracer{
		Source:  src,
		Sensor:  backend.RunConfig{Node: *node, ProcRoot: *procRoot, Log: log},
		Kinds:   ks,
		Sink:    func(c chunker.Chunk) { snd.Enqueue(c) },
		Metrics: m,
		Log:     log,
		Exclude: tracer.ExcludeList(*exclude, *fnNS),
	}
	log.Info("faasmon-tracer starting", "source", *source, "node", *node, "gateway", *gateway,
		"sensors", *kinds, "pin", *pin, "strace", "strace "+strings.Join(stracebe.Args(), " ")+" -p PID...")

	sendCtx, stopSend := context.WithCancel(context.Background())
	defer stopSend()
	var wg sync.WaitGroup
	wg.Go(func() { snd.Run(sendCtx) })
	wg.Go(func() { snd.Heartbeat(ctx, *node, *hbEvery) })
	errc := make(chan error, 2)
	var h http.Handler = tracer.Handler(m, func() bool { return tr.Healthy(10 * time.Second) }, tr.Attached)
	if *withPprof {
		h = withProfiles(h)
	}
	wg.Go(func() {
		err := tracer.Serve(ctx, *listen, h)
		if err != nil {
			stop() // no metrics/health endpoint: better to fail loudly than run blind
		}
		errc <- err
	})
	terr := tr.Run(ctx)
	stop()
	// Give the queue a moment to drain the last chunks, then give up on them
	// (they are counted as dropped, reason shutdown).
	snd.Close()
	drain := time.AfterFunc(5*time.Second, stopSend)
	defer drain.Stop()
	wg.Wait()
	close(errc)
	for err := range errc {
		terr = errors.Join(terr, err)
	}
	return terr
}

// withProfiles adds net/http/pprof's handlers to h. Off by default: a
// profile names the tracer's code paths and the listen address is
// node-local, but nothing needs them unless someone is measuring.
func withProfiles(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func probe(url string) error {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s", resp.Status)
	}
	return nil
}

package localstack

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openfaas/faas-provider/types"
)

// DefaultNamespace is the only function namespace of the local stack.
const DefaultNamespace = "openfaas-fn"

// ArtefactScheme prefixes a deployment's image on the local stack: the
// image is a build directory under <state>/build made by the builder,
// e.g. "local:/tmp/faasmon-stack/build/faasmon-parse".
const ArtefactScheme = "local:"

// Provider runs deployed functions as sandboxed processes (see sandbox.go)
// and serves the faas-provider API for them.
type Provider struct {
	dirs Dirs
	user sandboxUser
	log  *log.Logger

	// lifecycle serialises deploy/update/delete/scale/recycle: starting a
	// process takes a while and two of them racing for one function would
	// leak an instance. Reads (list, proxy) only take mu.
	lifecycle sync.Mutex
	mu        sync.RWMutex
	fns       map[string]*function
	slots     map[int]bool
	ready     time.Duration
}

// function is one deployed function; inst is nil while scaled to zero.
type function struct {
	dep      types.FunctionDeployment
	artefact string
	fprocess []string
	created  time.Time
	inst     *running
}

// NewProvider prepares the sandbox user, the state dirs and ip_forward, and
// sweeps leftovers of a previous provider that died.
func NewProvider(d Dirs, logger *log.Logger) (*Provider, error) {
	if err := d.Ensure(); err != nil {
		return nil, err
	}
	u, err := ensureSandboxUser()
	if err != nil {
		return nil, err
	}
	if err := SweepInstances(d); err != nil {
		logger.Printf("sweeping instances of a previous provider: %v", err)
	}
	if err := SweepNetwork(); err != nil {
		logger.Printf("sweeping namespaces of a previous provider: %v", err)
	}
	if err := enableIPForward(d); err != nil {
		return nil, err
	}
	return &Provider{dirs: d, user: u, log: logger, fns: map[string]*function{}, slots: map[int]bool{}, ready: readyTimeout()}, nil
}

// Shutdown stops every instance; the provider calls it on SIGTERM.
func (p *Provider) Shutdown() {
	p.lifecycle.Lock()
	defer p.lifecycle.Unlock()
	p.mu.Lock()
	fns := p.fns
	p.fns = map[string]*function{}
	p.mu.Unlock()
	for name, fn := range fns {
		if fn.inst != nil {
			p.log.Printf("shutdown: stopping %s (instance %s)", name, fn.inst.ID)
			p.stopInstance(fn.inst)
		}
	}
}

// requestError is a client mistake: the handlers answer it with its status.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &requestError{status: 400, msg: fmt.Sprintf(format, a...)}
}
func notFound(format string, a ...any) error {
	return &requestError{status: 404, msg: fmt.Sprintf(format, a...)}
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// splitName strips the namespace suffix the gateway and go-sdk add
// ("faasmon-parse.openfaas-fn").
func splitName(s string) (name, ns string) {
	name, ns, _ = strings.Cut(s, ".")
	if ns == "" {
		ns = DefaultNamespace
	}
	return name, ns
}

// validate checks a deployment and resolves its artefact and fprocess.
func (p *Provider) validate(dep *types.FunctionDeployment) (artefact string, fprocess []string, err error) {
	name, _ := splitName(dep.Service)
	if !nameRE.MatchString(name) {
		return "", nil, badRequest("invalid function name %q: use lower-case letters, digits and '-' (max 63)", dep.Service)
	}
	dep.Service = name
	if dep.Namespace != "" && dep.Namespace != DefaultNamespace {
		return "", nil, badRequest("namespace %q not supported: the local stack has only %s", dep.Namespace, DefaultNamespace)
	}
	dep.Namespace = DefaultNamespace
	path, ok := strings.CutPrefix(dep.Image, ArtefactScheme)
	if !ok || !filepath.IsAbs(path) {
		return "", nil, badRequest("image %q: the local provider runs build directories, not container images; use %s/abs/path from `faasmon-stack deploy`", dep.Image, ArtefactScheme)
	}
	path = filepath.Clean(path)
	if !within(p.dirs.Build(), path) || path == p.dirs.Build() {
		return "", nil, badRequest("image path %s is outside the build root %s", path, p.dirs.Build())
	}
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		return "", nil, badRequest("image path %s is not a built function directory", path)
	}
	proc := dep.EnvProcess
	if proc == "" {
		m, err := ReadManifest(path)
		if err != nil {
			return "", nil, badRequest("image path %s: %v", path, err)
		}
		proc = m.FProcess
	}
	fprocess = splitFProcess(proc)
	if len(fprocess) == 0 {
		return "", nil, badRequest("function %s has no fprocess", name)
	}
	for _, s := range dep.Secrets {
		if !nameRE.MatchString(s) {
			return "", nil, badRequest("invalid secret name %q", s)
		}
		if _, err := os.Stat(filepath.Join(p.dirs.FnSecrets(), s)); err != nil {
			return "", nil, badRequest("secret %q not found: create it with POST /system/secrets first", s)
		}
	}
	return path, fprocess, nil
}

// deploy starts (or replaces, when update) a function.
func (p *Provider) deploy(ctx context.Context, dep types.FunctionDeployment, update bool) error {
	artefact, fprocess, err := p.validate(&dep)
	if err != nil {
		return err
	}
	p.lifecycle.Lock()
	defer p.lifecycle.Unlock()

	p.mu.RLock()
	old := p.fns[dep.Service]
	p.mu.RUnlock()
	if update && old == nil {
		return notFound("function %s not found", dep.Service)
	}
	fn := &function{dep: dep, artefact: artefact, fprocess: fprocess, created: time.Now().UTC()}
	if old != nil {
		fn.created = old.created
		// One replica at most: replace the running instance.
		p.detach(old)
	}
	inst, err := p.startFor(ctx, fn)
	if err != nil {
		p.mu.Lock()
		delete(p.fns, dep.Service)
		p.mu.Unlock()
		return err
	}
	fn.inst = inst
	p.mu.Lock()
	p.fns[dep.Service] = fn
	p.mu.Unlock()
	return nil
}

// startFor starts an instance of fn in a free network slot. Callers hold
// lifecycle.
func (p *Provider) startFor(ctx context.Context, fn *function) (*running, error) {
	slot, err := p.allocSlot()
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	if fn.dep.Labels != nil {
		for k, v := range *fn.dep.Labels {
			labels[k] = v
		}
	}
	inst, err := p.startInstance(ctx, startOptions{
		Name: fn.dep.Service, Namespace: fn.dep.Namespace,
		Artefact: fn.artefact, FProcess: fn.fprocess, Env: fn.dep.EnvVars,
		Secrets: fn.dep.Secrets, Labels: labels, Slot: slot, Ready: p.ready,
	})
	if err != nil {
		p.freeSlot(slot)
		return nil, err
	}
	p.log.Printf("started %s: instance %s pid %d netns %s ip %s", fn.dep.Service, inst.ID, inst.PID, inst.slot.NS, inst.IP)
	go p.watch(fn.dep.Service, inst)
	return inst, nil
}

// watch restarts an instance that dies on its own, as the kubelet restarts
// a crashed container (restartPolicy Always): until then the function shows
// 0 available replicas and its requests get a 503. The pause keeps a
// function that crashes at once from spinning.
func (p *Provider) watch(name string, inst *running) {
	<-inst.done
	if !p.isCurrent(name, inst) {
		return // stopped on purpose: scaled, recycled, removed or shut down
	}
	p.log.Printf("instance %s of %s (pid %d) exited: %v; restarting in %v", inst.ID, name, inst.PID, inst.exitErr, restartDelay)
	time.Sleep(restartDelay)
	ctx, cancel := context.WithTimeout(context.Background(), p.ready+10*time.Second)
	defer cancel()
	next, err := p.recycle(ctx, name, inst.ID)
	if err != nil {
		p.log.Printf("restart %s: %v", name, err)
		return
	}
	p.log.Printf("restarted %s: instance %s pid %d", name, next.ID, next.PID)
}

// restartDelay is the pause before a crashed instance is restarted.
const restartDelay = time.Second

func (p *Provider) isCurrent(name string, inst *running) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	fn := p.fns[name]
	return fn != nil && fn.inst == inst
}

// detach stops fn's instance and frees its slot. Callers hold lifecycle.
func (p *Provider) detach(fn *function) {
	p.mu.Lock()
	inst := fn.inst
	fn.inst = nil
	p.mu.Unlock()
	if inst != nil {
		p.log.Printf("stopping %s: instance %s pid %d", fn.dep.Service, inst.ID, inst.PID)
		p.stopInstance(inst)
		p.freeSlot(inst.slot.N)
	}
}

func (p *Provider) remove(name string) error {
	p.lifecycle.Lock()
	defer p.lifecycle.Unlock()
	p.mu.RLock()
	fn := p.fns[name]
	p.mu.RUnlock()
	if fn == nil {
		return notFound("function %s not found", name)
	}
	p.detach(fn)
	p.mu.Lock()
	delete(p.fns, name)
	p.mu.Unlock()
	return nil
}

// scale supports 0 and 1 replicas; more are capped at one process.
func (p *Provider) scale(ctx context.Context, name string, replicas uint64) error {
	p.lifecycle.Lock()
	defer p.lifecycle.Unlock()
	p.mu.RLock()
	fn := p.fns[name]
	p.mu.RUnlock()
	if fn == nil {
		return notFound("function %s not found", name)
	}
	if replicas == 0 {
		p.detach(fn)
		return nil
	}
	if replicas > 1 {
		p.log.Printf("scale %s to %d: the local stack runs one instance per function", name, replicas)
	}
	if fn.inst != nil && processAlive(fn.inst.PID) {
		return nil
	}
	p.detach(fn) // a dead instance still holds its namespace
	inst, err := p.startFor(ctx, fn)
	if err != nil {
		return err
	}
	p.mu.Lock()
	fn.inst = inst
	p.mu.Unlock()
	return nil
}

// recycle replaces the instance by a fresh one (new copy, new /tmp, new ID).
// When id is set it must name the current instance, so that a stale
// request cannot kill a newer instance.
func (p *Provider) recycle(ctx context.Context, name, id string) (Instance, error) {
	p.lifecycle.Lock()
	defer p.lifecycle.Unlock()
	p.mu.RLock()
	fn := p.fns[name]
	p.mu.RUnlock()
	if fn == nil {
		return Instance{}, notFound("function %s not found", name)
	}
	if fn.inst == nil {
		return Instance{}, &requestError{status: 409, msg: fmt.Sprintf("function %s is scaled to zero", name)}
	}
	if id != "" && fn.inst.ID != id {
		return Instance{}, &requestError{status: 409, msg: fmt.Sprintf("instance %s of %s is not the current one (%s)", id, name, fn.inst.ID)}
	}
	p.detach(fn)
	inst, err := p.startFor(ctx, fn)
	if err != nil {
		return Instance{}, err
	}
	p.mu.Lock()
	fn.inst = inst
	p.mu.Unlock()
	return inst.Instance, nil
}

func (p *Provider) allocSlot() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := 1; n <= maxSlot; n++ {
		if p.slots[n] {
			continue
		}
		// A namespace of that name that we do not know about belongs to
		// someone else (another state dir): leave it alone.
		if _, err := os.Stat(slotFor(n).Path()); err == nil {
			continue
		}
		p.slots[n] = true
		return n, nil
	}
	return 0, errors.New("no free network slot (10.62.1-250.0/24 all in use)")
}

func (p *Provider) freeSlot(n int) {
	p.mu.Lock()
	delete(p.slots, n)
	p.mu.Unlock()
}

// status builds the OpenFaaS view of a function. Callers hold mu.
func (fn *function) status() types.FunctionStatus {
	d := fn.dep
	s := types.FunctionStatus{
		Name: d.Service, Image: d.Image, Namespace: d.Namespace, EnvProcess: strings.Join(fn.fprocess, " "),
		EnvVars: d.EnvVars, Constraints: d.Constraints, Secrets: d.Secrets, Labels: d.Labels,
		Annotations: d.Annotations, Limits: d.Limits, Requests: d.Requests,
		ReadOnlyRootFilesystem: d.ReadOnlyRootFilesystem, CreatedAt: fn.created,
	}
	if fn.inst != nil {
		s.Replicas = 1
		select {
		case <-fn.inst.done:
		default:
			s.AvailableReplicas = 1
		}
	}
	return s
}

func (p *Provider) list() []types.FunctionStatus {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]types.FunctionStatus, 0, len(p.fns))
	for _, fn := range p.fns {
		out = append(out, fn.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (p *Provider) instances() []Instance {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := []Instance{}
	for _, fn := range p.fns {
		if fn.inst != nil && processAlive(fn.inst.PID) {
			out = append(out, fn.inst.Instance)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Function < out[j].Function })
	return out
}

// target returns where to proxy a function's requests.
func (p *Provider) target(name string) (string, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	fn := p.fns[name]
	if fn == nil {
		return "", notFound("function %s not found", name)
	}
	if fn.inst == nil {
		return "", &requestError{status: 503, msg: fmt.Sprintf("function %s is scaled to zero", name)}
	}
	select {
	case <-fn.inst.done:
		return "", &requestError{status: 503, msg: fmt.Sprintf("function %s: instance %s exited", name, fn.inst.ID)}
	default:
	}
	return "http://" + netJoin(fn.inst.IP, FunctionPort), nil
}

// readyTimeout may be set by FAASMON_READY_TIMEOUT (seconds), for slow CI.
func readyTimeout() time.Duration {
	if s := os.Getenv("FAASMON_READY_TIMEOUT"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 30 * time.Second
}

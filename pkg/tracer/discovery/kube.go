package discovery

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// FunctionLabel marks OpenFaaS function pods (faas-netes sets it to the
// function's name).
const FunctionLabel = "faas_function"

// Kube watches the function pods scheduled on one node and resolves their
// containers to host processes through /proc/<pid>/cgroup (the tracer runs
// with hostPID, so these are the host's PIDs, the ones strace -p needs).
type Kube struct {
	Client   kubernetes.Interface
	Node     string
	ProcRoot string        // default /proc
	Resync   time.Duration // how often to re-resolve processes, default 1s
	OnError  func(error)
	// CgroupRoot is the host's cgroup v2 mount as the tracer sees it
	// (default: found in ProcRoot/self/mountinfo), where each container's
	// cgroup (Target.Cgroup) is looked up.
	CgroupRoot string

	cache   map[string][]int  // container id → its PIDs, from the last scan
	cgroups map[string]string // container id → its cgroup directory ("" if none found)
}

// Run starts the informer and reports a snapshot on every pod change and
// every Resync (containers whose processes were not yet visible).
func (k *Kube) Run(ctx context.Context, update func([]Target)) error {
	if k.Node == "" {
		return fmt.Errorf("kubernetes discovery: node name is empty (set NODE_NAME from spec.nodeName)")
	}
	resync := k.Resync
	if resync <= 0 || resync > time.Second {
		resync = time.Second
	}
	factory := informers.NewSharedInformerFactoryWithOptions(k.Client, 0,
		informers.WithTweakListOptions(func(o *v1.ListOptions) {
			// Only this node's function pods ever reach us: the API server
			// filters, so the watch stays small on a big cluster.
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.Node).String()
			o.LabelSelector = FunctionLabel
		}))
	inf := factory.Core().V1().Pods()
	kick := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, n any) { poke(n) },
		DeleteFunc: poke,
	}); err != nil {
		return fmt.Errorf("kubernetes discovery: add pod handler: %w", err)
	}
	lister := inf.Lister()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return fmt.Errorf("kubernetes discovery: pod cache never synced: %w", ctx.Err())
	}
	t := time.NewTicker(resync)
	defer t.Stop()
	for {
		pods, err := lister.List(labels.Everything())
		if err != nil {
			if k.OnError != nil {
				k.OnError(fmt.Errorf("list pods from cache: %w", err))
			}
		} else {
			update(k.Snapshot(pods))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-kick:
		case <-t.C:
		}
	}
}

// ContainerID strips the runtime prefix ("containerd://", "cri-o://",
// "docker://") from a container status's id.
func ContainerID(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		return s[i+3:]
	}
	return s
}

// Snapshot resolves the running containers of pods to targets.
func (k *Kube) Snapshot(pods []*corev1.Pod) []Target {
	proc := k.ProcRoot
	if proc == "" {
		proc = "/proc"
	}
	type want struct {
		pod   *corev1.Pod
		id    string
		image string
	}
	var wants []want
	missing := false
	for _, p := range pods {
		fn := p.Labels[FunctionLabel]
		// The API server already filters by node and label; checking again
		// costs nothing and keeps a wrong selector (or a fake clientset, which
		// ignores field selectors) from attaching to another node's PIDs.
		if fn == "" || p.Spec.NodeName != k.Node {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running == nil || cs.ContainerID == "" {
				continue
			}
			id := ContainerID(cs.ContainerID)
			if len(id) < 12 {
				continue // too short to match cgroup paths safely
			}
			// The image digest (imageID) names the code version: a
			// redeploy gets a new one, and profiles re-learn.
			image := cs.ImageID
			if image == "" {
				image = cs.Image
			}
			wants = append(wants, want{p, id, image})
			if !k.alive(proc, k.cache[id]) {
				missing = true
			}
		}
	}
	if missing {
		ids := make([]string, len(wants))
		for i, w := range wants {
			ids[i] = w.id
		}
		found, err := ScanCgroups(proc, ids)
		if err != nil && k.OnError != nil {
			k.OnError(err)
		}
		k.cache = found
	} else {
		// Forget containers that left, keep the rest.
		next := make(map[string][]int, len(wants))
		for _, w := range wants {
			next[w.id] = k.cache[w.id]
		}
		k.cache = next
	}
	// Forget the cgroups of containers that left; a container's cgroup is
	// looked up once (it keeps it for life).
	cgs := make(map[string]string, len(wants))
	for _, w := range wants {
		if cg, ok := k.cgroups[w.id]; ok {
			cgs[w.id] = cg
		}
	}
	k.cgroups = cgs
	var out []Target
	for _, w := range wants {
		pids := k.cache[w.id]
		if len(pids) == 0 {
			continue // not visible yet: the next resync tries again
		}
		top := topProcess(proc, pids)
		st, err := ProcStart(proc, top)
		if err != nil {
			continue
		}
		cg, ok := k.cgroups[w.id]
		if !ok {
			cg = k.cgroupOf(proc, w.id, top)
			k.cgroups[w.id] = cg
		}
		out = append(out, Target{
			Key: w.id, Function: w.pod.Labels[FunctionLabel], Namespace: w.pod.Namespace,
			Pod: w.pod.Name, Container: w.id, Image: w.image, PID: top, PIDs: pids, Cgroup: cg,
			NetNS:      filepath.Join(proc, strconv.Itoa(top), "ns", "net"),
			StartTicks: st,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// cgroupOf is the cgroup directory of container id's top process, "" if
// it cannot be found or does not name the container (then Members falls
// back to ScanCgroups).
func (k *Kube) cgroupOf(proc, id string, top int) string {
	// The container's own cgroup is the one that names it (the pod's
	// parent holds its other containers too).
	return cgroupOf(proc, k.CgroupRoot, top, func(dir string) bool { return strings.Contains(filepath.Base(dir), id) })
}

func (k *Kube) alive(proc string, pids []int) bool {
	if len(pids) == 0 {
		return false
	}
	_, err := os.Stat(filepath.Join(proc, strconv.Itoa(pids[0])))
	return err == nil
}

// maxProcs bounds one /proc scan.
const maxProcs = 1 << 20

// ScanCgroups maps each container id to the PIDs whose cgroup path names it.
func ScanCgroups(procRoot string, ids []string) (map[string][]int, error) {
	out := make(map[string][]int, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return out, fmt.Errorf("scan %s: %w", procRoot, err)
	}
	if len(ents) > maxProcs {
		ents = ents[:maxProcs]
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cgroup"))
		if err != nil {
			continue // the process ended during the scan
		}
		for _, id := range ids {
			if bytes.Contains(b, []byte(id)) {
				out[id] = append(out[id], pid)
				break
			}
		}
	}
	for _, pids := range out {
		sort.Ints(pids)
	}
	return out, nil
}

// topProcess is the process of the set whose parent is outside it (the
// container's init), else the lowest PID.
func topProcess(procRoot string, pids []int) int {
	in := make(map[int]bool, len(pids))
	for _, p := range pids {
		in[p] = true
	}
	for _, p := range pids {
		pp, err := ppid(procRoot, p)
		if err == nil && !in[pp] {
			return p
		}
	}
	return pids[0]
}

func ppid(procRoot string, pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat of %d: no comm", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("stat of %d: short", pid)
	}
	return strconv.Atoi(string(f[1]))
}

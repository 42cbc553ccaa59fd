package alert

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/faasmon/faasmon/pkg/provider"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Response is off by default and turned on per function by this label.
const (
	ResponseLabel   = "com.faasmon.response"
	ResponseRecycle = "recycle"
)

// FunctionLabel is the label faas-netes puts on a function's pods.
const FunctionLabel = "faas_function"

// Target names the compromised container.
type Target struct {
	Function  string `json:"function"`
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Container string `json:"container,omitempty"`
	Node      string `json:"node,omitempty"`
}

// Action statuses.
const (
	ActionDone    = "done"
	ActionFailed  = "failed"
	ActionSkipped = "skipped"
)

// Action is a response taken for an alert, recorded in it.
type Action struct {
	Kind       string    `json:"kind"`      // "recycle"
	Responder  string    `json:"responder"` // "kubernetes", "localstack"
	Target     Target    `json:"target"`
	Status     string    `json:"status"` // ActionDone, ActionFailed, ActionSkipped
	Detail     string    `json:"detail,omitempty"`
	Error      string    `json:"error,omitempty"`
	Time       time.Time `json:"time"`
	DurationMS float64   `json:"duration_ms"`
}

// Responder recycles a compromised warm container, so that what a payload
// left behind in it cannot be reused: the platform starts a fresh one.
type Responder interface {
	Recycle(ctx context.Context, t Target) (Action, error)
}

// LabelLookup finds a function's labels when the verdict does not carry
// them.
type LabelLookup interface {
	Labels(ctx context.Context, function, namespace string) (map[string]string, error)
}

// StaticLabels is a LabelLookup from a map keyed by "function" or
// "function.namespace".
type StaticLabels map[string]map[string]string

func (s StaticLabels) Labels(_ context.Context, fn, ns string) (map[string]string, error) {
	if l, ok := s[qualified(fn, ns)]; ok {
		return l, nil
	}
	return s[fn], nil
}

func newAction(responder string, t Target, start time.Time) Action {
	return Action{Kind: ResponseRecycle, Responder: responder, Target: t, Time: start.UTC()}
}

func finish(a Action, start time.Time, err error) (Action, error) {
	a.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		a.Status = ActionFailed
		a.Error = err.Error()
	} else if a.Status == "" {
		a.Status = ActionDone
	}
	return a, err
}

// KubernetesResponder deletes the function's pod; the function's
// Deployment (OpenFaaS) recreates it. It only deletes a pod that carries
// the function's faas_function label (a verdict cannot make it delete
// anything else), with a UID precondition (never a recreated pod of the
// same name). Without a pod name it finds the pod by container id. It needs
// RBAC: get, list and delete on pods in the functions' namespace.
type KubernetesResponder struct {
	Client kubernetes.Interface
	// GracePeriod for the delete; nil: the pod's own. A payload is stopped
	// soonest with 0.
	GracePeriod *int64
	// DefaultNamespace when the target has none (openfaas-fn).
	DefaultNamespace string
}

func (k *KubernetesResponder) Recycle(ctx context.Context, t Target) (Action, error) {
	start := time.Now()
	a := newAction("kubernetes", t, start)
	ns := t.Namespace
	if ns == "" {
		ns = k.DefaultNamespace
	}
	if ns == "" {
		ns = "openfaas-fn"
	}
	a.Target.Namespace = ns
	pod, err := k.findPod(ctx, ns, t)
	if err != nil {
		return finish(a, start, err)
	}
	if pod == nil {
		a.Status = ActionSkipped
		a.Detail = "container no longer runs in any pod of the function"
		return finish(a, start, nil)
	}
	a.Target.Pod = pod.Name
	if pod.Labels[FunctionLabel] != t.Function {
		return finish(a, start, fmt.Errorf("pod %s/%s has %s=%q, not function %q: refusing to delete", ns, pod.Name, FunctionLabel, pod.Labels[FunctionLabel], t.Function))
	}
	uid := pod.UID
	opts := metav1.DeleteOptions{GracePeriodSeconds: k.GracePeriod, Preconditions: &metav1.Preconditions{UID: &uid}}
	if err := k.Client.CoreV1().Pods(ns).Delete(ctx, pod.Name, opts); err != nil {
		if apierrors.IsNotFound(err) {
			a.Status = ActionSkipped
			a.Detail = "pod already gone"
			return finish(a, start, nil)
		}
		return finish(a, start, fmt.Errorf("delete pod %s/%s: %w", ns, pod.Name, err))
	}
	a.Detail = fmt.Sprintf("deleted pod %s/%s", ns, pod.Name)
	return finish(a, start, nil)
}

// findPod returns the target's pod: by name (checking the container still
// runs in it when statuses say so), else by container id among the
// function's pods. nil, nil: the container is gone.
func (k *KubernetesResponder) findPod(ctx context.Context, ns string, t Target) (*corev1.Pod, error) {
	if t.Pod != "" {
		pod, err := k.Client.CoreV1().Pods(ns).Get(ctx, t.Pod, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get pod %s/%s: %w", ns, t.Pod, err)
		}
		if t.Container != "" && len(pod.Status.ContainerStatuses) > 0 && !hasContainer(pod, t.Container) {
			return nil, nil
		}
		return pod, nil
	}
	if t.Container == "" {
		return nil, fmt.Errorf("no pod or container to recycle for %s", t.Function)
	}
	list, err := k.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: FunctionLabel + "=" + t.Function})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s in %s: %w", t.Function, ns, err)
	}
	for i := range list.Items {
		if hasContainer(&list.Items[i], t.Container) {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// hasContainer matches a container id ("containerd://abc…", "abc…", or a
// prefix of at least 12 characters) or name against the pod's containers.
func hasContainer(p *corev1.Pod, c string) bool {
	c = stripRuntime(c)
	for _, s := range p.Status.ContainerStatuses {
		id := stripRuntime(s.ContainerID)
		if s.Name == c || (id != "" && (id == c || (len(c) >= 12 && strings.HasPrefix(id, c)))) {
			return true
		}
	}
	return false
}

func stripRuntime(id string) string {
	if i := strings.Index(id, "://"); i >= 0 {
		return id[i+3:]
	}
	return id
}

// KubernetesLabels looks labels up on the pod (faas-netes copies the
// function's labels there) or, without a pod, on the function's Deployment.
type KubernetesLabels struct {
	Client           kubernetes.Interface
	DefaultNamespace string
}

func (k *KubernetesLabels) Labels(ctx context.Context, fn, ns string) (map[string]string, error) {
	if ns == "" {
		ns = k.DefaultNamespace
	}
	if ns == "" {
		ns = "openfaas-fn"
	}
	d, err := k.Client.AppsV1().Deployments(ns).Get(ctx, fn, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("labels of %s.%s: %w", fn, ns, err)
	}
	out := map[string]string{}
	for k, v := range d.Spec.Template.Labels {
		out[k] = v
	}
	for k, v := range d.Labels {
		out[k] = v
	}
	return out, nil
}

// LocalStackResponder asks the local provider to replace the function's
// process (fresh private copy, fresh /tmp): POST
// <BaseURL>/faasmon/recycle?function=NAME[&id=INSTANCE_ID]. The container id
// of a local-stack graph is the instance id.
type LocalStackResponder struct {
	BaseURL string // http://127.0.0.1:8083
	Client  *http.Client
}

func (l *LocalStackResponder) Recycle(ctx context.Context, t Target) (Action, error) {
	start := time.Now()
	a := newAction("localstack", t, start)
	q := url.Values{"function": {t.Function}}
	if t.Container != "" {
		q.Set("id", t.Container)
	}
	u := strings.TrimRight(l.BaseURL, "/") + provider.RecyclePath + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return finish(a, start, err)
	}
	c := l.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return finish(a, start, fmt.Errorf("recycle %s: %w", t.Function, err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	detail := strings.TrimSpace(string(body))
	if resp.StatusCode/100 != 2 {
		return finish(a, start, fmt.Errorf("recycle %s: %s: %s", t.Function, resp.Status, detail))
	}
	a.Detail = detail
	if a.Detail == "" {
		a.Detail = resp.Status
	}
	return finish(a, start, nil)
}

// LocalStackLabels reads labels from the provider's instance list
// (GET <BaseURL>/faasmon/instances).
type LocalStackLabels struct {
	BaseURL string
	Client  *http.Client
}

func (l *LocalStackLabels) Labels(ctx context.Context, fn, ns string) (map[string]string, error) {
	list, err := provider.FetchInstances(ctx, l.Client, l.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("labels of %s: %w", fn, err)
	}
	for _, in := range list {
		if in.Function == fn && (ns == "" || in.Namespace == "" || in.Namespace == ns) {
			return in.Labels, nil
		}
	}
	return nil, nil
}

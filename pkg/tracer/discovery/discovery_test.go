package discovery

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/faasmon/faasmon/pkg/provider"
)

const (
	idEcho  = "3f1c2b7e9d8a6c5b4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d"
	idHello = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
	proc    = "testdata/proc"
)

func pod(name, node, fn, cid string, running bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "openfaas-fn", Labels: map[string]string{}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if fn != "" {
		p.Labels[FunctionLabel] = fn
	}
	cs := corev1.ContainerStatus{Name: fn, ContainerID: "containerd://" + cid}
	if running {
		cs.State.Running = &corev1.ContainerStateRunning{}
	} else {
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		cs.ContainerID = ""
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
	return p
}

func TestProcStartAndScan(t *testing.T) {
	st, err := ProcStart(proc, 300) // comm "hello world)" has a space and a ')'
	if err != nil || st != 2000 {
		t.Fatalf("ProcStart = %d, %v", st, err)
	}
	got, err := ScanCgroups(proc, []string{idEcho, idHello, "deadbeefdeadbeef"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{idEcho: {200, 201}, idHello: {300}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ScanCgroups = %v, want %v", got, want)
	}
	if top := topProcess(proc, []int{200, 201}); top != 200 {
		t.Fatalf("top = %d", top)
	}
}

type snaps struct {
	mu sync.Mutex
	s  [][]Target
}

func (s *snaps) update(ts []Target) { s.mu.Lock(); s.s = append(s.s, ts); s.mu.Unlock() }
func (s *snaps) last() []Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.s) == 0 {
		return nil
	}
	return s.s[len(s.s)-1]
}

func keys(ts []Target) []string {
	var k []string
	for _, t := range ts {
		k = append(k, t.Key)
	}
	return k
}

func waitKeys(t *testing.T, s *snaps, want []string) []Target {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second) // the bound for following changes
	for {
		l := s.last()
		if reflect.DeepEqual(keys(l), want) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot keys = %v, want %v within 2s", keys(l), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKube drives the informer through a fake clientset: only this node's
// running function containers become targets, with host PIDs from the fake
// /proc; a deleted pod disappears.
func TestKube(t *testing.T) {
	cs := fake.NewClientset(
		pod("echo-1", "node-a", "echo", idEcho, true),
		pod("other-node", "node-b", "echo", idHello, true),
		pod("not-a-function", "node-a", "", idHello, true),
	)
	k := &Kube{Client: cs, Node: "node-a", ProcRoot: proc, Resync: 50 * time.Millisecond}
	var s snaps
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- k.Run(ctx, s.update) }()

	ts := waitKeys(t, &s, []string{idEcho})
	want := Target{Key: idEcho, Function: "echo", Namespace: "openfaas-fn", Pod: "echo-1", Container: idEcho,
		PID: 200, PIDs: []int{200, 201}, NetNS: proc + "/200/ns/net", StartTicks: 1000}
	if !reflect.DeepEqual(ts[0], want) {
		t.Fatalf("target = %+v\nwant %+v", ts[0], want)
	}
	// A new replica, first waiting, then running.
	p := pod("hello-1", "node-a", "hello", idHello, false)
	if _, err := cs.CoreV1().Pods("openfaas-fn").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := keys(s.last()); !reflect.DeepEqual(got, []string{idEcho}) {
		t.Fatalf("waiting container attached: %v", got)
	}
	p = pod("hello-1", "node-a", "hello", idHello, true)
	if _, err := cs.CoreV1().Pods("openfaas-fn").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitKeys(t, &s, []string{idEcho, idHello})
	// Scale to zero.
	for _, n := range []string{"echo-1", "hello-1"} {
		if err := cs.CoreV1().Pods("openfaas-fn").Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitKeys(t, &s, nil)
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Fatalf("Run = %v", err)
	}
}

// TestLocal serves /faasmon/instances from httptest and follows a restart
// (new ID), a new replica and scale to zero.
func TestLocal(t *testing.T) {
	self := os.Getpid()
	var mu sync.Mutex
	insts := []provider.Instance{{Function: "echo", Namespace: "openfaas-fn", ID: "echo-a", PID: self, NetNS: "/run/netns/faasmon-1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != provider.InstancesPath {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(insts)
	}))
	defer srv.Close()
	set := func(v []provider.Instance) { mu.Lock(); insts = v; mu.Unlock() }

	var errMu sync.Mutex
	var errs []error
	l := &Local{URL: srv.URL, Interval: 100 * time.Millisecond, OnError: func(err error) { errMu.Lock(); errs = append(errs, err); errMu.Unlock() }}
	var s snaps
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = l.Run(ctx, s.update) }()

	ts := waitKeys(t, &s, []string{"echo-a"})
	if ts[0].PID != self || ts[0].NetNS != "/run/netns/faasmon-1" || ts[0].Container != "echo-a" || ts[0].StartTicks == 0 {
		t.Fatalf("target %+v", ts[0])
	}
	// Recycled (new ID), plus a second replica; an instance whose PID does not
	// exist is left out.
	set([]provider.Instance{
		{Function: "echo", ID: "echo-b", PID: self},
		{Function: "echo", ID: "echo-c", PID: self},
		{Function: "ghost", ID: "ghost-1", PID: 1 << 30},
	})
	waitKeys(t, &s, []string{"echo-b", "echo-c"})
	set(nil)
	waitKeys(t, &s, nil)
	// Provider down: the last snapshot stays, the error is reported.
	n := len(s.s)
	srv.Close()
	time.Sleep(300 * time.Millisecond)
	errMu.Lock()
	nerr := len(errs)
	errMu.Unlock()
	if nerr == 0 {
		t.Fatal("no error reported for an unreachable provider")
	}
	s.mu.Lock()
	if len(s.s) != n {
		t.Errorf("a failed poll produced a snapshot")
	}
	s.mu.Unlock()
}

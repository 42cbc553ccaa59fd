package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/faasmon/faasmon/internal/dev/localstack"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func pod(name, fn, containerID string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "openfaas-fn", UID: types.UID("uid-" + name), Labels: map[string]string{FunctionLabel: fn}},
		Status:     corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: fn, ContainerID: "containerd://" + containerID}}},
	}
}

func TestKubernetesResponder(t *testing.T) {
	tests := []struct {
		name       string
		objects    []runtime.Object
		target     Target
		wantStatus string
		wantErr    bool
		deleted    string // pod that must be gone
		kept       []string
	}{
		{"delete by pod name", []runtime.Object{pod("resize-a", "resize", "c0ffee1234567890"), pod("resize-b", "resize", "beef")},
			Target{Function: "resize", Namespace: "openfaas-fn", Pod: "resize-a", Container: "c0ffee1234567890"}, ActionDone, false, "resize-a", []string{"resize-b"}},
		{"find pod by container id prefix", []runtime.Object{pod("resize-a", "resize", "c0ffee1234567890"), pod("resize-b", "resize", "beef")},
			Target{Function: "resize", Container: "c0ffee123456"}, ActionDone, false, "resize-a", []string{"resize-b"}},
		{"refuse a pod of another function", []runtime.Object{pod("gateway-x", "other", "c0ffee")},
			Target{Function: "resize", Namespace: "openfaas-fn", Pod: "gateway-x"}, ActionFailed, true, "", []string{"gateway-x"}},
		{"container already replaced", []runtime.Object{pod("resize-a", "resize", "newcontainer")},
			Target{Function: "resize", Namespace: "openfaas-fn", Pod: "resize-a", Container: "oldcontainer99"}, ActionSkipped, false, "", []string{"resize-a"}},
		{"pod gone", nil, Target{Function: "resize", Namespace: "openfaas-fn", Pod: "resize-a"}, ActionSkipped, false, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(tc.objects...)
			zero := int64(0)
			r := &KubernetesResponder{Client: cs, GracePeriod: &zero}
			act, err := r.Recycle(context.Background(), tc.target)
			if (err != nil) != tc.wantErr || act.Status != tc.wantStatus || act.Kind != ResponseRecycle || act.Responder != "kubernetes" {
				t.Fatalf("action %+v, err %v; want status %s", act, err, tc.wantStatus)
			}
			pods := cs.CoreV1().Pods("openfaas-fn")
			if tc.deleted != "" {
				if _, err := pods.Get(context.Background(), tc.deleted, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("pod %s not deleted: %v", tc.deleted, err)
				}
				if act.Target.Pod != tc.deleted {
					t.Errorf("action target pod %q", act.Target.Pod)
				}
			}
			for _, k := range tc.kept {
				if _, err := pods.Get(context.Background(), k, metav1.GetOptions{}); err != nil {
					t.Errorf("pod %s deleted: %v", k, err)
				}
			}
		})
	}
}

func TestKubernetesLabels(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "resize", Namespace: "openfaas-fn", Labels: map[string]string{ResponseLabel: ResponseRecycle}}}
	l := &KubernetesLabels{Client: fake.NewClientset(d)}
	got, err := l.Labels(context.Background(), "resize", "")
	if err != nil || got[ResponseLabel] != ResponseRecycle {
		t.Errorf("%v %v", got, err)
	}
	if _, err := l.Labels(context.Background(), "nope", "openfaas-fn"); err == nil {
		t.Error("no error for a missing function")
	}
}

func TestLocalStackResponder(t *testing.T) {
	var gotMethod, gotPath, gotFn, gotID string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case localstack.RecyclePath:
			gotMethod, gotPath, gotFn, gotID = r.Method, r.URL.Path, r.URL.Query().Get("function"), r.URL.Query().Get("id")
			if gotFn == "missing" {
				http.Error(w, "no such function", http.StatusNotFound)
				return
			}
			w.Write([]byte(`{"id":"new-instance"}`))
		case localstack.InstancesPath:
			json.NewEncoder(w).Encode([]localstack.Instance{{Function: "resize", Namespace: "openfaas-fn", ID: "i1", Labels: map[string]string{ResponseLabel: ResponseRecycle}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	r := &LocalStackResponder{BaseURL: srv.URL + "/"}
	act, err := r.Recycle(context.Background(), Target{Function: "resize", Container: "i1"})
	if err != nil || act.Status != ActionDone || act.Responder != "localstack" || act.Detail != `{"id":"new-instance"}` {
		t.Fatalf("%+v %v", act, err)
	}
	if gotMethod != http.MethodPost || gotPath != "/faasmon/recycle" || gotFn != "resize" || gotID != "i1" {
		t.Errorf("request %s %s function=%s id=%s", gotMethod, gotPath, gotFn, gotID)
	}
	act, err = r.Recycle(context.Background(), Target{Function: "missing"})
	if err == nil || act.Status != ActionFailed {
		t.Errorf("%+v %v", act, err)
	}
	labels, err := (&LocalStackLabels{BaseURL: srv.URL}).Labels(context.Background(), "resize", "openfaas-fn")
	if err != nil || labels[ResponseLabel] != ResponseRecycle {
		t.Errorf("labels %v %v", labels, err)
	}
	// End to end: the label found on the provider turns the response on.
	p := &Processor{Responder: r, Labels: &LocalStackLabels{BaseURL: srv.URL}, Response: "label"}
	res, err := p.Process(context.Background(), attackVerdict())
	if err != nil || res.Alert.Action == nil || res.Alert.Action.Status != ActionDone || gotID != "c0ffee" {
		t.Errorf("%+v %v id=%s", res.Alert.Action, err, gotID)
	}
}

// TestForgedVerdictLabels: a verdict that names a function and carries
// com.faasmon.response=recycle in its own Labels (a forged or altered
// verdict) does not recycle that function when its deployment, as the
// provider lists it, lacks the label; the same verdict does when the
// deployment has it.
func TestForgedVerdictLabels(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deployed map[string]string
		recycles int
	}{
		{"deployment without the label", map[string]string{"com.openfaas.scale.min": "1"}, 0},
		{"deployment with the label", map[string]string{ResponseLabel: ResponseRecycle}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recycles := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case localstack.RecyclePath:
					recycles++
					w.Write([]byte(`{"id":"new"}`))
				case localstack.InstancesPath:
					json.NewEncoder(w).Encode([]localstack.Instance{{Function: "resize", Namespace: "openfaas-fn", ID: "c0ffee", Labels: tc.deployed}})
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			v := attackVerdict()
			v.Labels = map[string]string{ResponseLabel: ResponseRecycle}
			p := &Processor{Responder: &LocalStackResponder{BaseURL: srv.URL}, Labels: &LocalStackLabels{BaseURL: srv.URL}, Response: "label"}
			res, err := p.Process(context.Background(), v)
			if err != nil {
				t.Fatal(err)
			}
			if recycles != tc.recycles || (res.Alert.Action != nil) != (tc.recycles > 0) {
				t.Errorf("%d recycles, action %+v; want %d", recycles, res.Alert.Action, tc.recycles)
			}
		})
	}
}

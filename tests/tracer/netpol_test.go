package tracer_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// pod is a connection end: its namespace and labels as the cluster sets
// them (faas-netes's faas_function, OpenFaaS's chart's app).
type pod struct {
	ns     string
	labels map[string]string
}

func fn(name string) pod { return pod{"openfaas-fn", map[string]string{"faas_function": name}} }
func of(app string) pod  { return pod{"openfaas", map[string]string{"app": app}} }

var tracerPod = pod{"faasmon", map[string]string{"app.kubernetes.io/name": "faasmon-tracer"}}

// allowed evaluates Kubernetes NetworkPolicy ingress semantics for a TCP
// connection from src to port on dst: a pod no Ingress policy selects
// takes everything; a selected pod takes what some selecting policy's rule
// allows (peers and ports). Namespaces carry only
// kubernetes.io/metadata.name, as Kubernetes sets it.
func allowed(t *testing.T, pols []*networkingv1.NetworkPolicy, src, dst pod, port int32) bool {
	t.Helper()
	sel := func(s *metav1.LabelSelector) labels.Selector {
		l, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			t.Fatalf("selector %v: %v", s, err)
		}
		return l
	}
	isolated := false
	for _, p := range pols {
		ingress := false
		for _, pt := range p.Spec.PolicyTypes {
			ingress = ingress || pt == networkingv1.PolicyTypeIngress
		}
		if !ingress || p.Namespace != dst.ns || !sel(&p.Spec.PodSelector).Matches(labels.Set(dst.labels)) {
			continue
		}
		isolated = true
		for _, r := range p.Spec.Ingress {
			portOK := len(r.Ports) == 0
			for _, pp := range r.Ports {
				if (pp.Protocol == nil || *pp.Protocol == corev1.ProtocolTCP) && (pp.Port == nil || pp.Port.IntVal == port) {
					portOK = true
				}
			}
			peerOK := len(r.From) == 0
			for _, peer := range r.From {
				if peer.IPBlock != nil {
					continue // no address rules here
				}
				nsOK := src.ns == p.Namespace
				if peer.NamespaceSelector != nil {
					nsOK = sel(peer.NamespaceSelector).Matches(labels.Set{"kubernetes.io/metadata.name": src.ns})
				}
				podOK := peer.PodSelector == nil || sel(peer.PodSelector).Matches(labels.Set(src.labels))
				if nsOK && podOK {
					peerOK = true
				}
			}
			if portOK && peerOK {
				return true
			}
		}
	}
	return !isolated
}

// TestNetworkPolicies: only OpenFaaS's gateway and queue-worker reach the
// detector functions' pods, only OpenFaaS and the detector functions that
// use it reach NATS, and nothing reaches the tracer. The rest of "only
// tracers feed faasmon-parse" is the hop MAC (pkg/hopauth): the gateway
// cannot be split by path at the network layer.
func TestNetworkPolicies(t *testing.T) {
	var pols []*networkingv1.NetworkPolicy
	for _, o := range decodeAll(t, daemonSetEBPF) {
		if p, ok := o.(*networkingv1.NetworkPolicy); ok {
			pols = append(pols, p)
		}
	}
	if len(pols) == 0 {
		t.Fatal("no NetworkPolicy in tracer-daemonset/")
	}
	victim := fn("purchase-authorize-cc")
	for _, tc := range []struct {
		name     string
		src, dst pod
		port     int32
		want     bool
	}{
		{"gateway → faasmon-parse", of("gateway"), fn("faasmon-parse"), 8080, true},
		{"queue-worker → faasmon-classify", of("queue-worker"), fn("faasmon-classify"), 8080, true},
		{"gateway → faasmon-alert (callback)", of("gateway"), fn("faasmon-alert"), 8080, true},
		{"user function → faasmon-parse pod", victim, fn("faasmon-parse"), 8080, false},
		{"user function → faasmon-alert pod", victim, fn("faasmon-alert"), 8080, false},
		{"tracer → faasmon-parse pod (must use the gateway)", tracerPod, fn("faasmon-parse"), 8080, false},
		{"faasmon-graph → faasmon-classify pod (the queue, not direct)", fn("faasmon-graph"), fn("faasmon-classify"), 8080, false},
		{"a pod of another namespace → faasmon-graph", pod{"default", map[string]string{"app": "gateway"}}, fn("faasmon-graph"), 8080, false},
		{"gateway → faasmon-parse on another port", of("gateway"), fn("faasmon-parse"), 8081, false},
		{"gateway → NATS", of("gateway"), of("nats"), 4222, true},
		{"queue-worker → NATS", of("queue-worker"), of("nats"), 4222, true},
		{"faasmon-classify → NATS (outbox)", fn("faasmon-classify"), of("nats"), 4222, true},
		{"faasmon-alert → NATS (outbox, alerts)", fn("faasmon-alert"), of("nats"), 4222, true},
		{"user function → NATS", victim, of("nats"), 4222, false},
		{"function named gateway in openfaas-fn → NATS", pod{"openfaas-fn", map[string]string{"app": "gateway", "faas_function": "gateway"}}, of("nats"), 4222, false},
		{"tracer → NATS", tracerPod, of("nats"), 4222, false},
		{"prometheus → NATS monitoring", of("prometheus"), of("nats"), 8222, true},
		{"user function → NATS monitoring", victim, of("nats"), 8222, false},
		{"user function → tracer", victim, tracerPod, 9464, false},
		// Not the detector's to close: the gateway and user functions.
		{"user function → gateway (function chaining)", victim, of("gateway"), 8080, true},
		{"tracer → gateway", tracerPod, of("gateway"), 8080, true},
		{"user function → user function", victim, fn("photo-receive"), 8080, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := allowed(t, pols, tc.src, tc.dst, tc.port); got != tc.want {
				t.Errorf("allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

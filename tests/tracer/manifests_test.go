package tracer_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

// The DaemonSets: eBPF by default (tracer-daemonset/), strace where the
// eBPF sensor does not load (tracer-daemonset/strace/, applied after it).
const (
	daemonSetEBPF   = "../../tracer-daemonset/daemonset.yaml"
	daemonSetStrace = "../../tracer-daemonset/strace/daemonset.yaml"
)

// decodeAll decodes what `kubectl apply -f tracer-daemonset/` applies, with
// daemonSet as the DaemonSet (one of the two above).
func decodeAll(t *testing.T, daemonSet string) []runtime.Object {
	t.Helper()
	all, err := filepath.Glob("../../tracer-daemonset/*.yaml")
	if err != nil || len(all) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var files []string
	for _, f := range all {
		if filepath.Clean(f) != filepath.Clean(daemonSetEBPF) {
			files = append(files, f)
		}
	}
	files = append(files, daemonSet)
	dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var objs []runtime.Object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---")) {
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			obj, gvk, err := dec.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			t.Logf("%s: %s", filepath.Base(f), gvk.Kind)
			objs = append(objs, obj)
		}
	}
	return objs
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	_, _, err := dec.Decode([]byte("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\nhostPid: true\n"), nil, nil)
	if err == nil {
		t.Fatal("strict decoding accepted an unknown field")
	}
}

// TestManifests checks the strace variant: what it is granted is what
// strace and tcpdump need, nothing more (TestManifestEBPF: the default).
func TestManifests(t *testing.T) {
	objs := decodeAll(t, daemonSetStrace)
	kinds := map[string]int{}
	var ds *appsv1.DaemonSet
	for _, o := range objs {
		switch v := o.(type) {
		case *corev1.Namespace:
			kinds["Namespace"]++
		case *corev1.ServiceAccount:
			kinds["ServiceAccount"]++
		case *corev1.ConfigMap:
			kinds["ConfigMap"]++
		case *rbacv1.ClusterRole:
			kinds["ClusterRole"]++
			want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}}
			if !reflect.DeepEqual(v.Rules, want) {
				t.Errorf("ClusterRole rules = %+v, want pods get/list/watch only", v.Rules)
			}
		case *rbacv1.ClusterRoleBinding:
			kinds["ClusterRoleBinding"]++
			if v.RoleRef.Name != "faasmon-tracer" || len(v.Subjects) != 1 || v.Subjects[0].Name != "faasmon-tracer" || v.Subjects[0].Namespace != "faasmon" {
				t.Errorf("binding %+v", v)
			}
		case *appsv1.DaemonSet:
			kinds["DaemonSet"]++
			ds = v
		case *networkingv1.NetworkPolicy:
			kinds["NetworkPolicy"]++ // their meaning: netpol_test.go
		default:
			t.Errorf("unexpected object %T", o)
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "DaemonSet"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s, want 1", kinds[k], k)
		}
	}
	if ds == nil {
		t.FailNow()
	}
	ps := ds.Spec.Template.Spec
	if !ps.HostPID || ps.HostNetwork || ps.HostIPC {
		t.Errorf("hostPID %v hostNetwork %v hostIPC %v: want true false false", ps.HostPID, ps.HostNetwork, ps.HostIPC)
	}
	if ps.ServiceAccountName != "faasmon-tracer" {
		t.Errorf("serviceAccountName %q", ps.ServiceAccountName)
	}
	if len(ps.Tolerations) == 0 {
		t.Error("no tolerations: the tracer would skip tainted nodes")
	}
	if len(ps.Containers) != 1 || len(ps.InitContainers) != 0 {
		t.Fatalf("%d containers", len(ps.Containers))
	}
	c := ps.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no securityContext/capabilities")
	}
	if sc.Privileged == nil || *sc.Privileged {
		t.Error("privileged must be explicitly false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("root filesystem must be read-only")
	}
	// runAsNonRoot is not applicable (ptrace of other users' processes,
	// setns and packet sockets need uid 0 with capabilities): assert that
	// nobody claims it, so the manifest and this test say the same thing.
	if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot {
		t.Error("runAsNonRoot set but the tracer needs uid 0")
	}
	if !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("drop = %v, want [ALL]", sc.Capabilities.Drop)
	}
	var add []string
	for _, c := range sc.Capabilities.Add {
		add = append(add, string(c))
	}
	sort.Strings(add)
	if want := []string{"NET_RAW", "SETGID", "SETUID", "SYS_ADMIN", "SYS_NICE", "SYS_PTRACE"}; !reflect.DeepEqual(add, want) {
		t.Errorf("capabilities = %v, want exactly %v", add, want)
	}
	if c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("no cpu/memory limits")
	}
	// Every hostPath is mounted read-only, and only /proc and the cgroup tree.
	hostPaths := map[string]string{}
	for _, v := range ps.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	if !reflect.DeepEqual(hostPaths, map[string]string{"host-proc": "/proc", "host-cgroup": "/sys/fs/cgroup"}) {
		t.Errorf("hostPath volumes = %v", hostPaths)
	}
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			t.Errorf("mount %s (%s) is writable", m.Name, m.MountPath)
		}
	}
	// NODE_NAME comes from the downward API.
	found := false
	for _, e := range c.Env {
		if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			found = true
		}
	}
	if !found {
		t.Error("NODE_NAME not from spec.nodeName")
	}
	// Its sensors are its own, not the ConfigMap's (which the eBPF
	// DaemonSet shares).
	kindsSet := false
	for _, e := range c.Env {
		if e.Name == "FAASMON_KINDS" {
			kindsSet = e.Value == "strace,pcap"
		}
	}
	if !kindsSet {
		t.Error("FAASMON_KINDS not strace,pcap in the strace DaemonSet's env")
	}
}

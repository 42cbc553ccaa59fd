package tracer_test

import (
	"bytes"
	"os"
	"reflect"
	"sort"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

// TestManifestEBPF checks the default DaemonSet, the eBPF sensor's, the way
// TestManifests checks the strace one: strict decoding, and security
// settings that are exactly the intended ones (CAP_BPF and CAP_PERFMON,
// nothing of what strace and tcpdump needed).
func TestManifestEBPF(t *testing.T) {
	const file = daemonSetEBPF
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var ds *appsv1.DaemonSet
	for i, doc := range bytes.Split(b, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("%s document %d: %v", file, i, err)
		}
		d, ok := obj.(*appsv1.DaemonSet)
		if !ok || ds != nil {
			t.Fatalf("%s: want exactly one DaemonSet, got %T", file, obj)
		}
		ds = d
	}
	if ds == nil {
		t.Fatal("no DaemonSet")
	}
	// It replaces the strace DaemonSet: same name and selector, so that
	// applying one rolls the other out rather than running both.
	if ds.Name != "faasmon-tracer" || ds.Namespace != "faasmon" {
		t.Errorf("name %s/%s, want faasmon/faasmon-tracer", ds.Namespace, ds.Name)
	}
	if !reflect.DeepEqual(ds.Spec.Selector.MatchLabels, map[string]string{"app.kubernetes.io/name": "faasmon-tracer"}) {
		t.Errorf("selector %v", ds.Spec.Selector.MatchLabels)
	}
	ps := ds.Spec.Template.Spec
	if ps.HostNetwork || ps.HostIPC {
		t.Errorf("hostNetwork %v hostIPC %v: want false", ps.HostNetwork, ps.HostIPC)
	}
	if ps.ServiceAccountName != "faasmon-tracer" || len(ps.Tolerations) == 0 {
		t.Errorf("serviceAccountName %q, %d tolerations", ps.ServiceAccountName, len(ps.Tolerations))
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
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false: nothing is exec'd")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("root filesystem must be read-only")
	}
	if !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("drop = %v, want [ALL]", sc.Capabilities.Drop)
	}
	var add []string
	for _, c := range sc.Capabilities.Add {
		add = append(add, string(c))
	}
	sort.Strings(add)
	if want := []string{"BPF", "PERFMON"}; !reflect.DeepEqual(add, want) {
		t.Errorf("capabilities = %v, want exactly %v", add, want)
	}
	if sc.AppArmorProfile == nil || sc.AppArmorProfile.Type != corev1.AppArmorProfileTypeRuntimeDefault {
		t.Errorf("appArmorProfile %v: the eBPF sensor traces nobody, the default profile stays", sc.AppArmorProfile)
	}
	if c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("no cpu/memory limits")
	}
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
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if e := env["FAASMON_KINDS"]; e.Value != "ebpf" {
		t.Errorf("FAASMON_KINDS = %q, want ebpf", e.Value)
	}
	if e := env["FAASMON_CGROUP_ROOT"]; e.Value != "/host/sys/fs/cgroup" {
		t.Errorf("FAASMON_CGROUP_ROOT = %q", e.Value)
	}
	if e := env["NODE_NAME"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Error("NODE_NAME not from spec.nodeName")
	}
}

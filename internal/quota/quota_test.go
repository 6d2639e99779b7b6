package quota

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func show(l corev1.ResourceList) string {
	var names []corev1.ResourceName
	for n := range l {
		names = append(names, n)
	}
	sortNames(names)
	return Format(l, names)
}

func sortNames(ns []corev1.ResourceName) {
	for i := range ns {
		for j := i + 1; j < len(ns); j++ {
			if ns[j] < ns[i] {
				ns[i], ns[j] = ns[j], ns[i]
			}
		}
	}
}

func TestUsage(t *testing.T) {
	c := func(req, lim corev1.ResourceList) corev1.Container {
		return corev1.Container{Name: "c", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
	}
	tests := []struct {
		name string
		gr   schema.GroupResource
		obj  interface{}
		want string
	}{
		{"pod sums containers", schema.GroupResource{Resource: "pods"},
			&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{c(rl("cpu", "100m"), rl("memory", "1Gi")), c(rl("cpu", "150m"), nil)}}},
			"count/pods=1,cpu=250m,limits.memory=1Gi,pods=1,requests.cpu=250m"},
		{"init container larger, plus overhead", schema.GroupResource{Resource: "pods"},
			&corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{c(rl("cpu", "1"), nil)}, Containers: []corev1.Container{c(rl("cpu", "100m"), nil)},
				Overhead: rl("cpu", "50m")}},
			"count/pods=1,cpu=1050m,pods=1,requests.cpu=1050m"},
		{"finished pod charges nothing", schema.GroupResource{Resource: "pods"},
			&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{c(rl("cpu", "1"), nil)}}, Status: corev1.PodStatus{Phase: corev1.PodFailed}}, ""},
		{"load balancer", schema.GroupResource{Resource: "services"},
			&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 1}, {Port: 2}}}},
			"count/services=1,services=1,services.loadbalancers=1,services.nodeports=2"},
		{"claim", schema.GroupResource{Resource: "persistentvolumeclaims"},
			&corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", "3Gi")}}},
			"count/persistentvolumeclaims=1,persistentvolumeclaims=1,requests.storage=3Gi"},
		{"other group", schema.GroupResource{Group: "apps", Resource: "deployments"}, &struct{}{}, "count/deployments.apps=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := show(Usage(tc.gr, tc.obj)); got != tc.want {
				t.Fatalf("usage %s, want %s", got, tc.want)
			}
		})
	}
}

func TestExceeded(t *testing.T) {
	tests := []struct {
		hard, used, req corev1.ResourceList
		want            string
	}{
		{rl("pods", "2"), rl("pods", "1"), rl("pods", "1"), "[]"},
		{rl("pods", "2"), rl("pods", "2"), rl("pods", "1"), "[pods]"},
		{rl("pods", "5", "requests.cpu", "1"), rl("pods", "1", "requests.cpu", "900m"), rl("pods", "1", "requests.cpu", "200m"), "[requests.cpu]"},
		{rl("requests.memory", "1Gi"), nil, rl("requests.memory", "1025Mi", "pods", "1"), "[requests.memory]"},
	}
	for i, tc := range tests {
		if got := fmt.Sprint(Exceeded(tc.hard, tc.used, tc.req)); got != tc.want {
			t.Errorf("%d: exceeded %s, want %s", i, got, tc.want)
		}
	}
	msg := ExceededMessage("q1", rl("pods", "2", "requests.cpu", "1"), rl("pods", "2"), rl("pods", "1", "requests.cpu", "2"),
		[]corev1.ResourceName{"pods", "requests.cpu"})
	if want := "exceeded quota: q1, requested: pods=1,requests.cpu=2, used: pods=2,requests.cpu=0, limited: pods=2,requests.cpu=1"; msg != want {
		t.Errorf("message\n got %s\nwant %s", msg, want)
	}
}

func TestMissingCompute(t *testing.T) {
	spec := &corev1.PodSpec{Containers: []corev1.Container{
		{Name: "a", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "1"), Limits: rl("cpu", "1")}},
		{Name: "b", Resources: corev1.ResourceRequirements{Requests: rl("memory", "1Gi")}},
	}}
	tests := []struct {
		hard corev1.ResourceList
		want string
	}{
		{rl("pods", "1"), "[]"},
		{rl("requests.cpu", "1"), "[requests.cpu for: b]"},
		{rl("cpu", "1", "limits.memory", "1Gi"), "[cpu for: b limits.memory for: a,b]"},
	}
	for i, tc := range tests {
		if got := fmt.Sprint(MissingCompute(tc.hard, spec)); got != tc.want {
			t.Errorf("%d: missing %s, want %s", i, got, tc.want)
		}
	}
}

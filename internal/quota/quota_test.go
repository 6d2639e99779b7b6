package quota

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/registry"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func show(l corev1.ResourceList) string { return Format(l, registry.SortedResourceNames(l)) }

func sidecar(c corev1.Container) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	c.RestartPolicy = &always
	return c
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
		{"sidecars add to the containers", schema.GroupResource{Resource: "pods"},
			&corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{sidecar(c(rl("cpu", "200m"), nil)), c(rl("cpu", "250m"), nil)},
				Containers: []corev1.Container{c(rl("cpu", "100m"), nil)}}},
			"count/pods=1,cpu=450m,pods=1,requests.cpu=450m"},
		{"an init step after a sidecar counts both", schema.GroupResource{Resource: "pods"},
			&corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{sidecar(c(rl("cpu", "200m"), nil)), c(rl("cpu", "1"), nil)},
				Containers: []corev1.Container{c(rl("cpu", "100m"), nil)}}},
			"count/pods=1,cpu=1200m,pods=1,requests.cpu=1200m"},
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

func TestCovers(t *testing.T) {
	deadline := int64(30)
	best := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	high := &corev1.Pod{Spec: corev1.PodSpec{PriorityClassName: "high", ActiveDeadlineSeconds: &deadline,
		Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}}}}}
	cross := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}, Affinity: &corev1.Affinity{
		PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{Namespaces: []string{"other"}, TopologyKey: "x"}}}}}}
	sel := func(scope corev1.ResourceQuotaScope, op corev1.ScopeSelectorOperator, values ...string) *corev1.ScopeSelector {
		return &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{{ScopeName: scope, Operator: op, Values: values}}}
	}
	pods := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name   string
		scopes []corev1.ResourceQuotaScope
		sel    *corev1.ScopeSelector
		want   string // best high cross
	}{
		{"no scope", nil, nil, "111"},
		{"best effort", []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}, nil, "101"},
		{"not best effort and terminating", []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopeTerminating}, nil, "010"},
		{"not terminating", []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotTerminating}, nil, "101"},
		{"priority class in", nil, sel(corev1.ResourceQuotaScopePriorityClass, corev1.ScopeSelectorOpIn, "high", "mid"), "010"},
		{"priority class not in", nil, sel(corev1.ResourceQuotaScopePriorityClass, corev1.ScopeSelectorOpNotIn, "high"), "101"},
		{"priority class exists", nil, sel(corev1.ResourceQuotaScopePriorityClass, corev1.ScopeSelectorOpExists), "010"},
		{"cross-namespace affinity", []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeCrossNamespacePodAffinity}, nil, "001"},
		{"selector on a plain scope", nil, sel(corev1.ResourceQuotaScopeBestEffort, corev1.ScopeSelectorOpDoesNotExist), "010"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Scopes: tc.scopes, ScopeSelector: tc.sel}}
			if !Supported(q) {
				t.Fatal("not supported")
			}
			got := ""
			for _, p := range []*corev1.Pod{best, high, cross} {
				if Covers(q, pods, p) {
					got += "1"
				} else {
					got += "0"
				}
			}
			if got != tc.want {
				t.Fatalf("covers %s, want %s", got, tc.want)
			}
			if tc.want != "111" && Covers(q, schema.GroupResource{Resource: "services"}, &corev1.Service{}) {
				t.Fatal("a scoped quota covers a service")
			}
		})
	}
}

package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// fitsOn runs every filter for pod against each named node of a cluster and
// returns the reasons per node ("" when it fits).
func fitsOn(nodes []*corev1.Node, existing []*corev1.Pod, p *corev1.Pod) map[string][]string {
	snap := NewSnapshot(nodes, existing)
	c := newCycle(snap, NewPodInfo(p))
	out := map[string][]string{}
	for _, ni := range snap.Nodes {
		if st := c.fits(ni); st != nil {
			out[ni.Name()] = st.Reasons
		} else {
			out[ni.Name()] = nil
		}
	}
	return out
}

func TestFiltersSingleNode(t *testing.T) {
	sidecar := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name     string
		node     *corev1.Node
		existing []*corev1.Pod
		pod      *corev1.Pod
		want     []string
	}{
		{"fits", node("n", 1000, 1024), nil, pod("p", 500, 512), nil},
		{"no requests fit anywhere with room for pods", node("n", 0, 0), nil, pod("p", 0, 0), nil},
		{"insufficient cpu", node("n", 1000, 1024), []*corev1.Pod{pod("a", 600, 0, on("n"))}, pod("p", 500, 0), []string{"Insufficient cpu"}},
		{"insufficient cpu and memory", node("n", 1000, 1024), []*corev1.Pod{pod("a", 600, 600, on("n"))}, pod("p", 500, 500),
			[]string{"Insufficient cpu", "Insufficient memory"}},
		{"exactly full fits", node("n", 1000, 1024), []*corev1.Pod{pod("a", 500, 0, on("n"))}, pod("p", 500, 0), nil},
		{"too many pods", node("n", 1000, 1024, maxPods(1)), []*corev1.Pod{pod("a", 0, 0, on("n"))}, pod("p", 0, 0), []string{"Too many pods"}},
		{"extended resource", node("n", 1000, 1024, withScalar("example.com/gpu", 1)), nil,
			pod("p", 0, 0, func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = resource.MustParse("2")
			}), []string{"Insufficient example.com/gpu"}},
		{"ephemeral storage", node("n", 1000, 1024), nil,
			pod("p", 0, 0, func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources.Requests[corev1.ResourceEphemeralStorage] = resource.MustParse("1Gi")
			}), []string{"Insufficient ephemeral-storage"}},
		{"init container larger than app counts", node("n", 1000, 1024), nil,
			pod("p", 100, 0, func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}}}}
			}), []string{"Insufficient cpu"}},
		{"sidecar adds to app containers", node("n", 1000, 1024), nil,
			pod("p", 600, 0, func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "s", RestartPolicy: &sidecar, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}}}
			}), []string{"Insufficient cpu"}},
		{"overhead counts", node("n", 1000, 1024), nil,
			pod("p", 900, 0, func(p *corev1.Pod) {
				p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}
			}),
			[]string{"Insufficient cpu"}},
		{"limit without request counts as request", node("n", 1000, 1024), nil,
			pod("p", 0, 0, func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
			}), []string{"Insufficient cpu"}},
		{"cordoned", node("n", 1000, 1024, cordoned), nil, pod("p", 0, 0), []string{"node(s) were unschedulable"}},
		{"cordoned but tolerated", node("n", 1000, 1024, cordoned), nil,
			pod("p", 0, 0, tolerate(corev1.TaintNodeUnschedulable, corev1.TolerationOpExists, "", corev1.TaintEffectNoSchedule)), nil},
		{"not ready acts as the not-ready taint", node("n", 1000, 1024, notReady), nil, pod("p", 0, 0),
			[]string{"node(s) had untolerated taint {node.kubernetes.io/not-ready: }"}},
		{"not ready tolerated", node("n", 1000, 1024, notReady), nil,
			pod("p", 0, 0, tolerate(corev1.TaintNodeNotReady, corev1.TolerationOpExists, "", "")), nil},
		{"NoSchedule taint", node("n", 1000, 1024, withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil, pod("p", 0, 0),
			[]string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"NoExecute taint", node("n", 1000, 1024, withTaint("k", "", corev1.TaintEffectNoExecute)), nil, pod("p", 0, 0),
			[]string{"node(s) had untolerated taint {k: }"}},
		{"PreferNoSchedule does not filter", node("n", 1000, 1024, withTaint("k", "", corev1.TaintEffectPreferNoSchedule)), nil, pod("p", 0, 0), nil},
		{"taint tolerated by Equal", node("n", 1000, 1024, withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil,
			pod("p", 0, 0, tolerate("dedicated", corev1.TolerationOpEqual, "gpu", corev1.TaintEffectNoSchedule)), nil},
		{"toleration with wrong value", node("n", 1000, 1024, withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil,
			pod("p", 0, 0, tolerate("dedicated", corev1.TolerationOpEqual, "cpu", corev1.TaintEffectNoSchedule)),
			[]string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"toleration for another effect", node("n", 1000, 1024, withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)), nil,
			pod("p", 0, 0, tolerate("dedicated", corev1.TolerationOpExists, "", corev1.TaintEffectNoExecute)),
			[]string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"nodeSelector matches", node("n", 1000, 1024, withLabels("disk", "ssd")), nil, pod("p", 0, 0, nodeSelector("disk", "ssd")), nil},
		{"nodeSelector does not match", node("n", 1000, 1024, withLabels("disk", "hdd")), nil, pod("p", 0, 0, nodeSelector("disk", "ssd")),
			[]string{reasonNodeAffinity}},
		{"affinity In", node("n", 1000, 1024, withLabels("zone", "a")), nil,
			pod("p", 0, 0, requiredNodeTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}})), nil},
		{"affinity NotIn", node("n", 1000, 1024, withLabels("zone", "a")), nil,
			pod("p", 0, 0, requiredNodeTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"a"}}}})),
			[]string{reasonNodeAffinity}},
		{"affinity Exists", node("n", 1000, 1024, withLabels("gpu", "")), nil,
			pod("p", 0, 0, requiredNodeTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "gpu", Operator: corev1.NodeSelectorOpExists}}})), nil},
		{"affinity DoesNotExist", node("n", 1000, 1024, withLabels("gpu", "")), nil,
			pod("p", 0, 0, requiredNodeTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "gpu", Operator: corev1.NodeSelectorOpDoesNotExist}}})),
			[]string{reasonNodeAffinity}},
		{"affinity Gt", node("n", 1000, 1024, withLabels("cores", "16")), nil,
			pod("p", 0, 0, requiredNodeTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "cores", Operator: corev1.NodeSelectorOpGt, Values: []string{"8"}}}})), nil},
		{"affinity Lt fails", node("n", 1000, 1024, withLabels("cores", "16")), nil,
			pod("p", 0, 0, requiredNodeTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "cores", Operator: corev1.NodeSelectorOpLt, Values: []string{"8"}}}})),
			[]string{reasonNodeAffinity}},
		{"terms are ORed", node("n", 1000, 1024, withLabels("zone", "b")), nil,
			pod("p", 0, 0, requiredNodeTerms(
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}},
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}})), nil},
		{"matchFields metadata.name", node("n", 1000, 1024), nil,
			pod("p", 0, 0, requiredNodeTerms(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n"}}}})), nil},
		{"matchFields other name", node("n", 1000, 1024), nil,
			pod("p", 0, 0, requiredNodeTerms(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"m"}}}})),
			[]string{reasonNodeAffinity}},
		{"empty term matches nothing", node("n", 1000, 1024), nil, pod("p", 0, 0, requiredNodeTerms(corev1.NodeSelectorTerm{})),
			[]string{reasonNodeAffinity}},
		{"host port free", node("n", 1000, 1024), []*corev1.Pod{pod("a", 0, 0, on("n"), hostPort(80))}, pod("p", 0, 0, hostPort(8080)), nil},
		{"host port taken", node("n", 1000, 1024), []*corev1.Pod{pod("a", 0, 0, on("n"), hostPort(80))}, pod("p", 0, 0, hostPort(80)), []string{reasonPorts}},
		{"host port on another protocol", node("n", 1000, 1024), []*corev1.Pod{pod("a", 0, 0, on("n"), hostPort(80))},
			pod("p", 0, 0, hostPort(80), func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = corev1.ProtocolUDP }), nil},
		{"host port on another IP", node("n", 1000, 1024),
			[]*corev1.Pod{pod("a", 0, 0, on("n"), hostPort(80), func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostIP = "10.0.0.1" })},
			pod("p", 0, 0, hostPort(80), func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostIP = "10.0.0.2" }), nil},
		{"host port wildcard conflicts with an IP", node("n", 1000, 1024),
			[]*corev1.Pod{pod("a", 0, 0, on("n"), hostPort(80), func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostIP = "10.0.0.1" })},
			pod("p", 0, 0, hostPort(80)), []string{reasonPorts}},
		{"finished pods free their resources", node("n", 1000, 1024),
			[]*corev1.Pod{pod("a", 1000, 0, on("n"), func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })}, pod("p", 1000, 0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fitsOn([]*corev1.Node{tt.node}, tt.existing, tt.pod)[tt.node.Name]
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("reasons = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFiltersAcrossNodes(t *testing.T) {
	zoned := func(name, zone string) *corev1.Node { return node(name, 4000, 4096, withLabels(labelZone, zone)) }
	web := map[string]string{"app": "web"}
	tests := []struct {
		name     string
		nodes    []*corev1.Node
		existing []*corev1.Pod
		pod      *corev1.Pod
		want     map[string][]string
	}{
		{
			name:     "anti-affinity keeps replicas apart by hostname",
			nodes:    []*corev1.Node{zoned("a", "z1"), zoned("b", "z1")},
			existing: []*corev1.Pod{pod("w1", 0, 0, on("a"), podLabels("app", "web"))},
			pod:      pod("w2", 0, 0, podLabels("app", "web"), antiAffinity(labelHostname, web)),
			want:     map[string][]string{"a": {reasonPodAntiAffinity}, "b": nil},
		},
		{
			name:     "anti-affinity by zone",
			nodes:    []*corev1.Node{zoned("a", "z1"), zoned("b", "z1"), zoned("c", "z2")},
			existing: []*corev1.Pod{pod("w1", 0, 0, on("a"), podLabels("app", "web"))},
			pod:      pod("w2", 0, 0, podLabels("app", "web"), antiAffinity(labelZone, web)),
			want:     map[string][]string{"a": {reasonPodAntiAffinity}, "b": {reasonPodAntiAffinity}, "c": nil},
		},
		{
			name:     "anti-affinity only within the pod's namespace",
			nodes:    []*corev1.Node{zoned("a", "z1")},
			existing: []*corev1.Pod{pod("w1", 0, 0, on("a"), podLabels("app", "web"), func(p *corev1.Pod) { p.Namespace = "other" })},
			pod:      pod("w2", 0, 0, podLabels("app", "web"), antiAffinity(labelHostname, web)),
			want:     map[string][]string{"a": nil},
		},
		{
			name:     "existing pod's anti-affinity repels the newcomer",
			nodes:    []*corev1.Node{zoned("a", "z1"), zoned("b", "z2")},
			existing: []*corev1.Pod{pod("db", 0, 0, on("a"), antiAffinity(labelZone, web))},
			pod:      pod("w", 0, 0, podLabels("app", "web")),
			want:     map[string][]string{"a": {reasonExistingAnti}, "b": nil},
		},
		{
			name:     "affinity needs a matching pod in the domain",
			nodes:    []*corev1.Node{zoned("a", "z1"), zoned("b", "z1"), zoned("c", "z2")},
			existing: []*corev1.Pod{pod("cache", 0, 0, on("a"), podLabels("app", "cache"))},
			pod:      pod("w", 0, 0, podAffinity(labelZone, map[string]string{"app": "cache"})),
			want:     map[string][]string{"a": nil, "b": nil, "c": {reasonPodAffinity}},
		},
		{
			name:  "affinity with no match anywhere fails",
			nodes: []*corev1.Node{zoned("a", "z1")},
			pod:   pod("w", 0, 0, podAffinity(labelZone, map[string]string{"app": "cache"})),
			want:  map[string][]string{"a": {reasonPodAffinity}},
		},
		{
			name:  "first pod of a self-affine group may go anywhere",
			nodes: []*corev1.Node{zoned("a", "z1"), zoned("b", "z2")},
			pod:   pod("w", 0, 0, podLabels("app", "web"), podAffinity(labelZone, web)),
			want:  map[string][]string{"a": nil, "b": nil},
		},
		{
			name:     "spread DoNotSchedule by zone",
			nodes:    []*corev1.Node{zoned("a", "z1"), zoned("b", "z2")},
			existing: []*corev1.Pod{pod("w1", 0, 0, on("a"), podLabels("app", "web"))},
			pod:      pod("w2", 0, 0, podLabels("app", "web"), spread(labelZone, 1, corev1.DoNotSchedule, web)),
			want:     map[string][]string{"a": {reasonSpread}, "b": nil},
		},
		{
			name:     "spread allows maxSkew",
			nodes:    []*corev1.Node{zoned("a", "z1"), zoned("b", "z2")},
			existing: []*corev1.Pod{pod("w1", 0, 0, on("a"), podLabels("app", "web"))},
			pod:      pod("w2", 0, 0, podLabels("app", "web"), spread(labelZone, 2, corev1.DoNotSchedule, web)),
			want:     map[string][]string{"a": nil, "b": nil},
		},
		{
			name:  "spread needs the topology label",
			nodes: []*corev1.Node{zoned("a", "z1"), node("b", 4000, 4096)},
			pod:   pod("w", 0, 0, podLabels("app", "web"), spread(labelZone, 1, corev1.DoNotSchedule, web)),
			want:  map[string][]string{"a": nil, "b": {reasonSpreadMissingKey}},
		},
		{
			name:     "spread ScheduleAnyway does not filter",
			nodes:    []*corev1.Node{zoned("a", "z1"), zoned("b", "z2")},
			existing: []*corev1.Pod{pod("w1", 0, 0, on("a"), podLabels("app", "web")), pod("w0", 0, 0, on("a"), podLabels("app", "web"))},
			pod:      pod("w2", 0, 0, podLabels("app", "web"), spread(labelZone, 1, corev1.ScheduleAnyway, web)),
			want:     map[string][]string{"a": nil, "b": nil},
		},
		{
			name:     "spread minDomains counts missing domains as empty",
			nodes:    []*corev1.Node{zoned("a", "z1")},
			existing: []*corev1.Pod{pod("w1", 0, 0, on("a"), podLabels("app", "web"))},
			pod: pod("w2", 0, 0, podLabels("app", "web"), spread(labelZone, 1, corev1.DoNotSchedule, web), func(p *corev1.Pod) {
				three := int32(3)
				p.Spec.TopologySpreadConstraints[0].MinDomains = &three
			}),
			want: map[string][]string{"a": {reasonSpread}},
		},
		{
			name:     "spread ignores nodes the pod cannot select",
			nodes:    []*corev1.Node{zoned("a", "z1"), node("b", 4000, 4096, withLabels(labelZone, "z2", "pool", "other"))},
			existing: []*corev1.Pod{pod("w1", 0, 0, on("a"), podLabels("app", "web"))},
			pod: pod("w2", 0, 0, podLabels("app", "web"), spread(labelZone, 1, corev1.DoNotSchedule, web),
				requiredNodeTerms(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "pool", Operator: corev1.NodeSelectorOpDoesNotExist}}})),
			want: map[string][]string{"a": nil, "b": {reasonNodeAffinity}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fitsOn(tt.nodes, tt.existing, tt.pod)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("reasons = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPodRequests(t *testing.T) {
	sidecar := corev1.ContainerRestartPolicyAlways
	req := func(cpu string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
	}
	tests := []struct {
		name          string
		pod           *corev1.Pod
		want, nonZero int64 // millicores
	}{
		{"none", pod("p", 0, 0), 0, defaultMilliCPU},
		{"two containers", pod("p", 100, 0, func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "d", Resources: req("200m")})
		}), 300, 300},
		{"init bigger", pod("p", 100, 0, func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: req("1")}}
		}), 1000, 1000},
		{"sidecar then init", pod("p", 100, 0, func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "s", RestartPolicy: &sidecar, Resources: req("300m")}, {Name: "i", Resources: req("500m")}}
		}), 800, 800},
		{"sidecar with app", pod("p", 600, 0, func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "s", RestartPolicy: &sidecar, Resources: req("300m")}}
		}), 900, 900},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podRequests(tt.pod, false).MilliCPU; got != tt.want {
				t.Errorf("requests = %dm, want %dm", got, tt.want)
			}
			if got := podRequests(tt.pod, true).MilliCPU; got != tt.nonZero {
				t.Errorf("non-zero requests = %dm, want %dm", got, tt.nonZero)
			}
		})
	}
}

package registry

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testNode(mutate ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}}
	for _, m := range mutate {
		m(n)
	}
	return n
}

func TestNodeCreateKeepsStatus(t *testing.T) {
	r := mustResource(t, "", "v1", "nodes")
	n := testNode(func(n *corev1.Node) {
		n.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}}
	})
	checkErrs(t, simulateCreate(t, r, n), "")
	if len(n.Status.Addresses) != 1 || n.Status.Allocatable.Cpu().String() != "4" {
		t.Errorf("status %+v", n.Status)
	}
	f := r.Fields(testNode(func(n *corev1.Node) { n.Spec.Unschedulable = true }))
	if f.Get("spec.unschedulable") != "true" {
		t.Errorf("fields %v", f)
	}
}

func TestNodeValidation(t *testing.T) {
	r := mustResource(t, "", "v1", "nodes")
	cases := []struct {
		name   string
		mutate func(*corev1.Node)
		want   string
	}{
		{"valid taint", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
		}, ""},
		{"taint effect", func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{{Key: "a", Effect: "Maybe"}} },
			`spec.taints[0].effect: Unsupported value: "Maybe": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`},
		{"taint key", func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{{Effect: corev1.TaintEffectNoSchedule}} }, "spec.taints[0].key: Required value"},
		{"duplicate taint", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoSchedule}, {Key: "a", Value: "x", Effect: corev1.TaintEffectNoSchedule}}
		}, "spec.taints[1]: Duplicate value"},
		{"same key, other effect", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoSchedule}, {Key: "a", Effect: corev1.TaintEffectNoExecute}}
		}, ""},
		{"pod CIDR", func(n *corev1.Node) { n.Spec.PodCIDR = "10.244.1.0" }, `spec.podCIDR: Invalid value: "10.244.1.0"`},
		{"address type", func(n *corev1.Node) { n.Status.Addresses = []corev1.NodeAddress{{Type: "Weird", Address: "x"}} }, `status.addresses[0].type: Unsupported value: "Weird"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrs(t, simulateCreate(t, r, testNode(tc.mutate)), tc.want)
		})
	}
}

func TestNodeUpdate(t *testing.T) {
	r := mustResource(t, "", "v1", "nodes")
	old := testNode(func(n *corev1.Node) {
		n.Spec.PodCIDR, n.Spec.PodCIDRs, n.Spec.ProviderID = "10.244.1.0/24", []string{"10.244.1.0/24"}, "tug://node1"
	})
	cases := []struct {
		name   string
		mutate func(*corev1.Node)
		want   string
	}{
		{"cordon", func(n *corev1.Node) { n.Spec.Unschedulable = true }, ""},
		{"pod CIDR", func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.2.0/24", []string{"10.244.2.0/24"} }, "spec.podCIDR: Forbidden"},
		{"provider ID", func(n *corev1.Node) { n.Spec.ProviderID = "x" }, "spec.providerID: Forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := old.DeepCopy()
			tc.mutate(next)
			checkErrs(t, simulateUpdate(t, r, next, old), tc.want)
		})
	}
	// A node without a pod range may be given one.
	blank := testNode()
	next := blank.DeepCopy()
	next.Spec.PodCIDR, next.Spec.PodCIDRs = "10.244.3.0/24", []string{"10.244.3.0/24"}
	checkErrs(t, simulateUpdate(t, r, next, blank), "")
}

func TestNodeRow(t *testing.T) {
	r := mustResource(t, "", "v1", "nodes")
	full := func(n *corev1.Node) {
		n.CreationTimestamp = metav1.NewTime(time.Now().Add(-3 * time.Hour))
		n.Labels = map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "", "kubernetes.io/role": "edge"}
		n.Status.NodeInfo = corev1.NodeSystemInfo{KubeletVersion: "v1.32.4", OSImage: "Debian", KernelVersion: "6.1", ContainerRuntimeVersion: "containerd://1.7"}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "node1"}, {Type: corev1.NodeInternalIP, Address: "10.0.0.1"}}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	}
	cases := []struct {
		name   string
		mutate func(*corev1.Node)
		want   []interface{}
	}{
		{"ready", full, []interface{}{"node1", "Ready", "control-plane,edge,worker", "3h", "v1.32.4", "10.0.0.1", "<none>", "Debian", "6.1", "containerd://1.7"}},
		{"not ready and cordoned", func(n *corev1.Node) {
			full(n)
			n.Status.Conditions[0].Status = corev1.ConditionUnknown
			n.Spec.Unschedulable = true
		}, []interface{}{"node1", "NotReady,SchedulingDisabled", "control-plane,edge,worker", "3h", "v1.32.4", "10.0.0.1", "<none>", "Debian", "6.1", "containerd://1.7"}},
		{"just registered", func(n *corev1.Node) { n.CreationTimestamp = metav1.NewTime(time.Now().Add(-3 * time.Hour)) },
			[]interface{}{"node1", "Unknown", "<none>", "3h", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := cellsOf(t, r, testNode(tc.mutate))
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("cells %v, want %v", got, tc.want)
				}
			}
		})
	}
}

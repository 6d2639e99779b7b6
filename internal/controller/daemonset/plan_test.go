package daemonset

import (
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"tug/internal/controller/history"
)

var now = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

type nodeOpt func(*corev1.Node)

func withLabels(l map[string]string) nodeOpt { return func(n *corev1.Node) { n.Labels = l } }
func withTaint(key string, effect corev1.TaintEffect) nodeOpt {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: effect}) }
}

func node(name string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	for _, o := range opts {
		o(n)
	}
	return n
}

type podOpt func(*corev1.Pod)

func old(p *corev1.Pod) { p.Labels[history.HashLabel] = "old" }
func ready(p *corev1.Pod) {
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
}
func readyFor(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-d)) }
}
func failed(p *corev1.Pod)      { p.Status.Phase = corev1.PodFailed }
func terminating(p *corev1.Pod) { t := metav1.NewTime(now); p.DeletionTimestamp = &t }
func createdAt(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(d)) }
}

func dpod(name, nodeName string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name), Labels: map[string]string{"app": "d", history.HashLabel: "new"},
			CreationTimestamp: metav1.NewTime(now.Add(-2 * time.Hour))},
		Spec: corev1.PodSpec{NodeName: nodeName},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

type dsOpt func(*appsv1.DaemonSet)

func surge(n int) dsOpt {
	return func(ds *appsv1.DaemonSet) {
		s, u := intstr.FromInt32(int32(n)), intstr.FromInt32(0)
		ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: &s, MaxUnavailable: &u}
	}
}

func daemonSet(opts ...dsOpt) *appsv1.DaemonSet {
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns", UID: "ds-uid", Generation: 2},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "d"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "d"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &one, MaxSurge: &zero}},
		},
	}
	for _, o := range opts {
		o(ds)
	}
	return ds
}

func names(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestDecide(t *testing.T) {
	always := func(string) (bool, time.Duration) { return true, 0 }
	cases := []struct {
		name     string
		ds       *appsv1.DaemonSet
		nodes    []*corev1.Node
		pods     []*corev1.Pod
		mayAct   bool
		retry    func(string) (bool, time.Duration)
		create   string // node names
		delete   string // pod names
		force    string
		requeue  time.Duration
		desired  int32
		misplace int32
	}{
		{name: "a pod for every node", ds: daemonSet(), nodes: []*corev1.Node{node("a"), node("b"), node("c")},
			mayAct: true, create: "a,b,c", desired: 3},
		{name: "nothing while earlier writes are unseen", ds: daemonSet(), nodes: []*corev1.Node{node("a")},
			mayAct: false, desired: 1},
		{name: "node selector", ds: daemonSet(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} }),
			nodes:  []*corev1.Node{node("a", withLabels(map[string]string{"disk": "ssd"})), node("b")},
			pods:   []*corev1.Pod{dpod("pb", "b", ready)},
			mayAct: true, create: "a", delete: "pb", desired: 1, misplace: 1},
		{name: "required node affinity", ds: daemonSet(func(ds *appsv1.DaemonSet) {
			ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"z1"}}}}}}}}
		}), nodes: []*corev1.Node{node("a", withLabels(map[string]string{"zone": "z1"})), node("b", withLabels(map[string]string{"zone": "z2"}))},
			mayAct: true, create: "a", desired: 1},
		{name: "untolerated NoSchedule keeps new pods off but running ones stay",
			ds:     daemonSet(),
			nodes:  []*corev1.Node{node("a", withTaint("dedicated", corev1.TaintEffectNoSchedule)), node("b", withTaint("dedicated", corev1.TaintEffectNoSchedule))},
			pods:   []*corev1.Pod{dpod("pa", "a", ready)},
			mayAct: true, desired: 0, misplace: 1},
		{name: "untolerated NoExecute evicts", ds: daemonSet(),
			nodes:  []*corev1.Node{node("a", withTaint("dedicated", corev1.TaintEffectNoExecute))},
			pods:   []*corev1.Pod{dpod("pa", "a", ready)},
			mayAct: true, delete: "pa", misplace: 1},
		{name: "daemon tolerations: cordoned, not ready, unreachable, pressure",
			ds: daemonSet(),
			nodes: []*corev1.Node{
				node("a", withTaint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)),
				node("b", withTaint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)),
				node("c", withTaint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)),
				node("d", withTaint(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)),
				node("e", withTaint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)),
			},
			mayAct: true, create: "a,b,c,d", desired: 4},
		{name: "pods of nodes that are gone are removed at once", ds: daemonSet(), nodes: []*corev1.Node{node("a")},
			pods:   []*corev1.Pod{dpod("pa", "a", ready), dpod("gone", "z", ready), dpod("gone2", "z", ready, terminating)},
			mayAct: true, force: "gone,gone2", desired: 1},
		{name: "a second pod on a node goes, the older stays", ds: daemonSet(), nodes: []*corev1.Node{node("a")},
			pods:   []*corev1.Pod{dpod("older", "a", ready, createdAt(-time.Hour)), dpod("newer", "a", ready, createdAt(-time.Minute))},
			mayAct: true, delete: "newer", desired: 1},
		{name: "a failed pod is replaced", ds: daemonSet(), nodes: []*corev1.Node{node("a")},
			pods: []*corev1.Pod{dpod("pa", "a", failed)}, mayAct: true, delete: "pa", desired: 1},
		{name: "a failed pod waits for its back-off", ds: daemonSet(), nodes: []*corev1.Node{node("a")},
			pods: []*corev1.Pod{dpod("pa", "a", failed)}, mayAct: true, desired: 1,
			retry: func(string) (bool, time.Duration) { return false, 8 * time.Second }, requeue: 8 * time.Second},
		{name: "a terminating pod is waited for", ds: daemonSet(), nodes: []*corev1.Node{node("a")},
			pods: []*corev1.Pod{dpod("pa", "a", terminating)}, mayAct: true, desired: 1},
		{name: "rolling update: one old pod at a time", ds: daemonSet(), nodes: []*corev1.Node{node("a"), node("b"), node("c")},
			pods:   []*corev1.Pod{dpod("pa", "a", ready, old), dpod("pb", "b", ready, old), dpod("pc", "c", ready, old)},
			mayAct: true, delete: "pa", desired: 3},
		{name: "rolling update waits while a new pod is unavailable", ds: daemonSet(), nodes: []*corev1.Node{node("a"), node("b")},
			pods:   []*corev1.Pod{dpod("pa", "a"), dpod("pb", "b", ready, old)},
			mayAct: true, desired: 2},
		{name: "rolling update replaces unavailable old pods without waiting", ds: daemonSet(), nodes: []*corev1.Node{node("a"), node("b"), node("c")},
			pods:   []*corev1.Pod{dpod("pa", "a", old), dpod("pb", "b", old), dpod("pc", "c", ready, old)},
			mayAct: true, delete: "pa,pb", desired: 3},
		{name: "OnDelete leaves old pods", ds: daemonSet(func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		}), nodes: []*corev1.Node{node("a")}, pods: []*corev1.Pod{dpod("pa", "a", ready, old)}, mayAct: true, desired: 1},
		{name: "surge starts a new pod next to an old one", ds: daemonSet(surge(1)), nodes: []*corev1.Node{node("a"), node("b")},
			pods:   []*corev1.Pod{dpod("pa", "a", ready, old), dpod("pb", "b", ready, old)},
			mayAct: true, create: "a", desired: 2},
		{name: "surge removes the old pod once the new one is available", ds: daemonSet(surge(1)), nodes: []*corev1.Node{node("a"), node("b")},
			pods:   []*corev1.Pod{dpod("pa", "a", ready, old), dpod("pa2", "a", ready, createdAt(-time.Minute)), dpod("pb", "b", ready, old)},
			mayAct: true, delete: "pa", create: "b", desired: 2},
		{name: "surge waits for the new pod", ds: daemonSet(surge(1)), nodes: []*corev1.Node{node("a"), node("b")},
			pods:   []*corev1.Pod{dpod("pa", "a", ready, old), dpod("pa2", "a", createdAt(-time.Minute)), dpod("pb", "b", ready, old)},
			mayAct: true, desired: 2},
		{name: "minReadySeconds delays availability", ds: daemonSet(func(ds *appsv1.DaemonSet) { ds.Spec.MinReadySeconds = 7200 }),
			nodes: []*corev1.Node{node("a"), node("b"), node("c")}, pods: []*corev1.Pod{dpod("pa", "a", ready), dpod("pb", "b", ready, old), dpod("pc", "c", ready, old, readyFor(3*time.Hour))},
			mayAct: true, delete: "pb", desired: 3, requeue: time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			retry := c.retry
			if retry == nil {
				retry = always
			}
			p := decide(input{ds: c.ds, hash: "new", nodes: c.nodes, pods: c.pods, now: now, mayAct: c.mayAct, retryFailed: retry})
			sort.Strings(p.create)
			if got := strings.Join(p.create, ","); got != c.create {
				t.Errorf("create on %q, want %q", got, c.create)
			}
			if got := names(p.delete); got != c.delete {
				t.Errorf("delete %q, want %q", got, c.delete)
			}
			if got := names(p.forceDelete); got != c.force {
				t.Errorf("force delete %q, want %q", got, c.force)
			}
			if p.requeue != c.requeue {
				t.Errorf("requeue %s, want %s", p.requeue, c.requeue)
			}
			if p.status.DesiredNumberScheduled != c.desired || p.status.NumberMisscheduled != c.misplace {
				t.Errorf("desired %d misscheduled %d, want %d %d", p.status.DesiredNumberScheduled, p.status.NumberMisscheduled, c.desired, c.misplace)
			}
		})
	}
}

func TestStatusCounts(t *testing.T) {
	ds := daemonSet()
	nodes := []*corev1.Node{node("a"), node("b"), node("c"), node("d")}
	pods := []*corev1.Pod{dpod("pa", "a", ready), dpod("pb", "b", ready, old), dpod("pc", "c")}
	p := decide(input{ds: ds, hash: "new", nodes: nodes, pods: pods, now: now, mayAct: false})
	want := appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 4, CurrentNumberScheduled: 3, NumberReady: 2,
		NumberAvailable: 2, UpdatedNumberScheduled: 2, NumberUnavailable: 2}
	if !equality.Semantic.DeepEqual(p.status, want) {
		t.Fatalf("status %+v, want %+v", p.status, want)
	}
}

func TestNewPod(t *testing.T) {
	ds := daemonSet(func(ds *appsv1.DaemonSet) {
		ds.Annotations = map[string]string{templateGenerationAnnotation: "2"}
		ds.Spec.Template.Spec.HostNetwork = true
		ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
		ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}}}}
	})
	p := newPod(ds, "abc", "node-1")
	if p.GenerateName != "d-" || p.Labels[history.HashLabel] != "abc" || p.Labels[templateGenerationLabel] != "2" || p.Labels["app"] != "d" {
		t.Fatalf("pod meta %+v", p.ObjectMeta)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != "ds-uid" || ref.Kind != "DaemonSet" || !*ref.BlockOwnerDeletion {
		t.Fatalf("owner %+v", p.OwnerReferences)
	}
	if got := targetNode(p); got != "node-1" {
		t.Fatalf("target node %q (affinity %+v)", got, p.Spec.Affinity)
	}
	want := map[string]corev1.TaintEffect{
		corev1.TaintNodeNotReady: corev1.TaintEffectNoExecute, corev1.TaintNodeUnreachable: corev1.TaintEffectNoExecute,
		corev1.TaintNodeDiskPressure: corev1.TaintEffectNoSchedule, corev1.TaintNodeMemoryPressure: corev1.TaintEffectNoSchedule,
		corev1.TaintNodePIDPressure: corev1.TaintEffectNoSchedule, corev1.TaintNodeUnschedulable: corev1.TaintEffectNoSchedule,
		corev1.TaintNodeNetworkUnavailable: corev1.TaintEffectNoSchedule,
	}
	if len(p.Spec.Tolerations) != len(want) {
		t.Fatalf("tolerations %+v (the template's own one must not be doubled)", p.Spec.Tolerations)
	}
	for _, tol := range p.Spec.Tolerations {
		if want[tol.Key] != tol.Effect || tol.Operator != corev1.TolerationOpExists {
			t.Fatalf("toleration %+v", tol)
		}
	}
	if len(ds.Spec.Template.Spec.Tolerations) != 1 {
		t.Fatal("the template was changed")
	}
}

package scheduler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

// node builds a Ready node with allocatable cpu (millicores), memory (MiB) and
// 110 pods; opts change it further.
func node(name string, milliCPU, memMiB int64, opts ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{labelHostname: name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(milliCPU, resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(memMiB<<20, resource.BinarySI),
				corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
			},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withLabels(kv ...string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withTaint(key, value string, effect corev1.TaintEffect) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

func notReady(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }

func maxPods(k int64) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Status.Allocatable[corev1.ResourcePods] = *resource.NewQuantity(k, resource.DecimalSI)
	}
}

func withScalar(name string, v int64) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Status.Allocatable[corev1.ResourceName(name)] = *resource.NewQuantity(v, resource.DecimalSI)
	}
}

var uidSeq int
var uidMu sync.Mutex

// pod builds a pending pod in namespace "ns" requesting cpu (millicores) and
// memory (MiB); zero means no request.
func pod(name string, milliCPU, memMiB int64, opts ...func(*corev1.Pod)) *corev1.Pod {
	uidMu.Lock()
	uidSeq++
	uid := types.UID(fmt.Sprintf("uid-%s-%d", name, uidSeq))
	uidMu.Unlock()
	req := corev1.ResourceList{}
	if milliCPU > 0 {
		req[corev1.ResourceCPU] = *resource.NewMilliQuantity(milliCPU, resource.DecimalSI)
	}
	if memMiB > 0 {
		req[corev1.ResourceMemory] = *resource.NewQuantity(memMiB<<20, resource.BinarySI)
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: uid, Labels: map[string]string{}, CreationTimestamp: metav1.Unix(1000, 0)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{Requests: req},
		}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func on(nodeName string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.NodeName = nodeName } }

func podLabels(kv ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func priority(v int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Priority = &v }
}

func tolerate(key string, op corev1.TolerationOperator, value string, effect corev1.TaintEffect) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	}
}

func hostPort(port int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: port, HostPort: port})
	}
}

func nodeSelector(kv ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func requiredNodeTerms(terms ...corev1.NodeSelectorTerm) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}
	}
}

func antiAffinity(key string, sel map[string]string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: sel},
		}}}
	}
}

func podAffinity(key string, sel map[string]string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: sel},
		}}}
	}
}

func spread(key string, skew int32, when corev1.UnsatisfiableConstraintAction, sel map[string]string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: skew, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: &metav1.LabelSelector{MatchLabels: sel},
		})
	}
}

func ownedBy(uid types.UID) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		t := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: uid, Controller: &t}}
	}
}

// recorder is a Planner that records what the scheduler decided.
type recorder struct {
	mu            sync.Mutex
	bound         map[string]string // pod name -> node
	order         []string
	unschedulable map[string]string // pod name -> last message
	preempted     []preemptRecord
	bindErr       error
}

type preemptRecord struct {
	pod, node string
	victims   []string
}

func newRecorder() *recorder {
	return &recorder{bound: map[string]string{}, unschedulable: map[string]string{}}
}

func (r *recorder) Bind(_ context.Context, p *corev1.Pod, n string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bindErr != nil {
		return r.bindErr
	}
	r.bound[p.Name] = n
	r.order = append(r.order, p.Name)
	return nil
}

func (r *recorder) Unschedulable(_ context.Context, p *corev1.Pod, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unschedulable[p.Name] = msg
	return nil
}

func (r *recorder) Preempt(_ context.Context, p *corev1.Pod, n string, victims []*corev1.Pod) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := preemptRecord{pod: p.Name, node: n}
	for _, v := range victims {
		rec.victims = append(rec.victims, v.Name)
	}
	r.preempted = append(r.preempted, rec)
	return nil
}

// harness is a scheduler without an API server: nodes and pods go straight into
// its cache and queue, and its planner records the decisions.
type harness struct {
	t     *testing.T
	s     *Scheduler
	rec   *recorder
	clock *clocktesting.FakeClock
	pods  map[string]*corev1.Pod
}

func newHarness(t *testing.T, nodes []*corev1.Node, pods ...*corev1.Pod) *harness {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Unix(10000, 0))
	rec := newRecorder()
	s := New(Options{Planner: rec, Clock: clk, Seed: 1})
	h := &harness{t: t, s: s, rec: rec, clock: clk, pods: map[string]*corev1.Pod{}}
	for _, n := range nodes {
		s.Cache.AddNode(n)
	}
	for _, p := range pods {
		h.add(p)
	}
	return h
}

// add gives the scheduler a pod as its watch would.
func (h *harness) add(p *corev1.Pod) {
	h.pods[p.Name] = p
	h.s.podAdded(p)
}

// run schedules until the active queue is empty, then confirms the bindings as
// the watch would (the bound pods become ordinary cache entries).
func (h *harness) run() {
	h.t.Helper()
	for i := 0; ; i++ {
		if i > 10000 {
			h.t.Fatal("scheduler did not settle")
		}
		if a, _, _ := h.s.Queue.Lengths(); a == 0 {
			break
		}
		h.s.ScheduleOne(context.Background())
	}
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	for name, n := range h.rec.bound {
		p := h.pods[name]
		if p != nil && p.Spec.NodeName == "" {
			b := p.DeepCopy()
			b.Spec.NodeName = n
			h.pods[name] = b
			h.s.podUpdated(p, b)
		}
	}
}

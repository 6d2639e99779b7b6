package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// Status says why a node does not fit a pod. Unresolvable means that removing
// pods from the node would not help, so preemption does not consider it.
type Status struct {
	Reasons      []string
	Unresolvable bool
}

// The reasons users see in FailedScheduling events, counted per node.
const (
	reasonUnschedulable    = "node(s) were unschedulable"
	reasonNodeAffinity     = "node(s) didn't match Pod's node affinity/selector"
	reasonPorts            = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods      = "Too many pods"
	reasonPodAffinity      = "node(s) didn't match pod affinity rules"
	reasonPodAntiAffinity  = "node(s) didn't match pod anti-affinity rules"
	reasonExistingAnti     = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonSpread           = "node(s) didn't match pod topology spread constraints"
	reasonSpreadMissingKey = "node(s) didn't match pod topology spread constraints (missing required label)"
	reasonNodeGone         = "node(s) were not found"
	reasonInvalidPod       = "pod has an invalid selector"
)

// Statuses shared by every failing node of one kind, so filters allocate nothing.
var (
	stUnschedulable    = &Status{Reasons: []string{reasonUnschedulable}, Unresolvable: true}
	stNodeAffinity     = &Status{Reasons: []string{reasonNodeAffinity}, Unresolvable: true}
	stPorts            = &Status{Reasons: []string{reasonPorts}}
	stPodAffinity      = &Status{Reasons: []string{reasonPodAffinity}, Unresolvable: true}
	stPodAntiAffinity  = &Status{Reasons: []string{reasonPodAntiAffinity}}
	stExistingAnti     = &Status{Reasons: []string{reasonExistingAnti}}
	stSpread           = &Status{Reasons: []string{reasonSpread}}
	stSpreadMissingKey = &Status{Reasons: []string{reasonSpreadMissingKey}, Unresolvable: true}
	stInvalidPod       = &Status{Reasons: []string{reasonInvalidPod}, Unresolvable: true}
)

// filter decides whether one node can take the cycle's pod; nil means yes.
type filter func(c *cycle, ni *NodeInfo) *Status

// filters run in this order; a node is rejected by the first that fails.
var filters = []filter{
	filterValid,
	filterUnschedulable,
	filterTaints,
	filterNodeAffinity,
	filterPorts,
	filterResources,
	filterSpread,
	filterPodAffinity,
}

func filterValid(c *cycle, _ *NodeInfo) *Status {
	if c.invalid {
		return stInvalidPod
	}
	return nil
}

// filterUnschedulable keeps pods off cordoned nodes unless they tolerate the
// unschedulable taint.
func filterUnschedulable(c *cycle, ni *NodeInfo) *Status {
	if !ni.Unschedulable {
		return nil
	}
	t := corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	if tolerated(c.pod.Pod.Spec.Tolerations, &t) {
		return nil
	}
	return stUnschedulable
}

func tolerated(ts []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range ts {
		if ts[i].ToleratesTaint(taint) {
			return true
		}
	}
	return false
}

// filterTaints rejects nodes with a NoSchedule or NoExecute taint the pod does not
// tolerate.
func filterTaints(c *cycle, ni *NodeInfo) *Status {
	for i := range ni.Taints {
		t := &ni.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerated(c.pod.Pod.Spec.Tolerations, t) {
			return &Status{Reasons: []string{fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)}, Unresolvable: true}
		}
	}
	return nil
}

// nodeMatcher is a pod's nodeSelector together with its required node affinity.
type nodeMatcher struct {
	selector labels.Selector // nodeSelector; nil when empty
	terms    []nodeTerm      // ORed; nil when there is no required affinity
	hasTerms bool
}

type nodeTerm struct {
	labels labels.Selector // nil when the term has no matchExpressions
	names  []nameReq       // matchFields on metadata.name
	empty  bool            // a term with nothing in it matches no node
}

type nameReq struct {
	op     corev1.NodeSelectorOperator
	values []string
}

func newNodeMatcher(pod *corev1.Pod) (*nodeMatcher, error) {
	m := &nodeMatcher{}
	if len(pod.Spec.NodeSelector) > 0 {
		m.selector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return m, nil
	}
	m.hasTerms = true
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		nt, err := parseNodeTerm(&t)
		if err != nil {
			return nil, err
		}
		m.terms = append(m.terms, nt)
	}
	return m, nil
}

var nodeOps = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

func parseNodeTerm(t *corev1.NodeSelectorTerm) (nodeTerm, error) {
	var nt nodeTerm
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		nt.empty = true
		return nt, nil
	}
	if len(t.MatchExpressions) > 0 {
		sel := labels.NewSelector()
		for _, e := range t.MatchExpressions {
			op, ok := nodeOps[e.Operator]
			if !ok {
				return nt, fmt.Errorf("unknown operator %q", e.Operator)
			}
			req, err := labels.NewRequirement(e.Key, op, e.Values)
			if err != nil {
				return nt, err
			}
			sel = sel.Add(*req)
		}
		nt.labels = sel
	}
	for _, f := range t.MatchFields {
		if f.Key != "metadata.name" || (f.Operator != corev1.NodeSelectorOpIn && f.Operator != corev1.NodeSelectorOpNotIn) {
			return nt, fmt.Errorf("unsupported field requirement %s %s", f.Key, f.Operator)
		}
		nt.names = append(nt.names, nameReq{op: f.Operator, values: f.Values})
	}
	return nt, nil
}

func (t *nodeTerm) matches(n *corev1.Node) bool {
	if t.empty {
		return false
	}
	if t.labels != nil && !t.labels.Matches(labels.Set(n.Labels)) {
		return false
	}
	for _, r := range t.names {
		in := false
		for _, v := range r.values {
			if v == n.Name {
				in = true
				break
			}
		}
		if in != (r.op == corev1.NodeSelectorOpIn) {
			return false
		}
	}
	return true
}

// matches reports whether the node satisfies nodeSelector and required affinity.
func (m *nodeMatcher) matches(n *corev1.Node) bool {
	if m.selector != nil && !m.selector.Matches(labels.Set(n.Labels)) {
		return false
	}
	if !m.hasTerms {
		return true
	}
	for i := range m.terms {
		if m.terms[i].matches(n) {
			return true
		}
	}
	return false
}

func filterNodeAffinity(c *cycle, ni *NodeInfo) *Status {
	if c.nodes.matches(ni.Node) {
		return nil
	}
	return stNodeAffinity
}

func filterPorts(c *cycle, ni *NodeInfo) *Status {
	for _, want := range c.pod.Ports {
		for _, used := range ni.Ports {
			if want.conflicts(used) {
				return stPorts
			}
		}
	}
	return nil
}

// filterResources compares requests with what is left of allocatable, keeping
// room for pods of at least the same priority that preempted others for it.
func filterResources(c *cycle, ni *NodeInfo) *Status {
	req := &c.pod.Requests
	used := &ni.Requested
	pods := int64(len(ni.Pods))
	if len(c.snap.nominated) == 0 {
		// The usual case; skip the lookup by node name.
	} else if nom := c.snap.nominated[ni.Node.Name]; len(nom) > 0 {
		extra := ni.Requested.clone()
		for _, p := range nom {
			if p.Pod.UID != c.pod.Pod.UID && p.Priority >= c.pod.Priority {
				extra.add(&p.Requests)
				pods++
			}
		}
		used = &extra
	}
	var reasons []string
	if pods+1 > ni.MaxPods {
		reasons = append(reasons, reasonTooManyPods)
	}
	alloc := &ni.Allocatable
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		reasons = append(reasons, "Insufficient cpu")
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		reasons = append(reasons, "Insufficient memory")
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		reasons = append(reasons, "Insufficient ephemeral-storage")
	}
	for name, v := range req.Scalar {
		if v > 0 && v > alloc.Scalar[name]-used.Scalar[name] {
			reasons = append(reasons, "Insufficient "+string(name))
		}
	}
	if reasons == nil {
		return nil
	}
	return &Status{Reasons: reasons}
}

// podSpecSchedulingEqual reports whether two specs are the same for the rules
// (requests, ports, affinity, tolerations, node selection, spread).
func podSpecSchedulingEqual(a, b *corev1.PodSpec) bool {
	e := apiequality.Semantic.DeepEqual
	return e(a.Containers, b.Containers) && e(a.InitContainers, b.InitContainers) && e(a.Overhead, b.Overhead) &&
		e(a.Affinity, b.Affinity) && e(a.Tolerations, b.Tolerations) && e(a.NodeSelector, b.NodeSelector) &&
		e(a.TopologySpreadConstraints, b.TopologySpreadConstraints) && e(a.Priority, b.Priority) &&
		e(a.SchedulingGates, b.SchedulingGates)
}

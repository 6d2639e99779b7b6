package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// NodeInfo is a node with the pods on it (bound or assumed) and their totals.
type NodeInfo struct {
	Node        *corev1.Node
	Allocatable Resources
	MaxPods     int64
	// Taints are the node's taints plus the one its Ready condition implies
	// (not-ready or unreachable, NoSchedule) when it is not Ready, so that a node
	// whose taint has not been written yet is treated as it soon will be.
	Taints []corev1.Taint
	// Unschedulable is the node's spec.unschedulable (cordoned), kept here so
	// that the filters of a pod read the NodeInfo alone, not the node object.
	Unschedulable bool

	Requested        Resources
	NonZeroRequested Resources
	Pods             []*PodInfo
	Ports            []HostPort
	// PodsWithAffinity lists pods that have any pod (anti-)affinity terms;
	// PodsWithRequiredAnti those with required anti-affinity.
	PodsWithAffinity     []*PodInfo
	PodsWithRequiredAnti []*PodInfo
	owners               map[types.UID]int32
}

func newNodeInfo(n *corev1.Node) *NodeInfo {
	ni := &NodeInfo{}
	ni.setNode(n)
	return ni
}

// setNode replaces the node object and what is derived from it.
func (ni *NodeInfo) setNode(n *corev1.Node) {
	ni.Node = n
	if n == nil {
		return
	}
	ni.Allocatable = resourcesFrom(n.Status.Allocatable, false)
	ni.MaxPods = 0
	if q, ok := n.Status.Allocatable[corev1.ResourcePods]; ok {
		ni.MaxPods = q.Value()
	}
	ni.Taints = effectiveTaints(n)
	ni.Unschedulable = n.Spec.Unschedulable
}

// effectiveTaints adds the taint that the node's Ready condition implies.
func effectiveTaints(n *corev1.Node) []corev1.Taint {
	key := ""
	switch readyStatus(n) {
	case corev1.ConditionTrue:
		return n.Spec.Taints
	case corev1.ConditionUnknown:
		key = corev1.TaintNodeUnreachable
	default:
		key = corev1.TaintNodeNotReady
	}
	for _, t := range n.Spec.Taints {
		if t.Key == key && (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) {
			return n.Spec.Taints
		}
	}
	out := make([]corev1.Taint, 0, len(n.Spec.Taints)+1)
	out = append(out, n.Spec.Taints...)
	return append(out, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
}

// readyStatus is the status of the node's Ready condition ("" without one; a node
// that has never reported is not ready). A condition whose status is Unknown
// means the node stopped reporting.
func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// Name is the node's name.
func (ni *NodeInfo) Name() string { return ni.Node.Name }

func (ni *NodeInfo) addPod(p *PodInfo) {
	ni.Pods = append(ni.Pods, p)
	ni.Requested.add(&p.Requests)
	ni.NonZeroRequested.add(&p.NonZero)
	ni.Ports = append(ni.Ports, p.Ports...)
	if p.hasAffinity() {
		ni.PodsWithAffinity = append(ni.PodsWithAffinity, p)
	}
	if len(p.RequiredAntiAffinity) > 0 {
		ni.PodsWithRequiredAnti = append(ni.PodsWithRequiredAnti, p)
	}
	if p.Owner != "" {
		if ni.owners == nil {
			ni.owners = map[types.UID]int32{}
		}
		ni.owners[p.Owner]++
	}
}

// removePod takes a pod off the node (matched by UID); it reports whether it was
// there.
func (ni *NodeInfo) removePod(uid types.UID) bool {
	idx := -1
	for i, p := range ni.Pods {
		if p.Pod.UID == uid {
			idx = i
			break
		}
	}
	if idx < 0 {
		return false
	}
	p := ni.Pods[idx]
	ni.Pods = removeAt(ni.Pods, idx)
	ni.Requested.sub(&p.Requests)
	ni.NonZeroRequested.sub(&p.NonZero)
	for _, hp := range p.Ports {
		for i, q := range ni.Ports {
			if q == hp {
				ni.Ports = append(ni.Ports[:i], ni.Ports[i+1:]...)
				break
			}
		}
	}
	ni.PodsWithAffinity = removePI(ni.PodsWithAffinity, uid)
	ni.PodsWithRequiredAnti = removePI(ni.PodsWithRequiredAnti, uid)
	if p.Owner != "" && ni.owners != nil {
		if ni.owners[p.Owner]--; ni.owners[p.Owner] <= 0 {
			delete(ni.owners, p.Owner)
		}
	}
	return true
}

// removeAt deletes element i without keeping order, and without sharing the
// backing array with copies made by clone.
func removeAt(s []*PodInfo, i int) []*PodInfo {
	last := len(s) - 1
	s[i] = s[last]
	s[last] = nil
	return s[:last]
}

func removePI(s []*PodInfo, uid types.UID) []*PodInfo {
	for i, p := range s {
		if p.Pod.UID == uid {
			return removeAt(s, i)
		}
	}
	return s
}

// OwnerCount is how many pods of the given controller are on the node.
func (ni *NodeInfo) OwnerCount(uid types.UID) int32 { return ni.owners[uid] }

// clone copies the node info deeply enough that pods can be removed from the copy
// (for preemption's what-ifs) without touching the original.
func (ni *NodeInfo) clone() *NodeInfo {
	c := &NodeInfo{
		Node: ni.Node, Allocatable: ni.Allocatable, MaxPods: ni.MaxPods, Taints: ni.Taints, Unschedulable: ni.Unschedulable,
		Requested:            ni.Requested.clone(),
		NonZeroRequested:     ni.NonZeroRequested.clone(),
		Pods:                 append([]*PodInfo(nil), ni.Pods...),
		Ports:                append([]HostPort(nil), ni.Ports...),
		PodsWithAffinity:     append([]*PodInfo(nil), ni.PodsWithAffinity...),
		PodsWithRequiredAnti: append([]*PodInfo(nil), ni.PodsWithRequiredAnti...),
	}
	if ni.owners != nil {
		c.owners = make(map[types.UID]int32, len(ni.owners))
		for k, v := range ni.owners {
			c.owners[k] = v
		}
	}
	return c
}

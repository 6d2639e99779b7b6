package scheduler

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Snapshot is the read-only view of the cluster a scheduling decision sees.
type Snapshot struct {
	// Nodes are the known nodes, in a stable order.
	Nodes  []*NodeInfo
	byName map[string]*NodeInfo
	// NamespaceLabels gives a namespace's labels (for namespaceSelector); nil
	// means no namespace has labels.
	NamespaceLabels func(ns string) labels.Set
	// ServiceSelectors gives the selectors of the services that select a pod (for
	// spreading); nil means none.
	ServiceSelectors func(pod *corev1.Pod) []labels.Selector
	// PodDisruptionBudgets lists the budgets preemption tries to respect.
	PodDisruptionBudgets func() []*Budget
	// nominated are pods that preempted others and wait for room on a node; their
	// requests are kept free for them against pods of lower priority.
	nominated map[string][]*PodInfo
	// victims are the pods each preemptor is waiting for (by UID) until they are
	// gone from the cache.
	victims map[types.UID][]types.UID
	// affinityPods and requiredAntiPods count the cluster's pods with pod
	// (anti-)affinity terms so that pods without any skip the work.
	affinityPods, requiredAntiPods int
}

// Budget is a PodDisruptionBudget reduced to what preemption needs.
type Budget struct {
	Namespace string
	Selector  labels.Selector
	// Allowed is how many more of its pods may be disrupted now.
	Allowed int32
}

// Node returns the node of that name, or nil.
func (s *Snapshot) Node(name string) *NodeInfo {
	ni := s.byName[name]
	if ni == nil || ni.Node == nil {
		return nil
	}
	return ni
}

// nominatedNode is the node kept for a preemptor: the one this scheduler chose
// (known before the pod's status says so), else the one in the pod's status.
func (s *Snapshot) nominatedNode(p *PodInfo) string {
	for node, ps := range s.nominated {
		for _, q := range ps {
			if q.Pod.UID == p.Pod.UID {
				return node
			}
		}
	}
	return p.Pod.Status.NominatedNodeName
}

// waitingForVictims reports whether a preemptor's victims are still on their
// node (being stopped).
func (s *Snapshot) waitingForVictims(p *PodInfo, node string) bool {
	ni := s.Node(node)
	if ni == nil {
		return false
	}
	for _, q := range ni.Pods {
		if q.Priority >= p.Priority {
			continue
		}
		if q.Pod.DeletionTimestamp != nil {
			return true
		}
		for _, v := range s.victims[p.Pod.UID] {
			if v == q.Pod.UID {
				return true
			}
		}
	}
	return false
}

func (s *Snapshot) nsLabels(ns string) labels.Set {
	if s.NamespaceLabels == nil {
		return nil
	}
	return s.NamespaceLabels(ns)
}

// NewSnapshot builds a snapshot from objects (tests and tools); pods with a
// nodeName are placed on their node.
func NewSnapshot(nodes []*corev1.Node, pods []*corev1.Pod) *Snapshot {
	c := NewCache()
	for _, n := range nodes {
		c.AddNode(n)
	}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			c.AddPod(p)
		}
	}
	return &c.snap
}

type cachedPod struct {
	info    *PodInfo
	node    string
	assumed bool
}

// Cache holds nodes and the pods assigned to them. Pods are added as soon as the
// scheduler sends their binding (assumed), so the next decision already counts
// them; the watch later confirms them. All methods are safe for concurrent use;
// decisions run under View.
type Cache struct {
	mu    sync.RWMutex
	snap  Snapshot
	index map[string]int // node name -> position in snap.Nodes
	pods  map[types.UID]*cachedPod
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{
		snap:  Snapshot{byName: map[string]*NodeInfo{}, nominated: map[string][]*PodInfo{}, victims: map[types.UID][]types.UID{}},
		index: map[string]int{},
		pods:  map[types.UID]*cachedPod{},
	}
}

// View runs f with the current snapshot; f must not keep it or change it.
func (c *Cache) View(f func(s *Snapshot)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	f(&c.snap)
}

// Configure sets the snapshot's lookups (namespaces, services, budgets).
func (c *Cache) Configure(nsLabels func(string) labels.Set, services func(*corev1.Pod) []labels.Selector, budgets func() []*Budget) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.NamespaceLabels, c.snap.ServiceSelectors, c.snap.PodDisruptionBudgets = nsLabels, services, budgets
}

// AddNode adds or replaces a node.
func (c *Cache) AddNode(n *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni := c.snap.byName[n.Name]
	if ni == nil {
		ni = newNodeInfo(n)
		c.snap.byName[n.Name] = ni
	} else {
		ni.setNode(n)
	}
	if _, listed := c.index[n.Name]; !listed {
		c.index[n.Name] = len(c.snap.Nodes)
		c.snap.Nodes = append(c.snap.Nodes, ni)
	}
}

// RemoveNode forgets a node. Pods still bound to it stay counted under its name
// until they are deleted.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni := c.snap.byName[name]
	if ni == nil {
		return
	}
	if i, ok := c.index[name]; ok {
		last := len(c.snap.Nodes) - 1
		moved := c.snap.Nodes[last]
		c.snap.Nodes[i] = moved
		c.index[moved.Node.Name] = i
		c.snap.Nodes[last] = nil
		c.snap.Nodes = c.snap.Nodes[:last]
		delete(c.index, name)
	}
	if len(ni.Pods) == 0 {
		delete(c.snap.byName, name)
		return
	}
	// Keep a placeholder (no Node) for the pods still on it.
	keep := ni.clone()
	keep.Node = nil
	c.snap.byName[name] = keep
}

// nodeFor returns the node info for a name, creating a placeholder when the pod
// arrives before its node.
func (c *Cache) nodeFor(name string) *NodeInfo {
	ni := c.snap.byName[name]
	if ni == nil {
		ni = &NodeInfo{}
		c.snap.byName[name] = ni
	}
	return ni
}

func (c *Cache) place(p *PodInfo, node string, assumed bool) {
	c.nodeFor(node).addPod(p)
	c.pods[p.Pod.UID] = &cachedPod{info: p, node: node, assumed: assumed}
	if p.hasAffinity() {
		c.snap.affinityPods++
	}
	if len(p.RequiredAntiAffinity) > 0 {
		c.snap.requiredAntiPods++
	}
}

func (c *Cache) unplace(uid types.UID) *cachedPod {
	cp := c.pods[uid]
	if cp == nil {
		return nil
	}
	delete(c.pods, uid)
	if ni := c.snap.byName[cp.node]; ni != nil {
		ni.removePod(uid)
		if ni.Node == nil && len(ni.Pods) == 0 {
			delete(c.snap.byName, cp.node)
		}
	}
	if cp.info.hasAffinity() {
		c.snap.affinityPods--
	}
	if len(cp.info.RequiredAntiAffinity) > 0 {
		c.snap.requiredAntiPods--
	}
	return cp
}

// AddPod records a pod the API server shows bound to a node (it confirms an
// assumed pod). Pods that finished no longer hold resources and are removed.
func (c *Cache) AddPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setPodLocked(pod)
}

// UpdatePod is AddPod for a changed pod.
func (c *Cache) UpdatePod(pod *corev1.Pod) { c.AddPod(pod) }

func (c *Cache) setPodLocked(pod *corev1.Pod) {
	if pod.Spec.NodeName == "" || terminal(pod) {
		c.unplace(pod.UID)
		return
	}
	cp := c.pods[pod.UID]
	if cp != nil && cp.node == pod.Spec.NodeName && cp.info.Pod.ResourceVersion == pod.ResourceVersion && !cp.assumed {
		return
	}
	var info *PodInfo
	if cp != nil && cp.node == pod.Spec.NodeName && !relevantChange(cp.info.Pod, pod) {
		// Only status or metadata the rules ignore changed: reuse what was
		// computed, in a new PodInfo (the old one may still be read by a binding
		// under way).
		copied := *cp.info
		copied.Pod = pod
		info = &copied
	} else {
		info = NewPodInfo(pod)
	}
	c.unplace(pod.UID)
	c.place(info, pod.Spec.NodeName, false)
}

// relevantChange reports whether a bound pod changed in a way that affects the
// rules. The spec of a bound pod is immutable but for a few fields, of which
// only container resources (in-place resize) matter here, so labels and
// resources are all that is compared; this runs for every status update.
func relevantChange(a, b *corev1.Pod) bool {
	if !labels.Equals(a.Labels, b.Labels) || a.Namespace != b.Namespace {
		return true
	}
	return !containersResourcesEqual(a.Spec.Containers, b.Spec.Containers) ||
		!containersResourcesEqual(a.Spec.InitContainers, b.Spec.InitContainers)
}

func containersResourcesEqual(a, b []corev1.Container) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !resourceListEqual(a[i].Resources.Requests, b[i].Resources.Requests) ||
			!resourceListEqual(a[i].Resources.Limits, b[i].Resources.Limits) {
			return false
		}
	}
	return true
}

func resourceListEqual(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

// RemovePod forgets a pod (deleted, or no longer counted).
func (c *Cache) RemovePod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unplace(uid)
}

// Assume counts a pod on a node before the API server confirms the binding.
func (c *Cache) Assume(p *PodInfo, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unplace(p.Pod.UID)
	c.place(p, node, true)
}

// Forget undoes Assume after a failed binding; a pod the watch already
// confirmed stays.
func (c *Cache) Forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp := c.pods[uid]; cp != nil && cp.assumed {
		c.unplace(uid)
	}
}

// IsAssigned reports whether the cache has the pod on a node (assumed or bound).
func (c *Cache) IsAssigned(uid types.UID) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.pods[uid] != nil
}

// Nominate keeps room on node for a preemptor that is evicting victims there.
func (c *Cache) Nominate(p *PodInfo, node string, victims []types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unnominateLocked(p.Pod.UID)
	c.snap.nominated[node] = append(c.snap.nominated[node], p)
	c.snap.victims[p.Pod.UID] = victims
}

// Unnominate drops the room kept for a pod.
func (c *Cache) Unnominate(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unnominateLocked(uid)
}

func (c *Cache) unnominateLocked(uid types.UID) {
	delete(c.snap.victims, uid)
	for n, ps := range c.snap.nominated {
		for i, q := range ps {
			if q.Pod.UID == uid {
				ps = append(ps[:i:i], ps[i+1:]...)
				if len(ps) == 0 {
					delete(c.snap.nominated, n)
				} else {
					c.snap.nominated[n] = ps
				}
				return
			}
		}
	}
}

// Counts returns the number of nodes and of pods in the cache.
func (c *Cache) Counts() (nodes, pods int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.snap.Nodes), len(c.pods)
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Well-known topology labels.
const (
	labelHostname = "kubernetes.io/hostname"
	labelZone     = "topology.kubernetes.io/zone"
)

type spreadConstraint struct {
	maxSkew    int32
	key        string
	minDomains int32
	selector   labels.Selector
	// honorAffinity: only nodes the pod could select count as domains (the
	// default); honorTaints: only nodes whose taints it tolerates (default off).
	honorAffinity, honorTaints bool
	selfMatch                  int
}

// spreadState holds, per constraint, the number of matching pods in each domain.
type spreadState struct {
	constraints []spreadConstraint
	counts      []map[string]int
	min         []int
}

func parseSpread(pi *PodInfo, want corev1.UnsatisfiableConstraintAction) ([]spreadConstraint, error) {
	var out []spreadConstraint
	pod := pi.Pod
	for _, tc := range pod.Spec.TopologySpreadConstraints {
		if tc.WhenUnsatisfiable != want {
			continue
		}
		sel, err := selectorWithKeys(tc.LabelSelector, pod.Labels, tc.MatchLabelKeys, nil)
		if err != nil {
			return nil, err
		}
		c := spreadConstraint{
			maxSkew: tc.MaxSkew, key: tc.TopologyKey, selector: sel, minDomains: 1,
			honorAffinity: tc.NodeAffinityPolicy == nil || *tc.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
			honorTaints:   tc.NodeTaintsPolicy != nil && *tc.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor,
		}
		if tc.MinDomains != nil {
			c.minDomains = *tc.MinDomains
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			c.selfMatch = 1
		}
		out = append(out, c)
	}
	return out, nil
}

// newSpreadState counts matching pods per domain over the nodes that count as
// domains: those carrying every constraint's key and, by the policies, those the
// pod's node affinity selects and whose taints it tolerates.
func newSpreadState(c *cycle, cons []spreadConstraint) *spreadState {
	if len(cons) == 0 {
		return nil
	}
	s := &spreadState{constraints: cons, counts: make([]map[string]int, len(cons)), min: make([]int, len(cons))}
	for i := range s.counts {
		s.counts[i] = map[string]int{}
	}
	ns := c.pod.Pod.Namespace
	for _, ni := range c.snap.Nodes {
		nl := ni.Node.Labels
		hasAll := true
		for i := range cons {
			if _, ok := nl[cons[i].key]; !ok {
				hasAll = false
				break
			}
		}
		if !hasAll {
			continue
		}
		for i := range cons {
			con := &cons[i]
			if con.honorAffinity && !c.nodes.matches(ni.Node) {
				continue
			}
			if con.honorTaints && filterTaints(c, ni) != nil {
				continue
			}
			n := 0
			for _, e := range ni.Pods {
				if e.Pod.Namespace == ns && e.Pod.DeletionTimestamp == nil && con.selector.Matches(labels.Set(e.Pod.Labels)) {
					n++
				}
			}
			s.counts[i][nl[con.key]] += n
		}
	}
	for i := range cons {
		m := math.MaxInt
		for _, n := range s.counts[i] {
			m = min(m, n)
		}
		if m == math.MaxInt || int32(len(s.counts[i])) < cons[i].minDomains {
			m = 0
		}
		s.min[i] = m
	}
	return s
}

// filterSpread enforces DoNotSchedule constraints: placing the pod must not make
// its domain exceed the least populated one by more than maxSkew.
func filterSpread(c *cycle, ni *NodeInfo) *Status {
	s := c.spread
	if s == nil {
		return nil
	}
	for i := range s.constraints {
		con := &s.constraints[i]
		v, ok := ni.Node.Labels[con.key]
		if !ok {
			return stSpreadMissingKey
		}
		if s.counts[i][v]+con.selfMatch-s.min[i] > int(con.maxSkew) {
			return stSpread
		}
	}
	return nil
}

// spreadRaw is the soft-constraint penalty of a node: the matching pods in its
// domains, weighted by how many domains each constraint has. Lower is better;
// -1 means the node lacks a key and gets no score.
func spreadRaw(s *spreadState, n *corev1.Node) float64 {
	var sum float64
	for i := range s.constraints {
		con := &s.constraints[i]
		v, ok := n.Labels[con.key]
		if !ok {
			return -1
		}
		w := math.Log(float64(len(s.counts[i]) + 2))
		sum += float64(s.counts[i][v])*w + float64(con.maxSkew-1)
	}
	return sum
}

// ownerSpread scores how many pods of the same controller (and of the services
// that select the pod) are on a node and in its zone. It applies to pods without
// spread constraints of their own, so that replicas spread by default.
type ownerSpread struct {
	owner     bool
	services  []labels.Selector
	ns        string
	zoneCount map[string]int
}

func newOwnerSpread(snap *Snapshot, pi *PodInfo) *ownerSpread {
	if len(pi.Pod.Spec.TopologySpreadConstraints) > 0 {
		return nil
	}
	o := &ownerSpread{owner: pi.Owner != "", ns: pi.Pod.Namespace}
	if snap.ServiceSelectors != nil {
		o.services = snap.ServiceSelectors(pi.Pod)
	}
	if !o.owner && len(o.services) == 0 {
		return nil
	}
	for _, ni := range snap.Nodes {
		z, ok := ni.Node.Labels[labelZone]
		if !ok {
			continue
		}
		if o.zoneCount == nil {
			o.zoneCount = map[string]int{}
		}
		o.zoneCount[z] += o.onNode(pi, ni)
	}
	return o
}

func (o *ownerSpread) onNode(pi *PodInfo, ni *NodeInfo) int {
	n := 0
	if o.owner {
		n = int(ni.OwnerCount(pi.Owner))
	}
	if len(o.services) == 0 {
		return n
	}
	for _, e := range ni.Pods {
		if e.Pod.Namespace != o.ns || (o.owner && e.Owner == pi.Owner) {
			continue
		}
		for _, sel := range o.services {
			if sel.Matches(labels.Set(e.Pod.Labels)) {
				n++
				break
			}
		}
	}
	return n
}

// raw is the penalty of a node: a third from its own count, two thirds from its
// zone's when nodes have zones.
func (o *ownerSpread) raw(pi *PodInfo, ni *NodeInfo) float64 {
	n := float64(o.onNode(pi, ni))
	if o.zoneCount == nil {
		return n
	}
	z, ok := ni.Node.Labels[labelZone]
	if !ok {
		return n
	}
	return n/3 + 2*float64(o.zoneCount[z])/3
}

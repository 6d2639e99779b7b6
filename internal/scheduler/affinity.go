package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// affinityState is what the inter-pod affinity filter needs about the whole
// cluster, computed once per scheduling cycle.
type affinityState struct {
	// existingAnti counts, per topology key and value, existing pods whose
	// required anti-affinity selects the incoming pod.
	existingAnti map[string]map[string]int
	// affinity[i] and anti[i] count, per topology value, the pods that the
	// incoming pod's i-th required (anti-)affinity term selects.
	affinity []map[string]int
	anti     []map[string]int
	// firstOfGroup: no pod anywhere matches the affinity terms, but the pod
	// matches them itself, so it may start the group.
	firstOfGroup bool
}

func (s *affinityState) addExistingAnti(key, value string) {
	if s.existingAnti == nil {
		s.existingAnti = map[string]map[string]int{}
	}
	m := s.existingAnti[key]
	if m == nil {
		m = map[string]int{}
		s.existingAnti[key] = m
	}
	m[value]++
}

// newAffinityState returns nil when neither the pod nor any existing pod has
// required pod (anti-)affinity.
func newAffinityState(snap *Snapshot, pi *PodInfo) *affinityState {
	if snap.requiredAntiPods == 0 && len(pi.RequiredAffinity) == 0 && len(pi.RequiredAntiAffinity) == 0 {
		return nil
	}
	s := &affinityState{}
	nsl := snap.nsLabels
	if snap.requiredAntiPods > 0 {
		for _, ni := range snap.Nodes {
			for _, e := range ni.PodsWithRequiredAnti {
				for i := range e.RequiredAntiAffinity {
					t := &e.RequiredAntiAffinity[i]
					if v, ok := ni.Node.Labels[t.topologyKey]; ok && t.matches(pi.Pod, nsl) {
						s.addExistingAnti(t.topologyKey, v)
					}
				}
			}
		}
	}
	if len(pi.RequiredAffinity) == 0 && len(pi.RequiredAntiAffinity) == 0 {
		return s
	}
	s.affinity = make([]map[string]int, len(pi.RequiredAffinity))
	s.anti = make([]map[string]int, len(pi.RequiredAntiAffinity))
	for i := range s.affinity {
		s.affinity[i] = map[string]int{}
	}
	for i := range s.anti {
		s.anti[i] = map[string]int{}
	}
	matchedAny := false
	for _, ni := range snap.Nodes {
		for _, e := range ni.Pods {
			if e.Pod.UID == pi.Pod.UID {
				continue
			}
			for i := range pi.RequiredAffinity {
				t := &pi.RequiredAffinity[i]
				if t.matches(e.Pod, nsl) {
					matchedAny = true
					if v, ok := ni.Node.Labels[t.topologyKey]; ok {
						s.affinity[i][v]++
					}
				}
			}
			for i := range pi.RequiredAntiAffinity {
				t := &pi.RequiredAntiAffinity[i]
				if v, ok := ni.Node.Labels[t.topologyKey]; ok && t.matches(e.Pod, nsl) {
					s.anti[i][v]++
				}
			}
		}
	}
	if !matchedAny && len(pi.RequiredAffinity) > 0 {
		self := true
		for i := range pi.RequiredAffinity {
			if !pi.RequiredAffinity[i].matches(pi.Pod, nsl) {
				self = false
			}
		}
		s.firstOfGroup = self
	}
	return s
}

// filterPodAffinity applies required inter-pod affinity and anti-affinity, the
// pod's own and that of the pods already placed.
func filterPodAffinity(c *cycle, ni *NodeInfo) *Status {
	s := c.aff
	if s == nil {
		return nil
	}
	nl := ni.Node.Labels
	for i := range c.pod.RequiredAffinity {
		t := &c.pod.RequiredAffinity[i]
		v, ok := nl[t.topologyKey]
		if !ok {
			return stPodAffinity
		}
		if !s.firstOfGroup && s.affinity[i][v] == 0 {
			return stPodAffinity
		}
	}
	for i := range c.pod.RequiredAntiAffinity {
		t := &c.pod.RequiredAntiAffinity[i]
		if v, ok := nl[t.topologyKey]; ok && s.anti[i][v] > 0 {
			return stPodAntiAffinity
		}
	}
	for key, values := range s.existingAnti {
		if v, ok := nl[key]; ok && values[v] > 0 {
			return stExistingAnti
		}
	}
	return nil
}

// hardAffinityWeight is what an existing pod's required affinity for the incoming
// pod counts for when scoring (the preferred terms carry their own weights).
const hardAffinityWeight = 1

// affinityScores sums, per topology key and value, the weights of preferred
// terms that pull the pod towards (positive) or push it away from (negative) the
// pods in that domain, in both directions. nil when nothing applies.
func affinityScores(snap *Snapshot, pi *PodInfo) map[string]map[string]int64 {
	own := len(pi.PreferredAffinity)+len(pi.PreferredAnti) > 0
	if !own && snap.affinityPods == 0 {
		return nil
	}
	out := map[string]map[string]int64{}
	add := func(key, value string, w int64) {
		m := out[key]
		if m == nil {
			m = map[string]int64{}
			out[key] = m
		}
		m[value] += w
	}
	nsl := snap.nsLabels
	for _, ni := range snap.Nodes {
		nl := ni.Node.Labels
		if own {
			for _, e := range ni.Pods {
				for i := range pi.PreferredAffinity {
					t := &pi.PreferredAffinity[i]
					if v, ok := nl[t.topologyKey]; ok && t.matches(e.Pod, nsl) {
						add(t.topologyKey, v, int64(t.weight))
					}
				}
				for i := range pi.PreferredAnti {
					t := &pi.PreferredAnti[i]
					if v, ok := nl[t.topologyKey]; ok && t.matches(e.Pod, nsl) {
						add(t.topologyKey, v, -int64(t.weight))
					}
				}
			}
		}
		for _, e := range ni.PodsWithAffinity {
			for i := range e.RequiredAffinity {
				t := &e.RequiredAffinity[i]
				if v, ok := nl[t.topologyKey]; ok && t.matches(pi.Pod, nsl) {
					add(t.topologyKey, v, hardAffinityWeight)
				}
			}
			for i := range e.PreferredAffinity {
				t := &e.PreferredAffinity[i]
				if v, ok := nl[t.topologyKey]; ok && t.matches(pi.Pod, nsl) {
					add(t.topologyKey, v, int64(t.weight))
				}
			}
			for i := range e.PreferredAnti {
				t := &e.PreferredAnti[i]
				if v, ok := nl[t.topologyKey]; ok && t.matches(pi.Pod, nsl) {
					add(t.topologyKey, v, -int64(t.weight))
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func nodeAffinityScore(m map[string]map[string]int64, n *corev1.Node) int64 {
	var s int64
	for key, values := range m {
		if v, ok := n.Labels[key]; ok {
			s += values[v]
		}
	}
	return s
}

package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// Weights of the scores (each score is 0-100 per node before weighting).
const (
	weightLeastAllocated = 1
	weightBalanced       = 1
	weightNodeAffinity   = 2
	weightTaints         = 3
	weightPodAffinity    = 2
	weightSpread         = 2
	maxScore             = 100
)

// score fills a.totals for the feasible nodes. Scores that would give every node
// the same value are skipped: they cannot change the choice.
func (a *Algorithm) score(c *cycle, nodes []*NodeInfo) {
	n := len(nodes)
	a.totals = grow(a.totals, n)
	a.raw = grow(a.raw, n)
	for i, ni := range nodes {
		a.totals[i] = weightLeastAllocated*leastAllocated(c.pod, ni) + weightBalanced*balanced(c.pod, ni)
	}
	if pref := preferredNodeTerms(c.pod.Pod); len(pref) > 0 {
		for i, ni := range nodes {
			a.raw[i] = preferredNodeAffinity(pref, ni.Node)
		}
		a.addNormalized(n, weightNodeAffinity, normalizeMax)
	}
	if anyPreferNoSchedule(nodes) {
		for i, ni := range nodes {
			a.raw[i] = float64(intolerablePreferNoSchedule(c.pod.Pod.Spec.Tolerations, ni.Taints))
		}
		a.addNormalized(n, weightTaints, normalizeReverse)
	}
	if m := affinityScores(c.snap, c.pod); m != nil {
		for i, ni := range nodes {
			a.raw[i] = float64(nodeAffinityScore(m, ni.Node))
		}
		a.addNormalized(n, weightPodAffinity, normalizeMinMax)
	}
	soft, err := parseSpread(c.pod, corev1.ScheduleAnyway)
	if err == nil && len(soft) > 0 {
		s := newSpreadState(c, soft)
		for i, ni := range nodes {
			a.raw[i] = spreadRaw(s, ni.Node)
		}
		a.addNormalized(n, weightSpread, normalizeSpread)
	} else if o := newOwnerSpread(c.snap, c.pod); o != nil {
		for i, ni := range nodes {
			a.raw[i] = o.raw(c.pod, ni)
		}
		a.addNormalized(n, weightSpread, normalizeReverse)
	}
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

type normalizer int

const (
	normalizeMax     normalizer = iota // higher raw is better, scaled by the maximum
	normalizeReverse                   // lower raw is better, scaled by the maximum
	normalizeMinMax                    // higher raw is better, scaled between min and max
	normalizeSpread                    // lower is better; -1 means no score
)

// addNormalized scales a.raw[:n] to 0-100 and adds it, weighted, to the totals.
func (a *Algorithm) addNormalized(n int, weight float64, how normalizer) {
	lo, hi := a.raw[0], a.raw[0]
	for _, v := range a.raw[:n] {
		lo, hi = min(lo, v), max(hi, v)
	}
	if how == normalizeSpread {
		lo = -1
		for _, v := range a.raw[:n] {
			if v >= 0 && (lo < 0 || v < lo) {
				lo = v
			}
		}
	}
	for i, v := range a.raw[:n] {
		var s float64
		switch how {
		case normalizeMax:
			if hi > 0 {
				s = maxScore * v / hi
			}
		case normalizeReverse:
			s = maxScore
			if hi > 0 {
				s = maxScore * (hi - v) / hi
			}
		case normalizeMinMax:
			if hi > lo {
				s = maxScore * (v - lo) / (hi - lo)
			}
		case normalizeSpread:
			switch {
			case v < 0:
				s = 0
			case hi <= 0:
				s = maxScore
			default:
				s = maxScore * (hi + lo - v) / hi
			}
		}
		a.totals[i] += weight * s
	}
}

// leastAllocated favours nodes with more cpu and memory left after the pod.
func leastAllocated(p *PodInfo, ni *NodeInfo) float64 {
	f := func(req, alloc int64) float64 {
		if alloc <= 0 || req > alloc {
			return 0
		}
		return float64(alloc-req) * maxScore / float64(alloc)
	}
	cpu := f(ni.NonZeroRequested.MilliCPU+p.NonZero.MilliCPU, ni.Allocatable.MilliCPU)
	mem := f(ni.NonZeroRequested.Memory+p.NonZero.Memory, ni.Allocatable.Memory)
	return (cpu + mem) / 2
}

// balanced favours nodes whose cpu and memory would be used in equal fractions.
func balanced(p *PodInfo, ni *NodeInfo) float64 {
	frac := func(req, alloc int64) float64 {
		if alloc <= 0 {
			return 1
		}
		return min(float64(req)/float64(alloc), 1)
	}
	cpu := frac(ni.NonZeroRequested.MilliCPU+p.NonZero.MilliCPU, ni.Allocatable.MilliCPU)
	mem := frac(ni.NonZeroRequested.Memory+p.NonZero.Memory, ni.Allocatable.Memory)
	d := cpu - mem
	if d < 0 {
		d = -d
	}
	return (1 - d/2) * maxScore
}

type weightedNodeTerm struct {
	term   nodeTerm
	weight int32
}

func preferredNodeTerms(pod *corev1.Pod) []weightedNodeTerm {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return nil
	}
	var out []weightedNodeTerm
	for _, p := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		if p.Weight == 0 {
			continue
		}
		t, err := parseNodeTerm(&p.Preference)
		if err != nil {
			continue
		}
		out = append(out, weightedNodeTerm{t, p.Weight})
	}
	return out
}

func preferredNodeAffinity(terms []weightedNodeTerm, n *corev1.Node) float64 {
	var s float64
	for i := range terms {
		if terms[i].term.matches(n) {
			s += float64(terms[i].weight)
		}
	}
	return s
}

func anyPreferNoSchedule(nodes []*NodeInfo) bool {
	for _, ni := range nodes {
		for _, t := range ni.Taints {
			if t.Effect == corev1.TaintEffectPreferNoSchedule {
				return true
			}
		}
	}
	return false
}

// intolerablePreferNoSchedule counts PreferNoSchedule taints the pod does not
// tolerate (tolerations with another explicit effect do not count).
func intolerablePreferNoSchedule(ts []corev1.Toleration, taints []corev1.Taint) int {
	n := 0
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectPreferNoSchedule {
			continue
		}
		ok := false
		for j := range ts {
			if (ts[j].Effect == "" || ts[j].Effect == corev1.TaintEffectPreferNoSchedule) && ts[j].ToleratesTaint(t) {
				ok = true
				break
			}
		}
		if !ok {
			n++
		}
	}
	return n
}

package scheduler

import (
	"math"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResourceScores(t *testing.T) {
	tests := []struct {
		name              string
		node              *corev1.Node
		existing          []*corev1.Pod
		pod               *corev1.Pod
		least, balancedSc float64
	}{
		{"empty node, half of each", node("n", 1000, 1024), nil, pod("p", 500, 512), 50, 100},
		{"cpu heavy", node("n", 1000, 1024), nil, pod("p", 1000, 0), (0 + 100*(1024-200)/1024.0) / 2, (1 - (1-200/1024.0)/2) * 100},
		{"already used", node("n", 1000, 1000), []*corev1.Pod{pod("a", 250, 250, on("n"))}, pod("p", 250, 250), 50, 100},
		{"no requests count as defaults", node("n", 1000, 1024), nil, pod("p", 0, 0), (90 + 100*(1024-200)/1024.0) / 2, (1 - math.Abs(0.1-200/1024.0)/2) * 100},
		{"over-full node scores zero for least allocated", node("n", 100, 1024), nil, pod("p", 500, 1024), 0, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := NewSnapshot([]*corev1.Node{tt.node}, tt.existing)
			pi := NewPodInfo(tt.pod)
			ni := snap.Nodes[0]
			if got := leastAllocated(pi, ni); math.Abs(got-tt.least) > 0.01 {
				t.Errorf("least allocated = %.2f, want %.2f", got, tt.least)
			}
			if got := balanced(pi, ni); math.Abs(got-tt.balancedSc) > 0.01 {
				t.Errorf("balanced = %.2f, want %.2f", got, tt.balancedSc)
			}
		})
	}
}

// scoresOf returns the total score per node for a pod, after filtering.
func scoresOf(nodes []*corev1.Node, existing []*corev1.Pod, p *corev1.Pod) map[string]float64 {
	snap := NewSnapshot(nodes, existing)
	a := NewAlgorithm(1)
	c := newCycle(snap, NewPodInfo(p))
	a.score(c, snap.Nodes)
	out := map[string]float64{}
	for i, ni := range snap.Nodes {
		out[ni.Name()] = a.totals[i]
	}
	return out
}

func TestScorePreferences(t *testing.T) {
	same := func(name string, opts ...func(*corev1.Node)) *corev1.Node { return node(name, 4000, 4096, opts...) }
	web := map[string]string{"app": "web"}
	preferNode := func(weight int32, key, value string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			if p.Spec.Affinity == nil {
				p.Spec.Affinity = &corev1.Affinity{}
			}
			p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
				Weight: weight, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}}}},
			}}}
		}
	}
	preferPod := func(anti bool, key string, sel map[string]string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			if p.Spec.Affinity == nil {
				p.Spec.Affinity = &corev1.Affinity{}
			}
			terms := []corev1.WeightedPodAffinityTerm{{Weight: 50, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: sel}}}}
			if anti {
				p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: terms}
			} else {
				p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: terms}
			}
		}
	}
	tests := []struct {
		name     string
		nodes    []*corev1.Node
		existing []*corev1.Pod
		pod      *corev1.Pod
		better   string // this node must score higher than worse
		worse    string
		diff     float64 // expected difference when > 0
	}{
		{"preferred node affinity", []*corev1.Node{same("a", withLabels("disk", "ssd")), same("b")}, nil,
			pod("p", 100, 100, preferNode(10, "disk", "ssd")), "a", "b", weightNodeAffinity * 100},
		{"PreferNoSchedule taint", []*corev1.Node{same("a"), same("b", withTaint("k", "v", corev1.TaintEffectPreferNoSchedule))}, nil,
			pod("p", 100, 100), "a", "b", weightTaints * 100},
		{"PreferNoSchedule tolerated", []*corev1.Node{same("a", withTaint("k", "v", corev1.TaintEffectPreferNoSchedule)), same("b", withTaint("j", "v", corev1.TaintEffectPreferNoSchedule))}, nil,
			pod("p", 100, 100, tolerate("k", corev1.TolerationOpExists, "", corev1.TaintEffectPreferNoSchedule)), "a", "b", weightTaints * 100},
		{"preferred pod affinity", []*corev1.Node{same("a"), same("b")}, []*corev1.Pod{pod("w", 0, 0, on("a"), podLabels("app", "web"))},
			pod("p", 0, 0, preferPod(false, labelHostname, web)), "a", "b", 0},
		{"preferred pod anti-affinity", []*corev1.Node{same("a"), same("b")}, []*corev1.Pod{pod("w", 0, 0, on("a"), podLabels("app", "web"))},
			pod("p", 0, 0, preferPod(true, labelHostname, web)), "b", "a", 0},
		{"existing pod's preferred affinity attracts", []*corev1.Node{same("a"), same("b")},
			[]*corev1.Pod{pod("w", 0, 0, on("a"), preferPod(false, labelHostname, map[string]string{"app": "cache"}))},
			pod("p", 0, 0, podLabels("app", "cache")), "a", "b", 0},
		{"owner spread by node", []*corev1.Node{same("a"), same("b")},
			[]*corev1.Pod{pod("r1", 0, 0, on("a"), ownedBy("rs1"))}, pod("r2", 0, 0, ownedBy("rs1")), "b", "a", 0},
		{"owner spread by zone", []*corev1.Node{same("a", withLabels(labelZone, "z1")), same("b", withLabels(labelZone, "z1")), same("c", withLabels(labelZone, "z2"))},
			[]*corev1.Pod{pod("r1", 0, 0, on("a"), ownedBy("rs1"))}, pod("r2", 0, 0, ownedBy("rs1")), "c", "b", 0},
		{"other owners do not count", []*corev1.Node{same("a"), same("b")},
			[]*corev1.Pod{pod("r1", 0, 0, on("a"), ownedBy("rs1")), pod("o1", 0, 0, on("b"), ownedBy("rs3"))}, pod("r2", 0, 0, ownedBy("rs2"), podLabels("x", "y")), "", "", 0},
		{"soft topology spread", []*corev1.Node{same("a", withLabels(labelZone, "z1")), same("b", withLabels(labelZone, "z2"))},
			[]*corev1.Pod{pod("w1", 0, 0, on("a"), podLabels("app", "web"))},
			pod("w2", 0, 0, podLabels("app", "web"), spread(labelZone, 1, corev1.ScheduleAnyway, web)), "b", "a", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scoresOf(tt.nodes, tt.existing, tt.pod)
			if tt.better == "" {
				// All equal up to resource scores (which are equal here too).
				var first float64
				i := 0
				for _, v := range s {
					if i > 0 && math.Abs(v-first) > 1e-9 {
						t.Fatalf("scores differ: %v", s)
					}
					first = v
					i++
				}
				return
			}
			if s[tt.better] <= s[tt.worse] {
				t.Fatalf("%s scored %.2f, not above %s's %.2f", tt.better, s[tt.better], tt.worse, s[tt.worse])
			}
			if tt.diff > 0 && math.Abs(s[tt.better]-s[tt.worse]-tt.diff) > 0.01 {
				t.Fatalf("difference = %.2f, want %.2f (%v)", s[tt.better]-s[tt.worse], tt.diff, s)
			}
		})
	}
}

func TestNumToFind(t *testing.T) {
	a := NewAlgorithm(1)
	for _, tt := range []struct{ nodes, want int }{{10, 10}, {100, 100}, {150, 100}, {1000, 420}, {5000, 500}, {10000, 500}} {
		if got := a.numToFind(tt.nodes); got != tt.want {
			t.Errorf("numToFind(%d) = %d, want %d", tt.nodes, got, tt.want)
		}
	}
	a.PercentageOfNodesToScore = 100
	if got := a.numToFind(5000); got != 5000 {
		t.Errorf("with 100%%: %d", got)
	}
}

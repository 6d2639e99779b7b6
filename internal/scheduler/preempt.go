package scheduler

import (
	"fmt"
	"math"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Preemption is the plan to make room for a pod: evict Victims from Node.
type Preemption struct {
	Node    string
	Victims []*PodInfo
}

// Messages of the preemption part of a FailedScheduling event.
const (
	preemptNotHelpful = "Preemption is not helpful for scheduling"
	preemptNoVictims  = "No preemption victims found for incoming pod"
)

// maxPreemptionCandidates bounds how many nodes are dry-run for preemption.
func maxPreemptionCandidates(n int) int { return max(100, n/10) }

// maxCostlyCandidates bounds the dry runs that must recompute cluster-wide rules
// (pod affinity, spread) for every victim tried.
const maxCostlyCandidates = 20

// Preempt looks for a node where evicting pods of lower priority lets the pod
// fit: the fewest budget violations, then the lowest highest victim priority,
// then the smallest sum of victim priorities, then the fewest victims. It
// returns nil and the message for the event when there is none.
func (a *Algorithm) Preempt(snap *Snapshot, pi *PodInfo, fe *FitError) (*Preemption, string) {
	pod := pi.Pod
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == corev1.PreemptNever {
		return nil, "preemption: not eligible due to preemptionPolicy=Never."
	}
	if nom := snap.nominatedNode(pi); nom != "" && snap.waitingForVictims(pi, nom) {
		return nil, "preemption: not eligible due to a terminating pod on the nominated node."
	}
	if fe.NumAllNodes == 0 {
		return nil, ""
	}
	hist := map[string]int{}
	var best *candidate
	limit := maxPreemptionCandidates(fe.NumAllNodes)
	found, costly := 0, 0
	base := newCycle(snap, pi)
	offset := 0
	if len(fe.Failed) > 0 {
		offset = a.rand.Intn(len(fe.Failed))
	}
	for i := range fe.Failed {
		f := fe.Failed[(offset+i)%len(fe.Failed)]
		if found >= limit || costly >= maxCostlyCandidates {
			break
		}
		if f.Status.Unresolvable {
			hist[preemptNotHelpful]++
			continue
		}
		if needsRecompute(pi, f.Node) {
			costly++
		}
		cand, st := victimsOn(snap, base, pi, f.Node)
		if cand == nil {
			for _, r := range st.Reasons {
				hist[r]++
			}
			continue
		}
		found++
		if best == nil || cand.better(best) {
			best = cand
		}
	}
	if best == nil {
		return nil, fmt.Sprintf("preemption: 0/%d nodes are available: %s.", fe.NumAllNodes, histogram(hist))
	}
	return &Preemption{Node: best.node, Victims: best.victims}, ""
}

type candidate struct {
	node       string
	victims    []*PodInfo
	violations int
	highest    int32
	sum        int64
}

func (c *candidate) better(o *candidate) bool {
	if c.violations != o.violations {
		return c.violations < o.violations
	}
	if c.highest != o.highest {
		return c.highest < o.highest
	}
	if c.sum != o.sum {
		return c.sum < o.sum
	}
	return len(c.victims) < len(o.victims)
}

var stNoVictims = &Status{Reasons: []string{preemptNoVictims}}

// victimsOn finds the fewest pods of lower priority to evict from a node so the
// pod fits, reprieving first the pods whose eviction would break a disruption
// budget, then the most important ones.
func victimsOn(snap *Snapshot, base *cycle, pi *PodInfo, ni *NodeInfo) (*candidate, *Status) {
	trial := ni.clone()
	var lower []*PodInfo
	for _, p := range ni.Pods {
		if p.Priority < pi.Priority {
			lower = append(lower, p)
			trial.removePod(p.Pod.UID)
		}
	}
	if len(lower) == 0 {
		return nil, stNoVictims
	}
	recompute := needsRecompute(pi, ni)
	fits := func() *Status {
		if !recompute {
			return base.fits(trial)
		}
		return whatIf(snap, pi, ni, trial)
	}
	if st := fits(); st != nil {
		return nil, st
	}
	// Most important first: they are the first to be given back their place.
	sort.SliceStable(lower, func(i, j int) bool { return moreImportant(lower[i], lower[j]) })
	violating, ok := splitByBudget(snap, lower)
	cand := &candidate{node: ni.Name(), highest: math.MinInt32}
	reprieve := func(p *PodInfo) bool {
		trial.addPod(p)
		if fits() == nil {
			return true
		}
		trial.removePod(p.Pod.UID)
		cand.victims = append(cand.victims, p)
		cand.highest = max(cand.highest, p.Priority)
		cand.sum += int64(p.Priority) + math.MaxInt32 + 1
		return false
	}
	for _, p := range violating {
		if !reprieve(p) {
			cand.violations++
		}
	}
	for _, p := range ok {
		reprieve(p)
	}
	if len(cand.victims) == 0 {
		// Nothing needs to go after all (for example the room was held for a
		// nominated pod of lower priority): no preemption here.
		return nil, stNoVictims
	}
	return cand, nil
}

// needsRecompute reports whether removing pods from the node can change the
// cluster-wide rules for the pod: it has pod (anti-)affinity or spread
// constraints of its own, or a pod on the node has required anti-affinity.
// Otherwise the cycle computed once for the whole cluster stays valid.
func needsRecompute(pi *PodInfo, ni *NodeInfo) bool {
	return len(pi.RequiredAffinity)+len(pi.RequiredAntiAffinity) > 0 || len(pi.Pod.Spec.TopologySpreadConstraints) > 0 ||
		len(ni.PodsWithRequiredAnti) > 0
}

// whatIf checks the pod against a changed copy of one node, recomputing the
// cluster-wide rules over a snapshot in which the copy replaces the node.
func whatIf(snap *Snapshot, pi *PodInfo, orig, trial *NodeInfo) *Status {
	cp := *snap
	cp.Nodes = make([]*NodeInfo, len(snap.Nodes))
	for i, n := range snap.Nodes {
		if n == orig {
			n = trial
		}
		cp.Nodes[i] = n
	}
	return newCycle(&cp, pi).fits(trial)
}

func moreImportant(a, b *PodInfo) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	return podStart(a).Before(podStart(b))
}

func podStart(p *PodInfo) time.Time {
	if p.Pod.Status.StartTime != nil {
		return p.Pod.Status.StartTime.Time
	}
	return p.Pod.CreationTimestamp.Time
}

// splitByBudget divides victims into those whose eviction would exceed a
// PodDisruptionBudget and the others, counting down each budget's allowance.
func splitByBudget(snap *Snapshot, pods []*PodInfo) (violating, ok []*PodInfo) {
	var budgets []*Budget
	if snap.PodDisruptionBudgets != nil {
		budgets = snap.PodDisruptionBudgets()
	}
	allowed := make([]int32, len(budgets))
	for i, b := range budgets {
		allowed[i] = b.Allowed
	}
	for _, p := range pods {
		bad := false
		for i, b := range budgets {
			if b.Namespace != p.Pod.Namespace || !b.Selector.Matches(labels.Set(p.Pod.Labels)) {
				continue
			}
			allowed[i]--
			if allowed[i] < 0 {
				bad = true
			}
		}
		if bad {
			violating = append(violating, p)
		} else {
			ok = append(ok, p)
		}
	}
	return violating, ok
}

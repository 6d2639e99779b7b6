package scheduler

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Algorithm decides where one pod goes: filter the nodes, score the feasible
// ones, pick the best (ties at random). It reads only the snapshot and the pod;
// it keeps a rotating start position and a random source between decisions, and
// is used by one goroutine at a time.
type Algorithm struct {
	// PercentageOfNodesToScore bounds how many feasible nodes are looked for in a
	// large cluster (0: adaptive, from 50% at 100 nodes down to 5%; never fewer
	// than 100 nodes).
	PercentageOfNodesToScore int32
	rand                     *rand.Rand
	nextStart                int

	// buffers reused between decisions
	feasible []*NodeInfo
	failed   []NodeStatus
	totals   []float64
	raw      []float64
}

// NewAlgorithm returns an algorithm whose ties are broken by the given seed.
func NewAlgorithm(seed int64) *Algorithm {
	return &Algorithm{rand: rand.New(rand.NewSource(seed))}
}

// NodeStatus is a node that does not fit, and why.
type NodeStatus struct {
	Node   *NodeInfo
	Status *Status
}

// FitError says that no node fits a pod.
type FitError struct {
	NumAllNodes int
	Failed      []NodeStatus
	// PreemptionMessage explains why preemption did not help (empty when it was
	// not tried or when it found victims).
	PreemptionMessage string
}

// Error reads like the FailedScheduling event users know:
// "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
func (e *FitError) Error() string {
	if e.NumAllNodes == 0 {
		msg := "no nodes available to schedule pods"
		if e.PreemptionMessage != "" {
			msg += ". " + e.PreemptionMessage
		}
		return msg
	}
	hist := map[string]int{}
	for _, f := range e.Failed {
		for _, r := range f.Status.Reasons {
			hist[r]++
		}
	}
	msg := fmt.Sprintf("0/%d nodes are available: %s.", e.NumAllNodes, histogram(hist))
	if e.PreemptionMessage != "" {
		msg += " " + e.PreemptionMessage
	}
	return msg
}

// histogram formats "N reason" entries sorted as strings.
func histogram(h map[string]int) string {
	parts := make([]string, 0, len(h))
	for r, n := range h {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// cycle is what one decision computes up front about the pod and the cluster.
type cycle struct {
	snap    *Snapshot
	pod     *PodInfo
	invalid bool
	nodes   *nodeMatcher
	aff     *affinityState
	spread  *spreadState
}

func newCycle(snap *Snapshot, pi *PodInfo) *cycle {
	c := &cycle{snap: snap, pod: pi}
	nm, err := newNodeMatcher(pi.Pod)
	if err != nil || pi.ParseErr != nil {
		c.invalid = true
		c.nodes = &nodeMatcher{}
		return c
	}
	c.nodes = nm
	c.aff = newAffinityState(snap, pi)
	hard, err := parseSpread(pi, corev1.DoNotSchedule)
	if err != nil {
		c.invalid = true
		return c
	}
	c.spread = newSpreadState(c, hard)
	return c
}

// fits runs the filters on one node.
func (c *cycle) fits(ni *NodeInfo) *Status {
	for _, f := range filters {
		if st := f(c, ni); st != nil {
			return st
		}
	}
	return nil
}

// numToFind is how many feasible nodes to look for among n.
func (a *Algorithm) numToFind(n int) int {
	const minNodes = 100
	if n < minNodes {
		return n
	}
	pct := int(a.PercentageOfNodesToScore)
	if pct <= 0 {
		pct = max(50-n/125, 5)
	}
	return max(n*pct/100, minNodes)
}

// Schedule picks a node for the pod, or returns a *FitError.
func (a *Algorithm) Schedule(snap *Snapshot, pi *PodInfo) (string, error) {
	n := len(snap.Nodes)
	if n == 0 {
		return "", &FitError{}
	}
	c := newCycle(snap, pi)
	if nom := snap.nominatedNode(pi); nom != "" {
		if ni := snap.Node(nom); ni != nil && c.fits(ni) == nil {
			return nom, nil
		}
	}
	want := a.numToFind(n)
	a.feasible, a.failed = a.feasible[:0], a.failed[:0]
	start := a.nextStart % n
	processed := 0
	for i := 0; i < n && len(a.feasible) < want; i++ {
		ni := snap.Nodes[(start+i)%n]
		processed++
		if st := c.fits(ni); st != nil {
			a.failed = append(a.failed, NodeStatus{ni, st})
			continue
		}
		a.feasible = append(a.feasible, ni)
	}
	a.nextStart = (start + processed) % n
	if len(a.feasible) == 0 {
		return "", &FitError{NumAllNodes: n, Failed: append([]NodeStatus(nil), a.failed...)}
	}
	if len(a.feasible) == 1 {
		return a.feasible[0].Name(), nil
	}
	a.score(c, a.feasible)
	return a.pick(a.feasible), nil
}

// pick returns the node with the highest total; ties are broken uniformly at
// random.
func (a *Algorithm) pick(nodes []*NodeInfo) string {
	best, ties := 0, 1
	for i := 1; i < len(nodes); i++ {
		switch {
		case a.totals[i] > a.totals[best]:
			best, ties = i, 1
		case a.totals[i] == a.totals[best]:
			ties++
			if a.rand.Intn(ties) == 0 {
				best = i
			}
		}
	}
	return nodes[best].Name()
}

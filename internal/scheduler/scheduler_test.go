package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func (h *harness) boundTo(name string) string {
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	return h.rec.bound[name]
}

func (h *harness) message(name string) string {
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	return h.rec.unschedulable[name]
}

// updateNode replaces a node as its watch would.
func (h *harness) updateNode(old, n *corev1.Node) {
	h.s.Cache.AddNode(n)
	if nodeChangeMatters(old, n) {
		h.s.Queue.MoveAll()
	}
}

func (h *harness) deletePod(name string) {
	p := h.pods[name]
	delete(h.pods, name)
	h.s.podDeleted(p)
}

// settle lets backoffs expire and schedules again.
func (h *harness) settle() {
	h.clock.Step(DefaultMaxBackoff)
	h.s.Queue.Flush()
	h.run()
}

func TestHarnessPodsLandOnlyWhereTheyFit(t *testing.T) {
	nodes := []*corev1.Node{node("big", 4000, 8192), node("small", 1000, 1024)}
	h := newHarness(t, nodes)
	for i := 0; i < 5; i++ {
		h.add(pod(fmt.Sprintf("p%d", i), 1000, 512))
	}
	h.run()
	per := map[string]int{}
	for i := 0; i < 5; i++ {
		per[h.boundTo(fmt.Sprintf("p%d", i))]++
	}
	if per["big"] != 4 || per["small"] != 1 || per[""] != 0 {
		t.Fatalf("placement = %v, want 4 on big and 1 on small", per)
	}
	h.add(pod("extra", 1000, 0))
	h.run()
	if n := h.boundTo("extra"); n != "" {
		t.Fatalf("extra bound to %s with no room left", n)
	}
	want := "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
	if got := h.message("extra"); got != want {
		t.Fatalf("message = %q\nwant      %q", got, want)
	}
	// Deleting a pod frees room; the waiting pod is retried.
	h.deletePod("p0")
	h.settle()
	if h.boundTo("extra") == "" {
		t.Fatal("extra not scheduled after room was freed")
	}
}

func TestHarnessFailedSchedulingMessage(t *testing.T) {
	never := corev1.PreemptNever
	tests := []struct {
		name  string
		nodes []*corev1.Node
		pod   *corev1.Pod
		want  string
	}{
		{"the message users know",
			[]*corev1.Node{node("a", 1000, 1024, cordoned), node("b", 500, 1024), node("c", 500, 1024)}, pod("p", 1000, 0),
			"0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."},
		{"preemption disabled",
			[]*corev1.Node{node("a", 500, 1024)}, pod("p", 1000, 0, func(p *corev1.Pod) { p.Spec.PreemptionPolicy = &never }),
			"0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."},
		{"taints and selectors",
			[]*corev1.Node{node("a", 1000, 1024, withTaint("dedicated", "db", corev1.TaintEffectNoSchedule)), node("b", 1000, 1024)}, pod("p", 0, 0, nodeSelector("disk", "ssd")),
			"0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: db}. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."},
		{"no nodes", nil, pod("p", 0, 0), "no nodes available to schedule pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.nodes, tt.pod)
			h.run()
			if got := h.message(tt.pod.Name); got != tt.want {
				t.Fatalf("message = %q\nwant      %q", got, tt.want)
			}
		})
	}
}

func TestHarnessCordonUncordon(t *testing.T) {
	n := node("a", 1000, 1024, cordoned)
	h := newHarness(t, []*corev1.Node{n}, pod("p", 100, 0))
	h.run()
	if h.boundTo("p") != "" {
		t.Fatal("scheduled onto a cordoned node")
	}
	un := n.DeepCopy()
	un.Spec.Unschedulable = false
	h.updateNode(n, un)
	h.settle()
	if h.boundTo("p") != "a" {
		t.Fatal("not scheduled after uncordon")
	}
}

func TestHarnessTaintsAndSelectors(t *testing.T) {
	nodes := []*corev1.Node{
		node("gpu", 4000, 4096, withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule), withLabels("accel", "gpu")),
		node("ssd", 4000, 4096, withLabels("disk", "ssd")),
		node("plain", 4000, 4096),
	}
	h := newHarness(t, nodes,
		pod("ml", 0, 0, tolerate("dedicated", corev1.TolerationOpEqual, "gpu", corev1.TaintEffectNoSchedule), nodeSelector("accel", "gpu")),
		pod("db", 0, 0, nodeSelector("disk", "ssd")),
	)
	for i := 0; i < 6; i++ {
		h.add(pod(fmt.Sprintf("web%d", i), 0, 0))
	}
	h.run()
	if h.boundTo("ml") != "gpu" || h.boundTo("db") != "ssd" {
		t.Fatalf("ml on %q, db on %q", h.boundTo("ml"), h.boundTo("db"))
	}
	for i := 0; i < 6; i++ {
		if n := h.boundTo(fmt.Sprintf("web%d", i)); n == "gpu" || n == "" {
			t.Fatalf("web%d on %q", i, n)
		}
	}
}

func TestHarnessAntiAffinitySpreadsReplicas(t *testing.T) {
	nodes := []*corev1.Node{node("a", 4000, 4096), node("b", 4000, 4096), node("c", 4000, 4096)}
	h := newHarness(t, nodes)
	for i := 0; i < 4; i++ {
		h.add(pod(fmt.Sprintf("r%d", i), 0, 0, podLabels("app", "web"), antiAffinity(labelHostname, map[string]string{"app": "web"})))
		h.run() // one at a time, as a controller's creations arrive
	}
	seen := map[string]bool{}
	bound := 0
	for i := 0; i < 4; i++ {
		if n := h.boundTo(fmt.Sprintf("r%d", i)); n != "" {
			if seen[n] {
				t.Fatalf("two replicas on %s", n)
			}
			seen[n] = true
			bound++
		}
	}
	if bound != 3 {
		t.Fatalf("%d replicas bound, want 3 (one per node)", bound)
	}
	if msg := h.message("r3"); !strings.Contains(msg, "3 node(s) didn't match pod anti-affinity rules") {
		t.Fatalf("message = %q", msg)
	}
}

func TestHarnessAntiAffinityWithinOneBatch(t *testing.T) {
	// All replicas queued before any binding is confirmed: assumed pods count.
	nodes := []*corev1.Node{node("a", 4000, 4096), node("b", 4000, 4096), node("c", 4000, 4096)}
	var pods []*corev1.Pod
	for i := 0; i < 3; i++ {
		pods = append(pods, pod(fmt.Sprintf("r%d", i), 0, 0, podLabels("app", "web"), antiAffinity(labelHostname, map[string]string{"app": "web"})))
	}
	h := newHarness(t, nodes, pods...)
	h.run()
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		n := h.boundTo(fmt.Sprintf("r%d", i))
		if n == "" || seen[n] {
			t.Fatalf("r%d on %q (placed so far %v)", i, n, seen)
		}
		seen[n] = true
	}
}

func TestHarnessOwnerReplicasSpread(t *testing.T) {
	var nodes []*corev1.Node
	for i := 0; i < 4; i++ {
		nodes = append(nodes, node(fmt.Sprintf("n%d", i), 4000, 4096))
	}
	h := newHarness(t, nodes)
	for i := 0; i < 4; i++ {
		h.add(pod(fmt.Sprintf("r%d", i), 100, 100, ownedBy("rs-1")))
	}
	h.run()
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		seen[h.boundTo(fmt.Sprintf("r%d", i))] = true
	}
	if len(seen) != 4 || seen[""] {
		t.Fatalf("replicas on %v, want four different nodes", seen)
	}
}

func TestHarnessPriorityOrder(t *testing.T) {
	h := newHarness(t, []*corev1.Node{node("a", 1000, 1024)},
		pod("low", 1000, 0, priority(1)), pod("high", 1000, 0, priority(10)))
	h.run()
	if h.boundTo("high") != "a" || h.boundTo("low") != "" {
		t.Fatalf("high on %q, low on %q", h.boundTo("high"), h.boundTo("low"))
	}
}

func TestHarnessPreemption(t *testing.T) {
	nodes := []*corev1.Node{node("a", 3000, 4096), node("b", 3000, 4096)}
	existing := []*corev1.Pod{
		pod("a-low", 1000, 0, on("a"), priority(1)),
		pod("a-mid", 1000, 0, on("a"), priority(5)),
		pod("a-mid2", 1000, 0, on("a"), priority(5)),
		pod("b-mid", 1500, 0, on("b"), priority(5)),
		pod("b-mid2", 1500, 0, on("b"), priority(5)),
	}
	h := newHarness(t, nodes, existing...)
	h.add(pod("vip", 1000, 0, priority(100)))
	h.run()
	if len(h.rec.preempted) != 1 {
		t.Fatalf("preemptions = %+v", h.rec.preempted)
	}
	got := h.rec.preempted[0]
	// Node a needs one victim, the lowest-priority one; node b would need a
	// priority-5 pod.
	if got.node != "a" || len(got.victims) != 1 || got.victims[0] != "a-low" {
		t.Fatalf("preemption = %+v, want a-low evicted from a", got)
	}
	// While the victim is going, a lower-priority pod must not take its room.
	h.add(pod("sneaky", 1000, 0, priority(2)))
	h.deletePod("a-low")
	h.settle()
	if h.boundTo("vip") != "a" {
		t.Fatalf("vip on %q", h.boundTo("vip"))
	}
	if n := h.boundTo("sneaky"); n != "" {
		t.Fatalf("sneaky took room on %s", n)
	}
}

func TestHarnessPreemptionRespectsBudgets(t *testing.T) {
	nodes := []*corev1.Node{node("a", 1000, 4096), node("b", 1000, 4096)}
	existing := []*corev1.Pod{
		pod("guarded", 1000, 0, on("a"), priority(1), podLabels("app", "db")),
		pod("free", 1000, 0, on("b"), priority(1), podLabels("app", "web")),
	}
	h := newHarness(t, nodes, existing...)
	h.s.Cache.Configure(nil, nil, func() []*Budget {
		return []*Budget{{Namespace: "ns", Selector: labels.SelectorFromSet(labels.Set{"app": "db"}), Allowed: 0}}
	})
	h.add(pod("vip", 1000, 0, priority(100)))
	h.run()
	if len(h.rec.preempted) != 1 || h.rec.preempted[0].node != "b" || h.rec.preempted[0].victims[0] != "free" {
		t.Fatalf("preemption = %+v, want free evicted from b", h.rec.preempted)
	}
}

func TestHarnessNoPreemptionOfEqualPriority(t *testing.T) {
	h := newHarness(t, []*corev1.Node{node("a", 1000, 1024)}, pod("x", 1000, 0, on("a"), priority(5)))
	h.add(pod("y", 1000, 0, priority(5)))
	h.run()
	if len(h.rec.preempted) != 0 {
		t.Fatalf("preempted %+v", h.rec.preempted)
	}
}

func TestHarnessOtherSchedulersPodsAreLeftAlone(t *testing.T) {
	h := newHarness(t, []*corev1.Node{node("a", 1000, 1024)},
		pod("mine", 0, 0), pod("theirs", 0, 0, func(p *corev1.Pod) { p.Spec.SchedulerName = "other" }),
		pod("gated", 0, 0, func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "wait"}} }))
	h.run()
	if h.boundTo("mine") != "a" || h.boundTo("theirs") != "" || h.boundTo("gated") != "" {
		t.Fatalf("bound: %v", h.rec.bound)
	}
}

func TestHarnessBindFailureRetries(t *testing.T) {
	h := newHarness(t, []*corev1.Node{node("a", 1000, 1024)}, pod("p", 1000, 0))
	h.rec.bindErr = errors.New("connection reset")
	h.run()
	if h.s.Cache.IsAssigned(h.pods["p"].UID) {
		t.Fatal("a failed binding stayed assumed")
	}
	h.rec.bindErr = nil
	h.settle()
	if h.boundTo("p") != "a" {
		t.Fatal("not bound after the retry")
	}
}

func TestHarnessNodeReadiness(t *testing.T) {
	n := node("a", 1000, 1024, notReady)
	h := newHarness(t, []*corev1.Node{n}, pod("p", 0, 0))
	h.run()
	if h.boundTo("p") != "" {
		t.Fatal("scheduled on a node that is not ready")
	}
	ready := n.DeepCopy()
	ready.Status.Conditions[0].Status = corev1.ConditionTrue
	h.updateNode(n, ready)
	h.clock.Step(time.Minute)
	h.s.Queue.Flush()
	h.run()
	if h.boundTo("p") != "a" {
		t.Fatal("not scheduled once the node became ready")
	}
}

func TestHarnessManyNodesSampling(t *testing.T) {
	var nodes []*corev1.Node
	for i := 0; i < 1000; i++ {
		nodes = append(nodes, node(fmt.Sprintf("n%04d", i), 32000, 256<<10))
	}
	h := newHarness(t, nodes)
	for i := 0; i < 2000; i++ {
		h.add(pod(fmt.Sprintf("p%d", i), 100, 100))
	}
	h.run()
	per := map[string]int{}
	for i := 0; i < 2000; i++ {
		n := h.boundTo(fmt.Sprintf("p%d", i))
		if n == "" {
			t.Fatalf("p%d not bound", i)
		}
		per[n]++
	}
	// Least-allocated scoring over rotating samples spreads evenly.
	for n, c := range per {
		if c > 3 {
			t.Fatalf("%s got %d pods; placements should stay even", n, c)
		}
	}
}

func TestHarnessPreemptorWaitsForTerminatingVictims(t *testing.T) {
	h := newHarness(t, []*corev1.Node{node("a", 1000, 1024)}, pod("low", 1000, 0, on("a"), priority(1)))
	h.add(pod("vip", 1000, 0, priority(100)))
	h.run()
	if len(h.rec.preempted) != 1 {
		t.Fatalf("preemptions = %+v", h.rec.preempted)
	}
	// The API server marks the victim terminating and records the nomination.
	old := h.pods["low"]
	term := old.DeepCopy()
	now := metav1.Now()
	term.DeletionTimestamp = &now
	term.ResourceVersion = "7"
	h.pods["low"] = term
	h.s.podUpdated(old, term)
	vip := h.pods["vip"]
	nominated := vip.DeepCopy()
	nominated.Status.NominatedNodeName = "a"
	h.pods["vip"] = nominated
	h.s.podUpdated(vip, nominated)
	h.s.Queue.MoveAll()
	h.settle()
	if len(h.rec.preempted) != 1 {
		t.Fatalf("a second preemption while the victim terminates: %+v", h.rec.preempted)
	}
	want := "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to a terminating pod on the nominated node."
	if got := h.message("vip"); got != want {
		t.Fatalf("message = %q\nwant      %q", got, want)
	}
	h.deletePod("low")
	h.settle()
	if h.boundTo("vip") != "a" {
		t.Fatal("vip not bound once its victim was gone")
	}
}

func TestHarnessSpreadAcrossZonesWithDoNotSchedule(t *testing.T) {
	web := map[string]string{"app": "web"}
	nodes := []*corev1.Node{
		node("a1", 8000, 8192, withLabels(labelZone, "a")), node("a2", 8000, 8192, withLabels(labelZone, "a")),
		node("b1", 8000, 8192, withLabels(labelZone, "b")),
	}
	h := newHarness(t, nodes)
	for i := 0; i < 6; i++ {
		h.add(pod(fmt.Sprintf("w%d", i), 100, 0, podLabels("app", "web"), spread(labelZone, 1, corev1.DoNotSchedule, web)))
		h.run()
	}
	zones := map[string]int{}
	for i := 0; i < 6; i++ {
		switch h.boundTo(fmt.Sprintf("w%d", i)) {
		case "a1", "a2":
			zones["a"]++
		case "b1":
			zones["b"]++
		default:
			t.Fatalf("w%d not bound", i)
		}
	}
	if zones["a"] != 3 || zones["b"] != 3 {
		t.Fatalf("zones = %v, want 3 and 3", zones)
	}
}

func TestHarnessNoSecondPreemptionBeforeTheWatchCatchesUp(t *testing.T) {
	h := newHarness(t, []*corev1.Node{node("a", 1000, 1024), node("b", 1000, 1024)},
		pod("low-a", 1000, 0, on("a"), priority(1)), pod("low-b", 1000, 0, on("b"), priority(1)))
	h.add(pod("vip", 1000, 0, priority(100)))
	h.run()
	// Something else changes in the cluster before the victim's deletion or the
	// nomination reaches the watch: the preemptor is tried again.
	h.s.Queue.MoveAll()
	h.settle()
	if len(h.rec.preempted) != 1 {
		t.Fatalf("preemptions = %+v, want one", h.rec.preempted)
	}
	if msg := h.message("vip"); !strings.Contains(msg, "not eligible due to a terminating pod on the nominated node") {
		t.Fatalf("message = %q", msg)
	}
}

func TestHarnessPreemptionForAntiAffinity(t *testing.T) {
	// The only node holds a low-priority pod whose anti-affinity repels the
	// newcomer: evicting it is what makes room.
	h := newHarness(t, []*corev1.Node{node("a", 4000, 4096)},
		pod("loner", 100, 0, on("a"), priority(1), antiAffinity(labelHostname, map[string]string{"app": "web"})),
		pod("neighbour", 100, 0, on("a"), priority(1)))
	h.add(pod("web", 100, 0, priority(100), podLabels("app", "web")))
	h.run()
	if got := h.message("web"); !strings.Contains(got, "1 node(s) didn't satisfy existing pods anti-affinity rules") {
		t.Fatalf("message = %q", got)
	}
	if len(h.rec.preempted) != 1 || len(h.rec.preempted[0].victims) != 1 || h.rec.preempted[0].victims[0] != "loner" {
		t.Fatalf("preemption = %+v, want only loner evicted", h.rec.preempted)
	}
}

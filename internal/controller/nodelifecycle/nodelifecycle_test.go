package nodelifecycle

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"tug/internal/controller"
)

func ptr[T any](v T) *T { return &v }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestCIDRSet(t *testing.T) {
	s, err := newCIDRSet("10.244.0.0/22")
	if err != nil {
		t.Fatal(err)
	}
	s.Occupy("old", "10.244.1.0/24")
	s.Occupy("foreign", "192.168.0.0/24") // not ours: ignored
	got := map[string]bool{}
	for _, n := range []string{"a", "b", "c"} {
		c, err := s.Allocate(n)
		if err != nil {
			t.Fatal(err)
		}
		if c == "10.244.1.0/24" || got[c] {
			t.Fatalf("%s got %s twice", n, c)
		}
		got[c] = true
	}
	if again, _ := s.Allocate("a"); !got[again] {
		t.Fatalf("a node asking again gets another range: %s", again)
	}
	if _, err := s.Allocate("d"); err != errCIDRsExhausted {
		t.Fatalf("fifth /24 of a /22: %v", err)
	}
	s.Release("b")
	if c, err := s.Allocate("d"); err != nil || !got[c] {
		t.Fatalf("released range not reused: %s %v", c, err)
	}
	for _, bad := range []string{"nonsense", "fd00::/48", "10.0.0.0/7"} {
		if _, err := newCIDRSet(bad); err == nil {
			t.Errorf("newCIDRSet(%q) accepted", bad)
		}
	}
	if s, _ := newCIDRSet("10.1.2.0/26"); s.size != 1 || s.prefixOf(0) != "10.1.2.0/26" {
		t.Fatalf("small cluster CIDR: %d ranges, first %s", s.size, s.prefixOf(0))
	}
}

func nodeWith(ready corev1.ConditionStatus, mut func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
	}
	if mut != nil {
		mut(n)
	}
	return n
}

func taintKeys(ts []corev1.Taint) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Key+":"+string(t.Effect))
	}
	return out
}

func TestWantedTaints(t *testing.T) {
	cases := []struct {
		name string
		node *corev1.Node
		want []string
	}{
		{"ready", nodeWith(corev1.ConditionTrue, nil), nil},
		{"not ready", nodeWith(corev1.ConditionFalse, nil), []string{"node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"}},
		{"unknown", nodeWith(corev1.ConditionUnknown, nil), []string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}},
		{"never reported", nodeWith("", nil), []string{"node.kubernetes.io/not-ready:NoSchedule"}},
		{"cordoned", nodeWith(corev1.ConditionTrue, func(n *corev1.Node) { n.Spec.Unschedulable = true }), []string{"node.kubernetes.io/unschedulable:NoSchedule"}},
		{"disk pressure", nodeWith(corev1.ConditionTrue, func(n *corev1.Node) {
			n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue},
				corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse})
		}), []string{"node.kubernetes.io/disk-pressure:NoSchedule"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := taintKeys(wantedTaints(tc.node))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReconcileTaints(t *testing.T) {
	earlier := metav1.NewTime(t0.Add(-time.Hour))
	user := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	unreachNE := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &earlier}
	unreachNS := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}

	// Node comes back: managed taints go, the user's stays.
	out, changed := reconcileTaints([]corev1.Taint{user, unreachNE, unreachNS}, nil, t0)
	if !changed || fmt.Sprint(taintKeys(out)) != "[dedicated:NoSchedule]" {
		t.Fatalf("recovery: %v %v", taintKeys(out), changed)
	}
	// Still unreachable: nothing changes, timeAdded is kept.
	out, changed = reconcileTaints([]corev1.Taint{unreachNE, unreachNS}, wantedTaints(nodeWith(corev1.ConditionUnknown, nil)), t0)
	if changed || !out[0].TimeAdded.Equal(&earlier) {
		t.Fatalf("steady state changed: %+v", out)
	}
	// Newly unreachable: NoExecute gets the time.
	out, changed = reconcileTaints([]corev1.Taint{user}, wantedTaints(nodeWith(corev1.ConditionUnknown, nil)), t0)
	if !changed || len(out) != 3 || out[2].TimeAdded == nil || !out[2].TimeAdded.Time.Equal(t0) || out[1].TimeAdded != nil {
		t.Fatalf("new taints: %+v", out)
	}
}

func TestEvictAfter(t *testing.T) {
	added := metav1.NewTime(t0)
	unreach := []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}}
	both := append([]corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}}, unreach...)
	noSchedule := []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectNoSchedule}}
	tol := func(key string, secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
	}
	defaults := []corev1.Toleration{tol(corev1.TaintNodeNotReady, ptr(int64(300))), tol(corev1.TaintNodeUnreachable, ptr(int64(300)))}
	cases := []struct {
		name   string
		taints []corev1.Taint
		tols   []corev1.Toleration
		since  time.Time
		now    time.Time
		wait   time.Duration
		evict  bool
	}{
		{"no taints", nil, nil, t0, t0, 0, false},
		{"only NoSchedule", noSchedule, nil, t0, t0, 0, false},
		{"no toleration: at once", unreach, nil, t0, t0, 0, true},
		{"other key tolerated only", unreach, []corev1.Toleration{tol("other", nil)}, t0, t0, 0, true},
		{"default 300s, just tainted", unreach, defaults, t0.Add(-time.Hour), t0, 300 * time.Second, true},
		{"default 300s, 100s in", unreach, defaults, t0.Add(-time.Hour), t0.Add(100 * time.Second), 200 * time.Second, true},
		{"default 300s, expired", unreach, defaults, t0.Add(-time.Hour), t0.Add(301 * time.Second), 0, true},
		{"pod arrived after the taint", unreach, defaults, t0.Add(60 * time.Second), t0.Add(100 * time.Second), 260 * time.Second, true},
		{"forever", unreach, []corev1.Toleration{tol(corev1.TaintNodeUnreachable, nil)}, t0, t0, 0, false},
		{"tolerate everything", both, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, t0, t0, 0, false},
		{"zero seconds", unreach, []corev1.Toleration{tol(corev1.TaintNodeUnreachable, ptr(int64(0)))}, t0, t0, 0, true},
		{"negative seconds", unreach, []corev1.Toleration{tol(corev1.TaintNodeUnreachable, ptr(int64(-5)))}, t0, t0, 0, true},
		{"shortest wins", both, []corev1.Toleration{tol(corev1.TaintNodeNotReady, ptr(int64(30))), tol(corev1.TaintNodeUnreachable, ptr(int64(600)))}, t0, t0, 30 * time.Second, true},
		{"one of two untolerated", both, []corev1.Toleration{tol(corev1.TaintNodeUnreachable, nil)}, t0, t0, 0, true},
		{"NoSchedule toleration does not count", unreach, []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, t0, t0, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wait, evict := evictAfter(tc.taints, tc.tols, tc.since, tc.now)
			if wait != tc.wait || evict != tc.evict {
				t.Fatalf("evictAfter = %v, %v; want %v, %v", wait, evict, tc.wait, tc.evict)
			}
		})
	}
}

// fixture is a controller over a fake client, driven step by step.
type fixture struct {
	t      *testing.T
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	nc     *Controller
	ctx    context.Context
}

func readyNode(name string, at time.Time) *corev1.Node {
	hb := metav1.NewTime(at)
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: hb}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: hb, LastTransitionTime: hb},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: hb, LastTransitionTime: hb},
	}}}
}

func leaseFor(name string, at time.Time) *coordinationv1.Lease {
	rt := metav1.NewMicroTime(at)
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &name, RenewTime: &rt, LeaseDurationSeconds: ptr(int32(40))}}
}

func podOn(name, node string, tols ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node, Tolerations: tols, Containers: []corev1.Container{{Name: "c", Image: "i"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func newFixture(t *testing.T, grace time.Duration, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	clk := clocktesting.NewFakeClock(t0)
	c := controller.NewTestContext(client, clk, controller.Options{ClusterCIDR: "10.244.0.0/16", NodeMonitorGracePeriod: grace}, record.NewFakeRecorder(100))
	nc, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); nc.nodeQueue.ShutDown(); nc.podQueue.ShutDown() })
	c.Informers.Start(ctx.Done())
	c.Informers.WaitForCacheSync(ctx.Done())
	nc.loadCIDRs()
	return &fixture{t: t, client: client, clock: clk, nc: nc, ctx: ctx}
}

// settle waits until cond holds (informers catch up asynchronously).
func (f *fixture) settle(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Fatalf("timed out waiting for %s", what)
}

func (f *fixture) drain() {
	f.nc.nodeQueue.Drain(f.ctx, f.nc.syncNode, 1000)
	f.nc.podQueue.Drain(f.ctx, f.nc.syncPod, 1000)
}

// drainUntil runs the queues until cond holds: informer handlers queue keys
// asynchronously, after the caches already show a change.
func (f *fixture) drainUntil(what string, cond func() bool) {
	f.t.Helper()
	f.settle(what, func() bool {
		f.drain()
		return cond()
	})
}

func (f *fixture) node(name string) *corev1.Node {
	n, err := f.client.CoreV1().Nodes().Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) podExists(name string) bool {
	_, err := f.client.CoreV1().Pods("ns").Get(f.ctx, name, metav1.GetOptions{})
	return err == nil
}

// listerNode waits until the lister's node satisfies cond.
func (f *fixture) listerNode(name string, cond func(*corev1.Node) bool) {
	f.settle("node "+name+" in the cache", func() bool {
		n, err := f.nc.nodes.Get(name)
		return err == nil && cond(n)
	})
}

func (f *fixture) renew(name string) {
	l, _ := f.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(f.ctx, name, metav1.GetOptions{})
	rt := metav1.NewMicroTime(f.clock.Now())
	l.Spec.RenewTime = &rt
	if _, err := f.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(f.ctx, l, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.settle("lease renewal seen", func() bool {
		f.nc.mu.Lock()
		defer f.nc.mu.Unlock()
		h := f.nc.health[name]
		return h != nil && h.renew.Equal(rt.Time)
	})
}

func graceDeletes(client *fake.Clientset) map[string]*int64 {
	out := map[string]*int64{}
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "pods" {
			out[d.GetName()] = d.GetDeleteOptions().GracePeriodSeconds
		}
	}
	return out
}

func TestSilentNodeLifecycle(t *testing.T) {
	unreachTol := func(secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
	}
	f := newFixture(t, 40*time.Second,
		readyNode("n1", t0), readyNode("n2", t0), leaseFor("n1", t0), leaseFor("n2", t0),
		podOn("default-tol", "n1", unreachTol(ptr(int64(300)))),
		podOn("no-tol", "n1"),
		podOn("forever", "n1", unreachTol(nil)),
		podOn("short", "n1", unreachTol(ptr(int64(10)))),
		podOn("elsewhere", "n2"),
	)
	f.drainUntil("pod CIDRs", func() bool { return f.node("n1").Spec.PodCIDR != "" && f.node("n2").Spec.PodCIDR != "" })

	// Every node gets its own /24.
	c1, c2 := f.node("n1").Spec.PodCIDR, f.node("n2").Spec.PodCIDR
	if c1 == "" || c2 == "" || c1 == c2 || f.node("n1").Spec.PodCIDRs[0] != c1 {
		t.Fatalf("pod CIDRs: %q %q", c1, c2)
	}

	// n2 keeps renewing; n1 goes silent. Within the grace period nothing happens.
	f.clock.Step(30 * time.Second)
	f.renew("n2")
	f.nc.checkHealth(f.ctx)
	if readyStatus(f.node("n1")) != corev1.ConditionTrue {
		t.Fatal("n1 marked before its grace period ran out")
	}
	f.clock.Step(15 * time.Second)
	f.renew("n2")
	f.nc.checkHealth(f.ctx)
	n1 := f.node("n1")
	ready := condition(n1, corev1.NodeReady)
	if ready.Status != corev1.ConditionUnknown || ready.Reason != reasonUnknown || ready.Message != messageUnknown || !ready.LastHeartbeatTime.Time.Equal(t0) {
		t.Fatalf("n1 Ready = %+v", ready)
	}
	if c := condition(n1, corev1.NodeMemoryPressure); c.Status != corev1.ConditionUnknown {
		t.Fatalf("n1 MemoryPressure = %+v", c)
	}
	if readyStatus(f.node("n2")) != corev1.ConditionTrue {
		t.Fatal("n2 marked although it renews its lease")
	}

	// The taints follow; untolerated pods go at once, with grace 0 (the node
	// cannot confirm); the others lose readiness.
	f.listerNode("n1", func(n *corev1.Node) bool { return readyStatus(n) == corev1.ConditionUnknown })
	f.drainUntil("eviction of the untolerating pod", func() bool { return !f.podExists("no-tol") })
	if got := fmt.Sprint(taintKeys(f.node("n1").Spec.Taints)); got != "[node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute]" {
		t.Fatalf("n1 taints = %s", got)
	}
	if f.podExists("no-tol") {
		t.Fatal("pod without toleration not evicted")
	}
	if g := graceDeletes(f.client)["no-tol"]; g == nil || *g != 0 {
		t.Fatalf("eviction from an unreachable node must not wait for the node: grace %v", g)
	}
	for _, p := range []string{"default-tol", "forever", "short", "elsewhere"} {
		if !f.podExists(p) {
			t.Fatalf("pod %s evicted too early", p)
		}
	}
	if p, _ := f.client.CoreV1().Pods("ns").Get(f.ctx, "default-tol", metav1.GetOptions{}); p.Status.Conditions[0].Status != corev1.ConditionFalse {
		t.Fatalf("pod on the silent node still Ready: %+v", p.Status.Conditions)
	}

	// tolerationSeconds run out: 10s, then 300s.
	f.clock.Step(11 * time.Second)
	f.settle("delayed pod key", func() bool { return f.nc.podQueue.Len() > 0 })
	f.drain()
	if f.podExists("short") || !f.podExists("default-tol") {
		t.Fatalf("after 11s: short exists=%v default-tol exists=%v", f.podExists("short"), f.podExists("default-tol"))
	}
	f.clock.Step(290 * time.Second)
	f.settle("delayed pod key", func() bool { return f.nc.podQueue.Len() > 0 })
	f.drain()
	if f.podExists("default-tol") {
		t.Fatal("pod with 300s toleration survives 301s")
	}
	if !f.podExists("forever") || !f.podExists("elsewhere") {
		t.Fatal("pods tolerating forever, or on a healthy node, were evicted")
	}

	// The node comes back: it renews and reports Ready; the taints go.
	f.renew("n1")
	back := f.node("n1")
	for i := range back.Status.Conditions {
		c := &back.Status.Conditions[i]
		c.Status, c.LastHeartbeatTime = corev1.ConditionTrue, metav1.NewTime(f.clock.Now())
		if c.Type == corev1.NodeMemoryPressure {
			c.Status = corev1.ConditionFalse
		}
	}
	if _, err := f.client.CoreV1().Nodes().UpdateStatus(f.ctx, back, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.listerNode("n1", func(n *corev1.Node) bool { return readyStatus(n) == corev1.ConditionTrue })
	f.drainUntil("taints removed after recovery", func() bool { return len(f.node("n1").Spec.Taints) == 0 })
	f.nc.checkHealth(f.ctx)
	if readyStatus(f.node("n1")) != corev1.ConditionTrue {
		t.Fatal("recovered node marked again")
	}
}

func TestNotReadyNodeEvictsGracefully(t *testing.T) {
	n := readyNode("n1", t0)
	n.Status.Conditions[0].Status = corev1.ConditionFalse
	f := newFixture(t, 40*time.Second, n, leaseFor("n1", t0), podOn("p", "n1"))
	f.drainUntil("eviction from the not-ready node", func() bool { return !f.podExists("p") })
	if g := graceDeletes(f.client)["p"]; g != nil {
		t.Fatalf("a node that still answers gets the pod's own grace period, got %d", *g)
	}
}

func TestTerminatingPodOnUnreachableNode(t *testing.T) {
	n := readyNode("n1", t0)
	n.Status.Conditions[0].Status = corev1.ConditionUnknown
	p := podOn("p", "n1", corev1.Toleration{Operator: corev1.TolerationOpExists})
	del := metav1.NewTime(t0.Add(30 * time.Second))
	p.DeletionTimestamp = &del
	f := newFixture(t, 40*time.Second, n, leaseFor("n1", t0), p)
	f.settle("pod queued", func() bool { return f.nc.podQueue.Len() > 0 })
	f.drain()
	if !f.podExists("p") {
		t.Fatal("removed before its grace period ended")
	}
	f.clock.Step(31 * time.Second)
	f.settle("delayed pod key", func() bool { return f.nc.podQueue.Len() > 0 })
	f.drain()
	if f.podExists("p") {
		t.Fatal("deleted pod on an unreachable node is never removed")
	}
}

func TestCIDRsSurviveRestart(t *testing.T) {
	a, b := readyNode("a", t0), readyNode("b", t0)
	a.Spec.PodCIDR, a.Spec.PodCIDRs = "10.244.0.0/24", []string{"10.244.0.0/24"}
	b.Spec.PodCIDR, b.Spec.PodCIDRs = "10.244.1.0/24", []string{"10.244.1.0/24"}
	f := newFixture(t, 40*time.Second, a, b, readyNode("c", t0))
	f.drainUntil("pod CIDR for c", func() bool { return f.node("c").Spec.PodCIDR != "" })
	if got := f.node("c").Spec.PodCIDR; got != "10.244.2.0/24" {
		t.Fatalf("new node after restart got %q", got)
	}
}

func TestNeverReportedNode(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: metav1.NewTime(t0)}}
	f := newFixture(t, 40*time.Second, n)
	f.drainUntil("taints", func() bool { return len(f.node("n1").Spec.Taints) > 0 })
	if got := fmt.Sprint(taintKeys(f.node("n1").Spec.Taints)); got != "[node.kubernetes.io/not-ready:NoSchedule]" {
		t.Fatalf("fresh node taints = %s", got)
	}
	f.clock.Step(41 * time.Second)
	f.nc.checkHealth(f.ctx)
	c := condition(f.node("n1"), corev1.NodeReady)
	if c == nil || c.Status != corev1.ConditionUnknown || c.Reason != reasonNeverUpdated {
		t.Fatalf("Ready = %+v", c)
	}
}

func TestOrphanedPod(t *testing.T) {
	f := newFixture(t, 40*time.Second, podOn("p", "gone"))
	f.drainUntil("missing node noticed", func() bool {
		f.nc.mu.Lock()
		defer f.nc.mu.Unlock()
		_, ok := f.nc.missing["ns/p"]
		return ok
	})
	if !f.podExists("p") {
		t.Fatal("orphan removed without waiting")
	}
	f.clock.Step(41 * time.Second)
	f.settle("delayed pod key", func() bool { return f.nc.podQueue.Len() > 0 })
	f.drain()
	if f.podExists("p") {
		t.Fatal("pod of a deleted node is never removed")
	}
}

func TestCIDRExhaustion(t *testing.T) {
	client := fake.NewSimpleClientset(readyNode("a", t0), readyNode("b", t0), readyNode("c", t0))
	rec := record.NewFakeRecorder(100)
	c := controller.NewTestContext(client, clocktesting.NewFakeClock(t0), controller.Options{ClusterCIDR: "10.9.0.0/23"}, rec)
	nc, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Informers.Start(ctx.Done())
	c.Informers.WaitForCacheSync(ctx.Done())
	nc.loadCIDRs()
	f := &fixture{t: t, client: client, nc: nc, ctx: ctx}
	f.drainUntil("two ranges given", func() bool {
		given := 0
		for _, n := range []string{"a", "b", "c"} {
			if f.node(n).Spec.PodCIDR != "" {
				given++
			}
		}
		return given == 2
	})
	var without string
	for _, n := range []string{"a", "b", "c"} {
		if f.node(n).Spec.PodCIDR == "" {
			without = n
		}
	}
	if without == "" {
		t.Fatal("three nodes got ranges from a /23")
	}
	// Asked again (the node is updated often), it is told only once.
	nc.nodeQueue.Add(without)
	f.drain()
	notAvailable := 0
	for len(rec.Events) > 0 {
		if e := <-rec.Events; strings.Contains(e, "CIDRNotAvailable") {
			notAvailable++
		}
	}
	if notAvailable != 1 {
		t.Fatalf("%d CIDRNotAvailable events, want 1", notAvailable)
	}
	// A node goes away; the waiting node gets its range.
	other := map[string]string{"a": "b", "b": "a", "c": "a"}[without]
	if err := client.CoreV1().Nodes().Delete(ctx, other, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.settle("node deletion seen", func() bool { _, err := nc.nodes.Get(other); return err != nil })
	nc.nodeQueue.Add(without)
	f.drain()
	if f.node(without).Spec.PodCIDR == "" {
		t.Fatal("released range not given to the waiting node")
	}
}

func TestNodeWithItsOwnRange(t *testing.T) {
	f := newFixture(t, 40*time.Second)
	own := readyNode("own", t0)
	own.Spec.PodCIDR, own.Spec.PodCIDRs = "10.244.0.0/24", []string{"10.244.0.0/24"}
	if _, err := f.client.CoreV1().Nodes().Create(f.ctx, own, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.drainUntil("own range recorded", func() bool {
		f.nc.cidrs.mu.Lock()
		defer f.nc.cidrs.mu.Unlock()
		_, ok := f.nc.cidrs.byNode["own"]
		return ok
	})
	if _, err := f.client.CoreV1().Nodes().Create(f.ctx, readyNode("next", t0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.drainUntil("range for next", func() bool { return f.node("next").Spec.PodCIDR != "" })
	if got := f.node("next").Spec.PodCIDR; got == "10.244.0.0/24" {
		t.Fatal("a range a node brought along was handed out again")
	}
}

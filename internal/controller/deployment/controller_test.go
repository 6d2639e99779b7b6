package deployment

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFenceposts(t *testing.T) {
	cases := []struct {
		replicas           int32
		surge, unavailable string
		wantS, wantU       int32
	}{
		{10, "25%", "25%", 3, 2},
		{3, "25%", "25%", 1, 0},
		{1, "25%", "25%", 1, 0},
		{4, "0", "0%", 0, 1},
		{5, "2", "10", 2, 5},
		{0, "25%", "25%", 0, 0},
		{7, "50%", "50%", 4, 3},
	}
	for _, tc := range cases {
		d := newDeployment("web", tc.replicas, rollingUpdate(tc.surge, tc.unavailable))
		if s, u := maxSurge(d), maxUnavailable(d); s != tc.wantS || u != tc.wantU {
			t.Errorf("%d replicas, surge %s, unavailable %s: got %d/%d, want %d/%d", tc.replicas, tc.surge, tc.unavailable, s, u, tc.wantS, tc.wantU)
		}
	}
	if s, u := maxSurge(newDeployment("r", 5, recreateStrategy())), maxUnavailable(newDeployment("r", 5, recreateStrategy())); s != 0 || u != 0 {
		t.Errorf("Recreate: %d/%d", s, u)
	}
}

func TestTemplateHashIsStableAndIgnoresTheHashLabel(t *testing.T) {
	d := newDeployment("web", 1)
	h1 := templateHash(d)
	d2 := d.DeepCopy()
	d2.Spec.Template.Labels[HashLabel] = "whatever"
	if templateHash(d2) != h1 {
		t.Error("the hash label changed the hash")
	}
	if h := templateHash(newDeployment("web", 1, image("v2"))); h == h1 {
		t.Error("a new image kept the hash")
	}
	d.Status.CollisionCount = ptr[int32](1)
	if templateHash(d) == h1 {
		t.Error("the collision count did not change the hash")
	}
	if len(h1) != 10 || strings.ContainsAny(h1, "aeiou013") {
		t.Errorf("hash %q", h1)
	}
}

func TestNewDeploymentCreatesItsReplicaSet(t *testing.T) {
	d := newDeployment("web", 3)
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "first", lastAppliedAnnotation: "{}"}
	h := newHarness(t, d)
	h.reconcile("ns/web")
	hash := templateHash(d)
	want := []string{
		"create replicasets web-" + hash + " 3",
		"update deployments",
		"update deployments/status",
		"update deployments/status",
	}
	if got := h.actions(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("actions\n got %v\nwant %v", got, want)
	}
	rs := h.replicaSets()[0]
	if rs.Spec.Selector.MatchLabels[HashLabel] != hash || rs.Spec.Template.Labels[HashLabel] != hash || rs.Labels[HashLabel] != hash {
		t.Errorf("hash label missing: %+v", rs.Spec)
	}
	wantAnn := map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4", "kubernetes.io/change-cause": "first"}
	if fmt.Sprint(rs.Annotations) != fmt.Sprint(wantAnn) {
		t.Errorf("annotations %v, want %v", rs.Annotations, wantAnn)
	}
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID || ref.Kind != "Deployment" || !*ref.BlockOwnerDeletion {
		t.Errorf("owner %+v", rs.OwnerReferences)
	}
	got := h.deployment("web")
	if got.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("deployment revision %q", got.Annotations[RevisionAnnotation])
	}
	if c := getCondition(&got.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != reasonNewRSCreated {
		t.Errorf("progressing %+v", c)
	}
	if c := getCondition(&got.Status, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionFalse || c.Reason != reasonMinUnavailable {
		t.Errorf("available %+v", c)
	}
	if ev := h.events(); len(ev) != 1 || ev[0] != "Normal ScalingReplicaSet Scaled up replica set web-"+hash+" from 0 to 3" {
		t.Errorf("events %v", ev)
	}
	// Once the pods are available the rollout is complete.
	h.settle()
	h.syncCaches()
	h.reconcile("ns/web")
	got = h.deployment("web")
	if got.Status.AvailableReplicas != 3 || got.Status.UpdatedReplicas != 3 || got.Status.ObservedGeneration != 1 {
		t.Errorf("status %+v", got.Status)
	}
	if c := getCondition(&got.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != reasonNewRSAvailable || c.Status != corev1.ConditionTrue {
		t.Errorf("progressing %+v", c)
	}
	if c := getCondition(&got.Status, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("available %+v", c)
	}
}

// TestRolloutInvariants plays whole rollouts step by step: after every step the
// available pods never drop below replicas-maxUnavailable, the wanted pods never
// exceed replicas+maxSurge, and the rollout ends with only the new version.
func TestRolloutInvariants(t *testing.T) {
	cases := []struct {
		name               string
		replicas           int32
		surge, unavailable string
	}{
		{"defaults on 10", 10, "25%", "25%"},
		{"defaults on 3 (no unavailability)", 3, "25%", "25%"},
		{"surge only", 4, "1", "0"},
		{"unavailability only", 5, "0", "1"},
		{"double", 6, "100%", "0"},
		{"big steps", 9, "50%", "50%"},
		{"single replica", 1, "25%", "25%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment("web", tc.replicas, rollingUpdate(tc.surge, tc.unavailable))
			h := newHarness(t, d, rsFor(d, 1, tc.replicas, time.Hour))
			cur := h.deployment("web")
			image("v2")(cur)
			h.update(cur)
			surge, unav := maxSurge(cur), maxUnavailable(cur)
			for step := 0; step < 60; step++ {
				h.syncCaches()
				h.reconcile("ns/web")
				h.shrink()
				var total, avail int32
				for _, rs := range h.replicaSets() {
					total += replicas(rs.Spec.Replicas)
					avail += rs.Status.AvailableReplicas
				}
				if avail < tc.replicas-unav {
					t.Fatalf("step %d: %d available, minimum %d (%s)", step, avail, tc.replicas-unav, h.sizes())
				}
				if total > tc.replicas+surge {
					t.Fatalf("step %d: %d pods wanted, maximum %d (%s)", step, total, tc.replicas+surge, h.sizes())
				}
				h.settle()
				h.syncCaches()
				d := h.deployment("web")
				if c := getCondition(&d.Status, appsv1.DeploymentProgressing); c != nil && c.Reason == reasonNewRSAvailable {
					rss := h.replicaSets()
					if len(rss) != 2 || replicas(rss[0].Spec.Replicas) != 0 || replicas(rss[1].Spec.Replicas) != tc.replicas || rss[1].Annotations[RevisionAnnotation] != "2" {
						t.Fatalf("finished with %s", h.sizes())
					}
					if d.Status.UpdatedReplicas != tc.replicas || d.Status.Replicas != tc.replicas || d.Annotations[RevisionAnnotation] != "2" {
						t.Fatalf("status %+v", d.Status)
					}
					return
				}
			}
			t.Fatalf("rollout did not finish: %s", h.sizes())
		})
	}
}

func TestRecreate(t *testing.T) {
	d := newDeployment("web", 2, recreateStrategy())
	h := newHarness(t, d, rsFor(d, 1, 2, time.Hour))
	cur := h.deployment("web")
	image("v2")(cur)
	h.update(cur)
	h.syncCaches()
	h.reconcile("ns/web")
	old := h.replicaSets()
	if len(old) != 1 || replicas(old[0].Spec.Replicas) != 0 {
		t.Fatalf("the old version should be scaled to zero first: %s", h.sizes())
	}
	// Old pods still running: nothing new yet.
	h.syncCaches()
	h.reconcile("ns/web")
	if len(h.replicaSets()) != 1 {
		t.Fatalf("new version created while old pods run: %s", h.sizes())
	}
	h.settle()
	h.syncCaches()
	h.reconcile("ns/web")
	rss := h.replicaSets()
	if len(rss) != 2 || replicas(rss[1].Spec.Replicas) != 2 || rss[1].Annotations[RevisionAnnotation] != "2" {
		t.Fatalf("after the old pods are gone the new version runs at full size: %s", h.sizes())
	}
}

func TestProportionalScaling(t *testing.T) {
	// A rollout stuck half way: 8 old and 5 new pods for 10 replicas, maxSurge 3.
	d := newDeployment("web", 10, rollingUpdate("3", "2"))
	oldRS := rsFor(d, 1, 8, time.Hour)
	cur := d.DeepCopy()
	image("v2")(cur)
	newRS := rsFor(cur, 2, 5, time.Minute)
	newRS.Status.AvailableReplicas = 0
	cur.Spec.Replicas = ptr[int32](15)
	cur.Generation = 2
	cur.Status.Replicas = 13
	h := newHarness(t, cur, oldRS, newRS)
	h.reconcile("ns/web")
	rss := h.replicaSets()
	// 18 allowed now: the 5 extra go 3 to the old and 2 to the new version.
	if replicas(rss[0].Spec.Replicas) != 11 || replicas(rss[1].Spec.Replicas) != 7 {
		t.Fatalf("sizes %s", h.sizes())
	}
	for _, rs := range rss {
		if rs.Annotations[DesiredReplicasAnnotation] != "15" || rs.Annotations[MaxReplicasAnnotation] != "18" {
			t.Errorf("%s annotations %v", rs.Name, rs.Annotations)
		}
	}
	ev := h.events()
	want := []string{
		"Normal ScalingReplicaSet Scaled up replica set " + oldRS.Name + " from 8 to 11",
		"Normal ScalingReplicaSet Scaled up replica set " + newRS.Name + " from 5 to 7",
	}
	if fmt.Sprint(ev) != fmt.Sprint(want) {
		t.Errorf("events\n got %v\nwant %v", ev, want)
	}
}

func TestScaleOneVersion(t *testing.T) {
	d := newDeployment("web", 3)
	rs := rsFor(d, 1, 3, time.Hour)
	d.Spec.Replicas = ptr[int32](5)
	h := newHarness(t, d, rs)
	h.reconcile("ns/web")
	if got := h.replicaSets()[0]; replicas(got.Spec.Replicas) != 5 || got.Annotations[DesiredReplicasAnnotation] != "5" || got.Annotations[MaxReplicasAnnotation] != "7" {
		t.Fatalf("got %d %v", replicas(got.Spec.Replicas), got.Annotations)
	}
	if ev := h.events(); len(ev) != 1 || ev[0] != "Normal ScalingReplicaSet Scaled up replica set "+rs.Name+" from 3 to 5" {
		t.Errorf("events %v", ev)
	}
}

func TestRollbackReusesTheOldReplicaSet(t *testing.T) {
	v1 := newDeployment("web", 2)
	v2 := newDeployment("web", 2, image("v2"))
	rs1 := rsFor(v1, 1, 0, 2*time.Hour)
	rs1.Annotations["kubernetes.io/change-cause"] = "one"
	rs2 := rsFor(v2, 2, 2, time.Hour)
	// kubectl rollout undo: the template of revision 1 (and its change-cause) back
	// into the Deployment.
	d := v1.DeepCopy()
	d.Annotations = map[string]string{RevisionAnnotation: "2", "kubernetes.io/change-cause": "one"}
	d.Generation = 3
	h := newHarness(t, d, rs1, rs2)
	h.reconcile("ns/web")
	got := h.replicaSets()[0]
	if got.Name != rs1.Name || got.Annotations[RevisionAnnotation] != "3" || got.Annotations[RevisionHistoryAnnotation] != "1" {
		t.Fatalf("old replica set after rollback: %v", got.Annotations)
	}
	if replicas(got.Spec.Replicas) == 0 {
		t.Errorf("the rolled-back version should be scaled up: %s", h.sizes())
	}
	if r := h.deployment("web").Annotations[RevisionAnnotation]; r != "3" {
		t.Errorf("deployment revision %q", r)
	}
	if len(h.replicaSets()) != 2 {
		t.Errorf("no new replica set should be created: %s", h.sizes())
	}
}

func TestCleanupKeepsRevisionHistoryLimit(t *testing.T) {
	d := newDeployment("web", 1, historyLimit(1))
	rsA := rsFor(newDeployment("web", 1, image("a")), 1, 0, 4*time.Hour)
	rsB := rsFor(newDeployment("web", 1, image("b")), 2, 0, 3*time.Hour)
	rsC := rsFor(newDeployment("web", 1, image("c")), 3, 0, 2*time.Hour)
	cur := rsFor(d, 4, 1, time.Hour)
	d.Annotations = map[string]string{RevisionAnnotation: "4"}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, ReadyReplicas: 1}
	h := newHarness(t, d, rsA, rsB, rsC, cur)
	h.reconcile("ns/web")
	var deleted []string
	for _, a := range h.actions() {
		if strings.HasPrefix(a, "delete") {
			deleted = append(deleted, strings.Fields(a)[2])
		}
	}
	if fmt.Sprint(deleted) != fmt.Sprint([]string{rsA.Name, rsB.Name}) {
		t.Errorf("deleted %v, want the two oldest revisions", deleted)
	}
}

func TestPausedDeploymentDoesNotRollOut(t *testing.T) {
	d := newDeployment("web", 2)
	rs := rsFor(d, 1, 2, time.Hour)
	image("v2")(d)
	paused()(d)
	h := newHarness(t, d, rs)
	h.reconcile("ns/web")
	if len(h.replicaSets()) != 1 {
		t.Fatalf("paused deployment rolled out: %s", h.sizes())
	}
	got := h.deployment("web")
	if c := getCondition(&got.Status, appsv1.DeploymentProgressing); c == nil || c.Status != corev1.ConditionUnknown || c.Reason != reasonPaused {
		t.Errorf("progressing %+v", c)
	}
	// Resume: the rollout starts and the condition says so first.
	got.Spec.Paused = false
	h.update(got)
	h.syncCaches()
	h.reconcile("ns/web")
	if len(h.replicaSets()) != 2 {
		t.Fatalf("resumed deployment did not roll out: %s", h.sizes())
	}
}

func TestProgressDeadline(t *testing.T) {
	d := newDeployment("web", 2, image("v2"))
	d.Spec.ProgressDeadlineSeconds = ptr[int32](30)
	old := rsFor(newDeployment("web", 2), 1, 2, time.Hour)
	h := newHarness(t, d, old)
	h.reconcile("ns/web") // creates the new version, which never becomes available
	for i := 0; i < 3; i++ {
		h.syncCaches()
		h.reconcile("ns/web")
	}
	if c := getCondition(&h.deployment("web").Status, appsv1.DeploymentProgressing); c == nil || c.Reason == reasonTimedOut {
		t.Fatalf("timed out too early: %+v", c)
	}
	h.clock.Step(31 * time.Second)
	h.syncCaches()
	h.reconcile("ns/web")
	c := getCondition(&h.deployment("web").Status, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != reasonTimedOut {
		t.Fatalf("progressing %+v", c)
	}
}

func TestAdoptsAndReleasesReplicaSets(t *testing.T) {
	d := newDeployment("web", 1)
	orphan := rsFor(d, 1, 1, time.Hour)
	orphan.OwnerReferences = nil
	stray := rsFor(newDeployment("web", 1, image("x")), 1, 0, time.Hour)
	stray.Labels = map[string]string{"app": "elsewhere"}
	h := newHarness(t, d, orphan, stray)
	h.reconcile("ns/web")
	var patched []string
	for _, a := range h.actions() {
		if strings.HasPrefix(a, "patch") {
			patched = append(patched, a)
		}
	}
	want := []string{"patch replicasets " + orphan.Name, "patch replicasets " + stray.Name}
	if fmt.Sprint(patched) != fmt.Sprint(want) && fmt.Sprint(patched) != fmt.Sprint([]string{want[1], want[0]}) {
		t.Errorf("patches %v, want %v", patched, want)
	}
}

func TestProportionHelpers(t *testing.T) {
	d := newDeployment("web", 20, rollingUpdate("3", "2"))
	d.Status.Replicas = 13
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{MaxReplicasAnnotation: "13"}}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr[int32](8)}}
	if f := fraction(d, rs); f != 6 { // 8*23/13 = 14.15 -> 14
		t.Errorf("fraction %d", f)
	}
	delete(rs.Annotations, MaxReplicasAnnotation)
	if f := fraction(d, rs); f != 6 { // falls back to status.replicas
		t.Errorf("fraction without annotation %d", f)
	}
	zero := newDeployment("web", 0)
	if f := fraction(zero, rs); f != -8 {
		t.Errorf("fraction to zero %d", f)
	}
}

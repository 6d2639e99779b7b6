package statefulset

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"tug/internal/controller"
	"tug/internal/controller/history"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t   *testing.T
	cs  *fake.Clientset
	clk *clocktesting.FakeClock
	c   *Controller
	rec *record.FakeRecorder
	ctx context.Context
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	cs := fake.NewSimpleClientset(objs...)
	// The fake API gives no UIDs; the server would.
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.UID == "" {
			p.UID = types.UID("uid-" + p.Name)
		}
		return false, nil, nil
	})
	clk := clocktesting.NewFakeClock(t0)
	rec := record.NewFakeRecorder(1000)
	cctx := controller.NewTestContext(cs, clk, controller.Options{}, rec)
	c, err := New(cctx)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cctx.Informers.Start(ctx.Done())
	cctx.Informers.WaitForCacheSync(ctx.Done())
	return &harness{t: t, cs: cs, clk: clk, c: c, rec: rec, ctx: ctx}
}

// sync runs one reconcile of ns/web, returns the writes it made ("create pods
// web-0"), and waits until the informers have seen them.
func (h *harness) sync() []string {
	h.t.Helper()
	h.cs.ClearActions()
	if err := h.c.reconcile(h.ctx, "ns/web"); err != nil {
		h.t.Fatalf("reconcile: %v", err)
	}
	var out []string
	for _, a := range h.cs.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		res := a.GetResource().Resource
		if a.GetSubresource() != "" {
			res += "/" + a.GetSubresource()
		}
		name := ""
		switch x := a.(type) {
		case k8stesting.CreateAction:
			if m, ok := x.GetObject().(metav1.Object); ok {
				name = m.GetName()
			}
		case k8stesting.UpdateAction:
			if m, ok := x.GetObject().(metav1.Object); ok {
				name = m.GetName()
			}
		case k8stesting.DeleteAction:
			name = x.GetName()
		case k8stesting.PatchAction:
			name = x.GetName()
		}
		out = append(out, a.GetVerb()+" "+res+" "+name)
	}
	h.settle()
	return out
}

// settle waits until the listers show what the fake API holds.
func (h *harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if h.cachesCurrent() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatal("informer caches did not catch up")
}

func (h *harness) cachesCurrent() bool {
	pods, _ := h.cs.CoreV1().Pods("ns").List(h.ctx, metav1.ListOptions{})
	cached := h.c.pods.List()
	if len(pods.Items) != len(cached) {
		return false
	}
	for _, o := range cached {
		p := o.(*corev1.Pod)
		var found bool
		for i := range pods.Items {
			if pods.Items[i].Name == p.Name {
				found = equality.Semantic.DeepEqual(&pods.Items[i], p)
			}
		}
		if !found {
			return false
		}
	}
	revs, _ := h.cs.AppsV1().ControllerRevisions("ns").List(h.ctx, metav1.ListOptions{})
	crevs, _ := h.c.revs.List(labels.Everything())
	pvcs, _ := h.cs.CoreV1().PersistentVolumeClaims("ns").List(h.ctx, metav1.ListOptions{})
	cpvcs, _ := h.c.claims.List(labels.Everything())
	sets, _ := h.cs.AppsV1().StatefulSets("ns").List(h.ctx, metav1.ListOptions{})
	csets, _ := h.c.sets.List(labels.Everything())
	if len(revs.Items) != len(crevs) || len(pvcs.Items) != len(cpvcs) || len(sets.Items) != len(csets) {
		return false
	}
	for _, s := range csets {
		for i := range sets.Items {
			if sets.Items[i].Name == s.Name && !equality.Semantic.DeepEqual(&sets.Items[i], s) {
				return false
			}
		}
	}
	for _, r := range crevs {
		for i := range revs.Items {
			if revs.Items[i].Name == r.Name && revs.Items[i].Revision != r.Revision {
				return false
			}
		}
	}
	return true
}

func (h *harness) pod(name string) *corev1.Pod {
	h.t.Helper()
	p, err := h.cs.CoreV1().Pods("ns").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// ready makes pods Running and Ready as a node agent would.
func (h *harness) ready(names ...string) {
	h.t.Helper()
	for _, n := range names {
		p := h.pod(n)
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(h.clk.Now())}}
		if _, err := h.cs.CoreV1().Pods("ns").UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
	h.settle()
}

// terminate marks pods as being deleted (the fake API removes objects at once).
func (h *harness) terminate(names ...string) {
	h.t.Helper()
	for _, n := range names {
		p := h.pod(n)
		now := metav1.NewTime(h.clk.Now())
		p.DeletionTimestamp = &now
		if _, err := h.cs.CoreV1().Pods("ns").Update(h.ctx, p, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
	h.settle()
}

func (h *harness) remove(names ...string) {
	h.t.Helper()
	for _, n := range names {
		if err := h.cs.CoreV1().Pods("ns").Delete(h.ctx, n, metav1.DeleteOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
	h.settle()
}

func (h *harness) set() *appsv1.StatefulSet {
	h.t.Helper()
	s, err := h.cs.AppsV1().StatefulSets("ns").Get(h.ctx, "web", metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) updateSet(f func(s *appsv1.StatefulSet)) {
	h.t.Helper()
	s := h.set()
	f(s)
	s.Generation++
	if _, err := h.cs.AppsV1().StatefulSets("ns").Update(h.ctx, s, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
}

func podNames(h *harness) []string {
	pods, _ := h.cs.CoreV1().Pods("ns").List(h.ctx, metav1.ListOptions{})
	var out []string
	for _, p := range pods.Items {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func newSet(replicas int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	zero := int32(0)
	ten := int32(10)
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "set-uid", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			ServiceName:         "web",
			PodManagementPolicy: policy,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: &zero}},
			RevisionHistoryLimit: &ten,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1"}}},
			},
		},
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "|") == strings.Join(b, "|") }

func TestOrderedReadyCreatesOneAtATime(t *testing.T) {
	h := newHarness(t, newSet(3, appsv1.OrderedReadyPodManagement))
	steps := []struct {
		ready []string
		want  []string
	}{
		{nil, []string{"create controllerrevisions web-", "create pods web-0"}},
		{nil, nil}, // web-0 is not ready: wait
		{[]string{"web-0"}, []string{"create pods web-1"}},
		{nil, nil},
		{[]string{"web-1"}, []string{"create pods web-2"}},
		{[]string{"web-2"}, nil},
		{nil, nil},
	}
	for i, st := range steps {
		h.ready(st.ready...)
		var got []string
		for _, w := range h.sync() {
			switch {
			case strings.HasPrefix(w, "update statefulsets/status"):
				// Status follows the pods; checked at the end.
			case strings.HasPrefix(w, "create controllerrevisions web-"):
				// The revision name carries a hash; compare its prefix.
				got = append(got, "create controllerrevisions web-")
			default:
				got = append(got, w)
			}
		}
		if !equalStrings(got, st.want) {
			t.Fatalf("step %d: writes %v, want %v", i, got, st.want)
		}
	}
	s := h.set()
	if s.Status.Replicas != 3 || s.Status.ReadyReplicas != 3 || s.Status.AvailableReplicas != 3 ||
		s.Status.CurrentRevision == "" || s.Status.CurrentRevision != s.Status.UpdateRevision || s.Status.ObservedGeneration != 1 {
		t.Fatalf("status %+v", s.Status)
	}
	p := h.pod("web-1")
	if p.Labels[podNameLabel] != "web-1" || p.Labels[podIndexLabel] != "1" || p.Labels[history.HashLabel] != s.Status.UpdateRevision ||
		p.Spec.Hostname != "web-1" || p.Spec.Subdomain != "web" {
		t.Fatalf("pod identity: labels %v hostname %q subdomain %q", p.Labels, p.Spec.Hostname, p.Spec.Subdomain)
	}
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.UID != "set-uid" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Fatalf("controller reference %+v", ref)
	}
}

func TestParallelCreatesAll(t *testing.T) {
	h := newHarness(t, newSet(3, appsv1.ParallelPodManagement))
	h.sync()
	if got := podNames(h); !equalStrings(got, []string{"web-0", "web-1", "web-2"}) {
		t.Fatalf("pods %v", got)
	}
}

func TestScaleDown(t *testing.T) {
	cases := []struct {
		name   string
		policy appsv1.PodManagementPolicyType
		// each step: pods to remove (their deletion finished) before the sync, and
		// the deletes the sync makes
		steps [][2][]string
	}{
		{"ordered deletes from the top, one at a time", appsv1.OrderedReadyPodManagement, [][2][]string{
			{nil, {"web-3"}},
			{nil, nil}, // web-3 terminating (still listed) is waited for
			{{"web-3"}, {"web-2"}},
			{{"web-2"}, nil},
		}},
		{"parallel deletes all at once", appsv1.ParallelPodManagement, [][2][]string{
			{nil, {"web-3", "web-2"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, newSet(4, c.policy))
			for i := 0; i < 4; i++ {
				h.sync()
				h.ready(podNames(h)...)
			}
			h.sync()
			h.updateSet(func(s *appsv1.StatefulSet) { two := int32(2); s.Spec.Replicas = &two })
			// The fake API deletes at once; put deleted pods back as terminating so
			// that the controller sees what a real API shows.
			var deleted []*corev1.Pod
			h.cs.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				o, err := h.cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "ns", a.(k8stesting.DeleteAction).GetName())
				if err == nil {
					deleted = append(deleted, o.(*corev1.Pod))
				}
				return false, nil, nil
			})
			for i, st := range c.steps {
				h.remove(st[0]...)
				deleted = nil
				h.sync()
				var got []string
				for _, p := range deleted {
					got = append(got, p.Name)
					p = p.DeepCopy()
					now := metav1.NewTime(h.clk.Now())
					p.DeletionTimestamp = &now
					p.ResourceVersion = ""
					if _, err := h.cs.CoreV1().Pods("ns").Create(h.ctx, p, metav1.CreateOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				h.settle()
				if !equalStrings(got, st[1]) {
					t.Fatalf("step %d: deleted %v, want %v", i, got, st[1])
				}
			}
		})
	}
}

func TestClaimsPerPod(t *testing.T) {
	set := newSet(2, appsv1.ParallelPodManagement)
	set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: "www", Labels: map[string]string{"tier": "data"}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}}
	set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
	}
	h := newHarness(t, set)
	got := h.sync()
	var creates []string
	for _, w := range got {
		if strings.HasPrefix(w, "create ") && !strings.Contains(w, "controllerrevisions") {
			creates = append(creates, w)
		}
	}
	want := []string{"create persistentvolumeclaims www-web-0", "create pods web-0", "create persistentvolumeclaims www-web-1", "create pods web-1"}
	if !equalStrings(creates, want) {
		t.Fatalf("creates %v, want %v (claims before their pod)", creates, want)
	}
	claim, err := h.cs.CoreV1().PersistentVolumeClaims("ns").Get(h.ctx, "www-web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if claim.Labels["app"] != "web" || claim.Labels["tier"] != "data" {
		t.Fatalf("claim labels %v", claim.Labels)
	}
	if len(claim.OwnerReferences) != 1 || claim.OwnerReferences[0].UID != "set-uid" {
		t.Fatalf("claim owners %+v (whenDeleted: Delete wants the set)", claim.OwnerReferences)
	}
	p := h.pod("web-1")
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].PersistentVolumeClaim == nil || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "www-web-1" {
		t.Fatalf("pod volumes %+v", p.Spec.Volumes)
	}
	// Retain again: the set lets go of its claims.
	h.updateSet(func(s *appsv1.StatefulSet) {
		s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	})
	h.sync()
	claim, _ = h.cs.CoreV1().PersistentVolumeClaims("ns").Get(h.ctx, "www-web-1", metav1.GetOptions{})
	if len(claim.OwnerReferences) != 0 {
		t.Fatalf("claim owners after Retain: %+v", claim.OwnerReferences)
	}
}

// With whenScaled: Delete the claims of a pod scaled away get the pod as owner before
// it goes, so that the garbage collector removes them after it.
func TestClaimsFollowScaledAwayPods(t *testing.T) {
	set := newSet(2, appsv1.ParallelPodManagement)
	set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}}
	set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	h := newHarness(t, set)
	h.sync()
	h.ready("web-0", "web-1")
	h.updateSet(func(s *appsv1.StatefulSet) { one := int32(1); s.Spec.Replicas = &one })
	got := h.sync()
	if !equalStrings(got[:2], []string{"update persistentvolumeclaims data-web-1", "delete pods web-1"}) {
		t.Fatalf("writes %v, want the claim handed to the pod before the pod is deleted", got)
	}
	for name, want := range map[string]string{"data-web-0": "", "data-web-1": "uid-web-1"} {
		c, err := h.cs.CoreV1().PersistentVolumeClaims("ns").Get(h.ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		owner := ""
		for _, r := range c.OwnerReferences {
			if r.Kind == "Pod" {
				owner = string(r.UID)
			}
		}
		if owner != want {
			t.Fatalf("claim %s owned by pod %q, want %q", name, owner, want)
		}
	}
}

func TestRollingUpdateWithPartition(t *testing.T) {
	h := newHarness(t, newSet(3, appsv1.OrderedReadyPodManagement))
	for i := 0; i < 3; i++ {
		h.sync()
		h.ready(podNames(h)...)
	}
	h.sync()
	oldRev := h.set().Status.CurrentRevision
	h.updateSet(func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Containers[0].Image = "nginx:2"
		one := int32(1)
		s.Spec.UpdateStrategy.RollingUpdate.Partition = &one
	})
	var order []string
	for i := 0; i < 12; i++ {
		for _, w := range h.sync() {
			if strings.HasPrefix(w, "delete pods ") {
				order = append(order, strings.TrimPrefix(w, "delete pods "))
			}
		}
		h.ready(podNames(h)...)
	}
	if !equalStrings(order, []string{"web-2", "web-1"}) {
		t.Fatalf("update order %v, want web-2 then web-1 (web-0 is below the partition)", order)
	}
	s := h.set()
	if s.Status.UpdateRevision == oldRev || s.Status.CurrentRevision != oldRev || s.Status.UpdatedReplicas != 2 || s.Status.CurrentReplicas != 1 {
		t.Fatalf("status %+v (old revision %s)", s.Status, oldRev)
	}
	if img := h.pod("web-0").Spec.Containers[0].Image; img != "nginx:1" {
		t.Fatalf("web-0 image %s, want the old one", img)
	}
	if img := h.pod("web-2").Spec.Containers[0].Image; img != "nginx:2" {
		t.Fatalf("web-2 image %s, want the new one", img)
	}
	// Partition 0: the last pod moves too and the update revision becomes current.
	h.updateSet(func(s *appsv1.StatefulSet) { zero := int32(0); s.Spec.UpdateStrategy.RollingUpdate.Partition = &zero })
	for i := 0; i < 4; i++ {
		h.sync()
		h.ready(podNames(h)...)
	}
	s = h.set()
	if s.Status.CurrentRevision != s.Status.UpdateRevision || s.Status.UpdatedReplicas != 3 || s.Status.CurrentReplicas != 3 {
		t.Fatalf("status after the rollout %+v", s.Status)
	}
	revs, _ := h.cs.AppsV1().ControllerRevisions("ns").List(h.ctx, metav1.ListOptions{})
	if len(revs.Items) != 2 {
		t.Fatalf("%d revisions, want 2", len(revs.Items))
	}
}

func TestFailedPodIsRecreated(t *testing.T) {
	h := newHarness(t, newSet(1, appsv1.OrderedReadyPodManagement))
	h.sync()
	p := h.pod("web-0")
	p.Status.Phase = corev1.PodFailed
	if _, err := h.cs.CoreV1().Pods("ns").UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.settle()
	if got := h.sync(); !equalStrings(got, []string{"delete pods web-0", "update statefulsets/status web"}) && !equalStrings(got, []string{"delete pods web-0"}) {
		t.Fatalf("writes %v", got)
	}
	if got := h.sync(); len(got) == 0 || got[0] != "create pods web-0" {
		t.Fatalf("writes %v, want the pod made again", got)
	}
	select {
	case e := <-h.rec.Events:
		if !strings.Contains(e, "SuccessfulCreate") {
			t.Fatalf("first event %q", e)
		}
	default:
		t.Fatal("no events")
	}
}

func TestAdoptsOrphanMember(t *testing.T) {
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns", UID: "pod-uid", Labels: map[string]string{"app": "web"}}}
	stranger := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "ns", UID: "other-uid", Labels: map[string]string{"app": "web"}}}
	h := newHarness(t, newSet(1, appsv1.OrderedReadyPodManagement), orphan, stranger)
	got := h.sync()
	if len(got) < 1 || got[0] != "patch pods web-0" {
		t.Fatalf("writes %v, want web-0 adopted first", got)
	}
	for _, w := range got {
		if strings.Contains(w, "other") || w == "create pods web-0" {
			t.Fatalf("writes %v touch a non-member or duplicate the member", got)
		}
	}
	p := h.pod("web-0")
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != "set-uid" {
		t.Fatalf("web-0 owner %+v", p.OwnerReferences)
	}
}

// Rolling back with kubectl patches the template back to an old revision; the
// controller renumbers that revision instead of making a new one.
func TestRollbackReusesRevision(t *testing.T) {
	h := newHarness(t, newSet(1, appsv1.OrderedReadyPodManagement))
	h.sync()
	h.ready("web-0")
	h.sync()
	first := h.set().Status.UpdateRevision
	h.updateSet(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
	h.sync()
	h.updateSet(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "nginx:1" })
	h.sync()
	s := h.set()
	if s.Status.UpdateRevision != first {
		t.Fatalf("update revision %s, want the first one %s again", s.Status.UpdateRevision, first)
	}
	r, err := h.cs.AppsV1().ControllerRevisions("ns").Get(h.ctx, first, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision != 3 {
		t.Fatalf("revision number %d, want 3", r.Revision)
	}
	var data map[string]interface{}
	if err := json.Unmarshal(r.Data.Raw, &data); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(data["spec"].(map[string]interface{})["template"].(map[string]interface{})["$patch"]) != "replace" {
		t.Fatalf("revision data %s", r.Data.Raw)
	}
}

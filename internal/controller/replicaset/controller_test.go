package replicaset

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	"tug/internal/controller"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func newRS(name string, replicas int32, minReady int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name), Generation: 2},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr(replicas),
			MinReadySeconds: minReady,
			Selector:        &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, "tier": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
}

type podOpt func(*corev1.Pod)

func ownedBy(uid string, kind string) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: strings.TrimPrefix(uid, "uid-"), UID: types.UID(uid), Controller: ptr(true)}}
	}
}
func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func readySince(t time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t)}}
	}
}
func created(t time.Time) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t) }
}
func deleting() podOpt {
	return func(p *corev1.Pod) { ts := metav1.NewTime(t0); p.DeletionTimestamp = &ts }
}
func withLabels(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }

func newPod(name, app string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("pod-" + name), Labels: map[string]string{"app": app, "tier": "web"}, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))}}
	p.Status.Phase = corev1.PodPending
	for _, o := range opts {
		o(p)
	}
	return p
}

type harness struct {
	c      *Controller
	client *fake.Clientset
	rec    *record.FakeRecorder
	clock  *testclock.FakeClock
}

func newHarness(t *testing.T, rc bool, objs ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	var n atomic.Int32
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			p.Name = fmt.Sprintf("%sx%d", p.GenerateName, n.Add(1))
		}
		return false, nil, nil
	})
	clk := testclock.NewFakeClock(t0)
	rec := record.NewFakeRecorder(1000)
	cctx := controller.NewTestContext(client, clk, controller.Options{}, rec)
	var k kind = newReplicaSets(client, cctx.Informers)
	if rc {
		k = newReplicationControllers(client, cctx.Informers)
	}
	c, err := New(cctx, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		var err error
		switch o.(type) {
		case *corev1.Pod:
			err = cctx.Informers.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *appsv1.ReplicaSet:
			err = cctx.Informers.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(o)
		case *corev1.ReplicationController:
			err = cctx.Informers.Core().V1().ReplicationControllers().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	client.ClearActions()
	return &harness{c: c, client: client, rec: rec, clock: clk}
}

// actions summarises the client calls as "verb resource[/sub] name".
func (h *harness) actions() []string {
	var out []string
	for _, a := range h.client.Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			s += "/" + a.GetSubresource()
		}
		switch a.GetVerb() {
		case "create":
			s += " " + a.(k8stesting.CreateAction).GetObject().(metav1.Object).GetGenerateName()
		case "delete":
			s += " " + a.(k8stesting.DeleteAction).GetName()
		case "patch":
			s += " " + a.(k8stesting.PatchAction).GetName()
		case "get":
			s += " " + a.(k8stesting.GetAction).GetName()
		}
		out = append(out, s)
	}
	// Deletes run concurrently: their order is not part of the behaviour.
	var dels []string
	var idx []int
	for i, s := range out {
		if strings.HasPrefix(s, "delete ") {
			dels = append(dels, s)
			idx = append(idx, i)
		}
	}
	sort.Strings(dels)
	for j, i := range idx {
		out[i] = dels[j]
	}
	return out
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			sort.Strings(out)
			return out
		}
	}
}

func (h *harness) lastStatus(t *testing.T) appsv1.ReplicaSetStatus {
	t.Helper()
	for i := len(h.client.Actions()) - 1; i >= 0; i-- {
		a := h.client.Actions()[i]
		if a.GetSubresource() == "status" {
			switch o := a.(k8stesting.UpdateAction).GetObject().(type) {
			case *appsv1.ReplicaSet:
				return o.Status
			case *corev1.ReplicationController:
				return rcAsReplicaSet(o).Status
			}
		}
	}
	t.Fatalf("no status update in %v", h.actions())
	return appsv1.ReplicaSetStatus{}
}

func TestReconcile(t *testing.T) {
	old := t0.Add(-time.Hour)
	cases := []struct {
		name        string
		objs        []runtime.Object
		key         string
		wantActions []string
		wantEvents  []string
		wantStatus  *appsv1.ReplicaSetStatus
	}{
		{
			name:        "scale up from zero creates the missing pods with a controller reference",
			objs:        []runtime.Object{newRS("web", 3, 0)},
			wantActions: []string{"create pods web-", "create pods web-", "create pods web-", "update replicasets/status"},
			wantEvents:  []string{"Normal SuccessfulCreate Created pod: web-x1", "Normal SuccessfulCreate Created pod: web-x2", "Normal SuccessfulCreate Created pod: web-x3"},
			wantStatus:  &appsv1.ReplicaSetStatus{ObservedGeneration: 2},
		},
		{
			name: "scale down deletes the unscheduled, then pending, then not ready pods",
			objs: []runtime.Object{newRS("web", 2, 0),
				newPod("ready-old", "web", ownedBy("uid-web", "ReplicaSet"), onNode("n1"), readySince(old)),
				newPod("unscheduled", "web", ownedBy("uid-web", "ReplicaSet")),
				newPod("running-not-ready", "web", ownedBy("uid-web", "ReplicaSet"), onNode("n2"), phase(corev1.PodRunning)),
				newPod("ready-new", "web", ownedBy("uid-web", "ReplicaSet"), onNode("n3"), readySince(t0.Add(-time.Minute))),
			},
			wantActions: []string{"delete pods running-not-ready", "delete pods unscheduled", "update replicasets/status"},
			wantEvents:  []string{"Normal SuccessfulDelete Deleted pod: running-not-ready", "Normal SuccessfulDelete Deleted pod: unscheduled"},
			wantStatus:  &appsv1.ReplicaSetStatus{Replicas: 4, FullyLabeledReplicas: 4, ReadyReplicas: 2, AvailableReplicas: 2, ObservedGeneration: 2},
		},
		{
			name: "among ready pods the newest ready goes first",
			objs: []runtime.Object{newRS("web", 1, 0),
				newPod("a", "web", ownedBy("uid-web", "ReplicaSet"), onNode("n1"), readySince(old)),
				newPod("b", "web", ownedBy("uid-web", "ReplicaSet"), onNode("n2"), readySince(t0.Add(-time.Second))),
			},
			wantActions: []string{"delete pods b", "update replicasets/status"},
			wantEvents:  []string{"Normal SuccessfulDelete Deleted pod: b"},
		},
		{
			name: "an orphan that matches is adopted and counted",
			objs: []runtime.Object{newRS("web", 1, 0),
				newPod("orphan", "web", onNode("n1"), readySince(old)),
			},
			wantActions: []string{"get replicasets web", "patch pods orphan", "update replicasets/status"},
			wantStatus:  &appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 2},
		},
		{
			name: "an owned pod that stops matching is released and replaced",
			objs: []runtime.Object{newRS("web", 1, 0),
				newPod("moved", "other", ownedBy("uid-web", "ReplicaSet")),
			},
			wantActions: []string{"patch pods moved", "create pods web-", "update replicasets/status"},
			wantEvents:  []string{"Normal SuccessfulCreate Created pod: web-x1"},
		},
		{
			name: "pods of another controller are left alone",
			objs: []runtime.Object{newRS("web", 1, 0),
				newPod("theirs", "web", ownedBy("uid-other", "ReplicaSet"), readySince(old)),
			},
			wantActions: []string{"create pods web-", "update replicasets/status"},
			wantEvents:  []string{"Normal SuccessfulCreate Created pod: web-x1"},
		},
		{
			name: "terminating and finished pods do not count",
			objs: []runtime.Object{newRS("web", 2, 0),
				newPod("going", "web", ownedBy("uid-web", "ReplicaSet"), onNode("n1"), readySince(old), deleting()),
				newPod("done", "web", ownedBy("uid-web", "ReplicaSet"), onNode("n1"), phase(corev1.PodSucceeded)),
				newPod("alive", "web", ownedBy("uid-web", "ReplicaSet"), onNode("n1"), readySince(old)),
			},
			wantActions: []string{"create pods web-", "update replicasets/status"},
			wantEvents:  []string{"Normal SuccessfulCreate Created pod: web-x1"},
			wantStatus:  &appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 2},
		},
		{
			name: "minReadySeconds: ready pods become available only later",
			objs: []runtime.Object{newRS("web", 2, 30),
				newPod("a", "web", ownedBy("uid-web", "ReplicaSet"), onNode("n1"), readySince(t0.Add(-10*time.Second))),
				newPod("b", "web", ownedBy("uid-web", "ReplicaSet"), onNode("n1"), readySince(t0.Add(-31*time.Second))),
			},
			wantActions: []string{"update replicasets/status"},
			wantStatus:  &appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 2},
		},
		{
			name: "partly labelled pods are not fully labelled",
			objs: []runtime.Object{newRS("web", 1, 0),
				newPod("a", "web", ownedBy("uid-web", "ReplicaSet"), withLabels(map[string]string{"app": "web"})),
			},
			wantActions: []string{"update replicasets/status"},
			wantStatus:  &appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 0, ObservedGeneration: 2},
		},
		{
			name: "a ReplicaSet being deleted creates nothing",
			objs: []runtime.Object{func() runtime.Object {
				rs := newRS("web", 3, 0)
				ts := metav1.NewTime(t0)
				rs.DeletionTimestamp = &ts
				rs.Finalizers = []string{metav1.FinalizerDeleteDependents}
				return rs
			}()},
			wantActions: []string{"update replicasets/status"},
		},
		{
			name: "status already right: no write",
			objs: []runtime.Object{func() runtime.Object {
				rs := newRS("web", 1, 0)
				rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 2}
				return rs
			}(), newPod("a", "web", ownedBy("uid-web", "ReplicaSet"), readySince(old))},
			wantActions: nil,
		},
		{
			name: "a deleted ReplicaSet is forgotten",
			key:  "ns/gone",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, false, tc.objs...)
			key := tc.key
			if key == "" {
				key = "ns/web"
			}
			if err := h.c.reconcile(context.Background(), key); err != nil {
				t.Fatal(err)
			}
			got := h.actions()
			if fmt.Sprint(got) != fmt.Sprint(tc.wantActions) {
				t.Errorf("actions\n got %v\nwant %v", got, tc.wantActions)
			}
			if ev := h.events(); fmt.Sprint(ev) != fmt.Sprint(tc.wantEvents) {
				t.Errorf("events\n got %v\nwant %v", ev, tc.wantEvents)
			}
			if tc.wantStatus != nil {
				if st := h.lastStatus(t); fmt.Sprint(st) != fmt.Sprint(*tc.wantStatus) {
					t.Errorf("status\n got %+v\nwant %+v", st, *tc.wantStatus)
				}
			}
		})
	}
}

func TestCreatedPodsCarryTemplateAndOwner(t *testing.T) {
	h := newHarness(t, false, newRS("web", 1, 0))
	if err := h.c.reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	pod := h.client.Actions()[0].(k8stesting.CreateAction).GetObject().(*corev1.Pod)
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || ref.Name != "web" || ref.UID != "uid-web" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("owner reference = %+v", pod.OwnerReferences)
	}
	if pod.Labels["tier"] != "web" || pod.Spec.Containers[0].Image != "img" || pod.GenerateName != "web-" {
		t.Errorf("pod = %+v", pod)
	}
}

func TestAdoptionPatch(t *testing.T) {
	h := newHarness(t, false, newRS("web", 1, 0), newPod("orphan", "web"))
	if err := h.c.reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	for _, a := range h.client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok {
			var body struct {
				Metadata struct {
					OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
					UID             string                  `json:"uid"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(p.GetPatch(), &body); err != nil {
				t.Fatal(err)
			}
			refs := body.Metadata.OwnerReferences
			if p.GetPatchType() != types.StrategicMergePatchType || len(refs) != 1 || refs[0].UID != "uid-web" || !*refs[0].Controller || body.Metadata.UID != "pod-orphan" {
				t.Errorf("patch %s %s", p.GetPatchType(), p.GetPatch())
			}
			return
		}
	}
	t.Fatalf("no patch in %v", h.actions())
}

func TestExpectationsHoldUntilCreatesAreSeen(t *testing.T) {
	h := newHarness(t, false, newRS("web", 3, 0))
	ctx := context.Background()
	if err := h.c.reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	h.client.ClearActions()
	// The informer has not delivered the new pods: a second pass must not create more.
	if err := h.c.reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	for _, a := range h.actions() {
		if strings.HasPrefix(a, "create") {
			t.Fatalf("created again before observing: %v", h.actions())
		}
	}
	// Deliver them: the controller counts again, and has nothing to do.
	list, err := h.client.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("pods in the fake: %v %v", len(list.Items), err)
	}
	for i := range list.Items {
		pod := &list.Items[i]
		h.c.podIndexer.Add(pod)
		h.c.addPod(pod)
	}
	if !h.c.exp.Satisfied("ns/web") {
		t.Fatal("expectations not satisfied after the creates were observed")
	}
	h.client.ClearActions()
	if err := h.c.reconcile(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	for _, a := range h.actions() {
		if strings.HasPrefix(a, "create") || strings.HasPrefix(a, "delete") {
			t.Fatalf("unexpected %v", h.actions())
		}
	}
	// After the timeout a missed event no longer blocks the controller.
	h.c.exp.ExpectCreations("ns/web", 1)
	h.clock.Step(6 * time.Minute)
	if !h.c.exp.Satisfied("ns/web") {
		t.Fatal("expectations did not expire")
	}
}

func TestCreateFailureSetsReplicaFailure(t *testing.T) {
	h := newHarness(t, false, newRS("web", 10, 0))
	h.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", fmt.Errorf("exceeded quota: q"))
	})
	err := h.c.reconcile(context.Background(), "ns/web")
	if err == nil {
		t.Fatal("want an error so that the key is retried")
	}
	creates := 0
	for _, a := range h.actions() {
		if strings.HasPrefix(a, "create") {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("slow start should stop after the first failing batch; %d creates", creates)
	}
	st := h.lastStatus(t)
	if len(st.Conditions) != 1 || st.Conditions[0].Type != appsv1.ReplicaSetReplicaFailure || st.Conditions[0].Reason != "FailedCreate" || !strings.Contains(st.Conditions[0].Message, "exceeded quota") {
		t.Errorf("conditions = %+v", st.Conditions)
	}
	if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning FailedCreate Error creating:") {
		t.Errorf("events = %v", ev)
	}
	if !h.c.exp.Satisfied("ns/web") {
		t.Error("failed and skipped creates must not stay expected")
	}
}

func TestReplicationController(t *testing.T) {
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "uid-web", Generation: 1},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr[int32](2),
			Selector: map[string]string{"app": "web"},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
			},
		},
	}
	h := newHarness(t, true, rc,
		newPod("mine", "web", ownedBy("uid-web", "ReplicationController"), readySince(t0.Add(-time.Hour))),
		// A pod controlled by a ReplicaSet with the same UID scheme is not ours.
		newPod("rs-pod", "web", ownedBy("uid-other", "ReplicaSet")),
	)
	if err := h.c.reconcile(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	want := []string{"create pods web-", "update replicationcontrollers/status"}
	if got := h.actions(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	pod := h.client.Actions()[0].(k8stesting.CreateAction).GetObject().(*corev1.Pod)
	if ref := metav1.GetControllerOf(pod); ref == nil || ref.Kind != "ReplicationController" || ref.APIVersion != "v1" {
		t.Errorf("owner = %+v", pod.OwnerReferences)
	}
	st := h.client.Actions()[1].(k8stesting.UpdateAction).GetObject().(*corev1.ReplicationController).Status
	if st.Replicas != 1 || st.ReadyReplicas != 1 || st.AvailableReplicas != 1 || st.ObservedGeneration != 1 {
		t.Errorf("status = %+v", st)
	}
	if ev := h.events(); len(ev) != 1 || ev[0] != "Normal SuccessfulCreate Created pod: web-x1" {
		t.Errorf("events = %v", ev)
	}
}

func TestPodEventsQueueTheOwner(t *testing.T) {
	rs := newRS("web", 1, 10)
	h := newHarness(t, false, rs, newRS("other", 1, 0))
	orphan := newPod("o", "web")
	h.c.addPod(orphan)
	if h.c.queue.Len() != 1 {
		t.Fatalf("an orphan should queue the matching ReplicaSet only; queue has %d", h.c.queue.Len())
	}
	h.c.queue.Drain(context.Background(), func(context.Context, string) error { return nil }, 10)
	owned := newPod("p", "web", ownedBy("uid-web", "ReplicaSet"))
	h.c.exp.ExpectCreations("ns/web", 1)
	h.c.addPod(owned)
	if !h.c.exp.Satisfied("ns/web") {
		t.Error("adding an owned pod should observe a creation")
	}
	h.c.exp.ExpectDeletions("ns/web", []types.UID{owned.UID})
	gone := owned.DeepCopy()
	gone.ResourceVersion = "2"
	ts := metav1.NewTime(t0)
	gone.DeletionTimestamp = &ts
	h.c.updatePod(owned, gone)
	if !h.c.exp.Satisfied("ns/web") {
		t.Error("a pod marked for deletion should observe the deletion")
	}
}

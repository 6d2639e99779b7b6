package deployment

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	"tug/internal/controller"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

type dOpt func(*appsv1.Deployment)

func rollingUpdate(surge, unavailable string) dOpt {
	return func(d *appsv1.Deployment) {
		s, u := intstr.Parse(surge), intstr.Parse(unavailable)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u}}
	}
}
func recreateStrategy() dOpt {
	return func(d *appsv1.Deployment) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
}
func image(img string) dOpt {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = img }
}
func paused() dOpt { return func(d *appsv1.Deployment) { d.Spec.Paused = true } }
func historyLimit(n int32) dOpt {
	return func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = &n }
}

func newDeployment(name string, n int32, opts ...dOpt) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name), Generation: 1, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(n),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "v1"}}},
			},
			RevisionHistoryLimit:    ptr[int32](10),
			ProgressDeadlineSeconds: ptr[int32](600),
		},
	}
	rollingUpdate("25%", "25%")(d)
	for _, o := range opts {
		o(d)
	}
	return d
}

// rsFor builds the ReplicaSet the controller would have made for d's template at
// revision rev, with n replicas all available.
func rsFor(d *appsv1.Deployment, rev int, n int32, age time.Duration) *appsv1.ReplicaSet {
	hash := templateHash(d)
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Labels[HashLabel] = hash
	yes := true
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: d.Namespace, Name: d.Name + "-" + hash, UID: types.UID("rs-" + hash), Labels: tmpl.Labels,
			CreationTimestamp: metav1.NewTime(t0.Add(-age)), Generation: 1,
			Annotations:     map[string]string{RevisionAnnotation: fmt.Sprint(rev), DesiredReplicasAnnotation: fmt.Sprint(replicas(d.Spec.Replicas)), MaxReplicasAnnotation: fmt.Sprint(replicas(d.Spec.Replicas) + maxSurge(d))},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &yes, BlockOwnerDeletion: &yes}},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(n),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": d.Name, HashLabel: hash}},
			Template: *tmpl,
		},
		Status: appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n, ObservedGeneration: 1},
	}
}

type harness struct {
	t      *testing.T
	dc     *Controller
	client *fake.Clientset
	rec    *record.FakeRecorder
	clock  *testclock.FakeClock
	cctx   *controller.Context
	seq    int
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	clk := testclock.NewFakeClock(t0)
	h := &harness{t: t, client: client, clock: clk}
	// The fake store sets neither UIDs nor creation times; the controller sorts by
	// the latter.
	client.PrependReactor("create", "replicasets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		rs := a.(k8stesting.CreateAction).GetObject().(*appsv1.ReplicaSet)
		h.seq++
		rs.UID = types.UID(fmt.Sprintf("rs-created-%d", h.seq))
		rs.CreationTimestamp = metav1.NewTime(clk.Now().Add(time.Duration(h.seq) * time.Millisecond))
		rs.Generation = 1
		return false, nil, nil
	})
	h.rec = record.NewFakeRecorder(1000)
	h.cctx = controller.NewTestContext(client, clk, controller.Options{}, h.rec)
	dc, err := New(h.cctx)
	if err != nil {
		t.Fatal(err)
	}
	h.dc = dc
	h.syncCaches()
	client.ClearActions()
	return h
}

// syncCaches makes the informer caches equal to the fake store.
func (h *harness) syncCaches() {
	h.t.Helper()
	ctx := context.Background()
	ds, _ := h.client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	rss, _ := h.client.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	pods, _ := h.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	var dl, rl, pl []interface{}
	for i := range ds.Items {
		dl = append(dl, &ds.Items[i])
	}
	for i := range rss.Items {
		rl = append(rl, &rss.Items[i])
	}
	for i := range pods.Items {
		pl = append(pl, &pods.Items[i])
	}
	replace := func(inf cache.SharedIndexInformer, items []interface{}) {
		if err := inf.GetIndexer().Replace(items, ""); err != nil {
			h.t.Fatal(err)
		}
	}
	replace(h.cctx.Informers.Apps().V1().Deployments().Informer(), dl)
	replace(h.cctx.Informers.Apps().V1().ReplicaSets().Informer(), rl)
	replace(h.cctx.Informers.Core().V1().Pods().Informer(), pl)
}

func (h *harness) reconcile(key string) {
	h.t.Helper()
	if err := h.dc.reconcile(context.Background(), key); err != nil {
		h.t.Fatalf("reconcile %s: %v", key, err)
	}
}

// actions summarises the client calls: "create replicasets web-xxx 3",
// "update replicasets web-xxx 2", "update deployments/status".
func (h *harness) actions() []string {
	var out []string
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		s := a.GetVerb() + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			s += "/" + a.GetSubresource()
		}
		switch a.GetVerb() {
		case "create", "update":
			if rs, ok := a.(k8stesting.CreateAction).GetObject().(*appsv1.ReplicaSet); ok {
				s += fmt.Sprintf(" %s %d", rs.Name, replicas(rs.Spec.Replicas))
			}
		case "delete":
			s += " " + a.(k8stesting.DeleteAction).GetName()
		case "patch":
			s += " " + a.(k8stesting.PatchAction).GetName()
		}
		out = append(out, s)
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
			return out
		}
	}
}

func (h *harness) deployment(name string) *appsv1.Deployment {
	h.t.Helper()
	d, err := h.client.AppsV1().Deployments("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// replicaSets returns the stored ReplicaSets, oldest first.
func (h *harness) replicaSets() []*appsv1.ReplicaSet {
	list, _ := h.client.AppsV1().ReplicaSets("ns").List(context.Background(), metav1.ListOptions{})
	var out []*appsv1.ReplicaSet
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	olderFirst(out)
	return out
}

func (h *harness) sizes() string {
	var parts []string
	for _, rs := range h.replicaSets() {
		parts = append(parts, fmt.Sprintf("%s=%d/%d", rs.Annotations[RevisionAnnotation], replicas(rs.Spec.Replicas), rs.Status.AvailableReplicas))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// settle plays the ReplicaSet controller and kubelets: every ReplicaSet gets the
// pods it wants, all available; prefer indicates deletions take unavailable pods
// first.
func (h *harness) settle() {
	for _, rs := range h.replicaSets() {
		n := replicas(rs.Spec.Replicas)
		rs.Status = appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n, FullyLabeledReplicas: n, ObservedGeneration: rs.Generation}
		if _, err := h.client.AppsV1().ReplicaSets("ns").UpdateStatus(context.Background(), rs, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// shrink plays the ReplicaSet controller right after a scale-down: pods go at once,
// unavailable ones first, new pods are not available yet.
func (h *harness) shrink() {
	for _, rs := range h.replicaSets() {
		n := replicas(rs.Spec.Replicas)
		if rs.Status.AvailableReplicas > n {
			rs.Status.AvailableReplicas = n
			rs.Status.ReadyReplicas = n
		}
		rs.Status.Replicas = n
		if _, err := h.client.AppsV1().ReplicaSets("ns").UpdateStatus(context.Background(), rs, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) update(d *appsv1.Deployment) {
	h.t.Helper()
	d.Generation++
	if _, err := h.client.AppsV1().Deployments("ns").Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

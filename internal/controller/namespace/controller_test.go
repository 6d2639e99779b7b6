package namespace

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	fakemeta "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	"tug/internal/controller"
)

var resources = []*metav1.APIResourceList{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: []string{"create", "delete", "deletecollection", "get", "list", "watch"}},
		{Name: "pods/status", Kind: "Pod", Namespaced: true, Verbs: []string{"get", "update"}},
		{Name: "services", Kind: "Service", Namespaced: true, Verbs: []string{"create", "delete", "get", "list", "watch"}},
		{Name: "namespaces", Kind: "Namespace", Verbs: []string{"create", "delete", "get", "list", "watch"}},
		{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: []string{"create"}},
	}},
}

func meta(apiVersion, kind, ns, name string, finalizers ...string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}, ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Finalizers: finalizers}}
}

func terminating(name string) *corev1.Namespace {
	ts := metav1.NewTime(time.Unix(100, 0))
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, DeletionTimestamp: &ts},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
}

type harness struct {
	nc     *Controller
	client *fake.Clientset
	md     *fakemeta.FakeMetadataClient
}

func newHarness(t *testing.T, ns *corev1.Namespace, content ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewSimpleClientset(ns)
	scheme := fakemeta.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	md := fakemeta.NewSimpleMetadataClient(scheme, content...)
	// The fake store has no deletecollection of its own.
	md.PrependReactor("delete-collection", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		for _, o := range content {
			m := o.(*metav1.PartialObjectMetadata)
			if m.Namespace == a.GetNamespace() && a.GetResource().Resource == strings.ToLower(m.Kind)+"s" {
				_ = md.Tracker().Delete(a.GetResource(), m.Namespace, m.Name)
			}
		}
		return true, nil, nil
	})
	disco := &fakediscovery.FakeDiscovery{Fake: &k8stesting.Fake{}}
	disco.Resources = resources
	cctx := controller.NewTestContext(client, testclock.NewFakeClock(time.Unix(1000, 0)), controller.Options{}, record.NewFakeRecorder(10))
	nc := New(cctx, disco, md)
	if err := cctx.Informers.Core().V1().Namespaces().Informer().GetIndexer().Add(ns); err != nil {
		t.Fatal(err)
	}
	client.ClearActions()
	return &harness{nc: nc, client: client, md: md}
}

func verbs(actions []k8stesting.Action) []string {
	var out []string
	for _, a := range actions {
		s := a.GetVerb() + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			s += "/" + a.GetSubresource()
		}
		if d, ok := a.(k8stesting.DeleteAction); ok && d.GetName() != "" {
			s += " " + d.GetName()
		}
		out = append(out, s)
	}
	return out
}

func TestEmptyingANamespace(t *testing.T) {
	h := newHarness(t, terminating("gone"),
		meta("v1", "Pod", "gone", "a"), meta("v1", "Pod", "gone", "b"),
		meta("v1", "Service", "gone", "svc"),
		meta("v1", "Pod", "other", "keep"))
	if err := h.nc.reconcile(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	// pods go with one deletecollection; services, which have none, one by one;
	// then what is left is counted.
	want := []string{"delete-collection pods", "list services", "delete services svc", "list pods", "list services"}
	if got := verbs(h.md.Actions()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("content actions\n got %v\nwant %v", got, want)
	}
	// (The fake client records the finalize PUT as a create of the subresource.)
	wantNS := []string{"update namespaces/status", "create namespaces/finalize"}
	if got := verbs(h.client.Actions()); fmt.Sprint(got) != fmt.Sprint(wantNS) {
		t.Fatalf("namespace actions\n got %v\nwant %v", got, wantNS)
	}
	fin := h.client.Actions()[1].(k8stesting.CreateAction).GetObject().(*corev1.Namespace)
	if len(fin.Spec.Finalizers) != 0 {
		t.Errorf("finalize sent %v", fin.Spec.Finalizers)
	}
	if _, err := h.md.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace("other").Get(context.Background(), "keep", metav1.GetOptions{}); err != nil {
		t.Errorf("a pod of another namespace was touched: %v", err)
	}
}

func TestContentStillThere(t *testing.T) {
	h := newHarness(t, terminating("gone"), meta("v1", "Pod", "gone", "stuck", "example.com/hold"))
	// The fake store deletes at once; a pod with a finalizer would stay: keep it.
	h.md.PrependReactor("delete-collection", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})
	if err := h.nc.reconcile(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	got := verbs(h.client.Actions())
	if fmt.Sprint(got) != fmt.Sprint([]string{"update namespaces/status"}) {
		t.Fatalf("actions %v (must not finalize while content remains)", got)
	}
	ns := h.client.Actions()[0].(k8stesting.UpdateAction).GetObject().(*corev1.Namespace)
	byType := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	for _, c := range ns.Status.Conditions {
		byType[c.Type] = c
	}
	if c := byType[corev1.NamespaceContentRemaining]; c.Status != corev1.ConditionTrue || c.Reason != "SomeResourcesRemain" || !strings.Contains(c.Message, "pods (1 objects)") {
		t.Errorf("content remaining %+v", c)
	}
	if c := byType[corev1.NamespaceFinalizersRemaining]; c.Status != corev1.ConditionTrue || !strings.Contains(c.Message, "example.com/hold") {
		t.Errorf("finalizers remaining %+v", c)
	}
	if c := byType[corev1.NamespaceDeletionContentFailure]; c.Status != corev1.ConditionFalse {
		t.Errorf("content failure %+v", c)
	}
	if h.nc.queue.Len() != 0 {
		t.Error("the namespace should be queued again later, not now")
	}
}

func TestDeleteFailureIsReported(t *testing.T) {
	h := newHarness(t, terminating("gone"), meta("v1", "Service", "gone", "svc"))
	h.md.PrependReactor("delete", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "svc", fmt.Errorf("no"))
	})
	if err := h.nc.reconcile(context.Background(), "gone"); err == nil {
		t.Fatal("want an error (retry)")
	}
	ns := h.client.Actions()[0].(k8stesting.UpdateAction).GetObject().(*corev1.Namespace)
	for _, c := range ns.Status.Conditions {
		if c.Type == corev1.NamespaceDeletionContentFailure && (c.Status != corev1.ConditionTrue || !strings.Contains(c.Message, "services")) {
			t.Errorf("%+v", c)
		}
	}
}

func TestActiveNamespaceIsLeftAlone(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}
	h := newHarness(t, ns, meta("v1", "Pod", "live", "a"))
	if err := h.nc.reconcile(context.Background(), "live"); err != nil {
		t.Fatal(err)
	}
	if n := len(h.md.Actions()) + len(h.client.Actions()); n != 0 {
		t.Errorf("%d actions on an active namespace", n)
	}
}

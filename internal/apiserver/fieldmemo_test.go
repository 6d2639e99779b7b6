package apiserver

import (
	"reflect"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"tug/internal/openapi"
	"tug/internal/registry"
)

func memoPod(name, uid string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "d", UID: typesUID(uid), GenerateName: "web-",
			CreationTimestamp: metav1.NewTime(time.Unix(1700000000+int64(len(name)), 0)), ResourceVersion: "",
			Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Env: []corev1.EnvVar{{Name: "A", Value: "1"}}, Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: "TCP"}}}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func managed(t *testing.T, obj runtime.Object) []metav1.ManagedFieldsEntry {
	t.Helper()
	a, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]metav1.ManagedFieldsEntry(nil), a.GetManagedFields()...)
	for i := range out {
		out[i].Time = nil
	}
	return out
}

// A remembered entry is exactly what the full computation gives, and only objects
// that differ in fields managedFields never covers share one.
func TestCreateMemoMatchesFullComputation(t *testing.T) {
	cases := []struct {
		resource string
		group    string
		a, b     runtime.Object // b differs from a only in uncovered metadata
		other    runtime.Object // differs in a covered field
	}{
		{"pods", "", memoPod("web-1", "u1"), memoPod("web-2", "u2"),
			memoPod("web-3", "u3", func(p *corev1.Pod) { p.Labels["tier"] = "x" })},
		{"pods", "", memoPod("web-1", "u1"), memoPod("web-1", "u9", func(p *corev1.Pod) { p.Namespace = "e"; p.Generation = 3 }),
			memoPod("web-1", "u1", func(p *corev1.Pod) { p.Spec.Containers[0].Env = nil })},
		{"deployments", "apps", memoDeploy("a", "u1", 1), memoDeploy("b", "u2", 1), memoDeploy("a", "u1", 2)},
	}
	for _, c := range cases {
		res, m := testFieldManager(t, registryGVR(c.group, "v1", c.resource), "")
		memo := newCreateMemo(4)
		gvk := res.GVK().String()
		ka, ok := memo.key("mgr", gvk, c.a)
		if !ok {
			t.Fatalf("%s: not keyed", c.resource)
		}
		before := c.b.DeepCopyObject()
		kb, _ := memo.key("mgr", gvk, c.b)
		if !reflect.DeepEqual(before, c.b) {
			t.Fatalf("%s: computing the key changed the object", c.resource)
		}
		if ka != kb {
			t.Fatalf("%s: objects differing only in uncovered metadata have different keys", c.resource)
		}
		if ko, _ := memo.key("mgr", gvk, c.other); ko == ka {
			t.Fatalf("%s: an object with other fields shares the key", c.resource)
		}
		if km, _ := memo.key("other-manager", gvk, c.a); km == ka {
			t.Fatalf("%s: another manager shares the key", c.resource)
		}
		if memo.apply(ka, c.a.DeepCopyObject()) {
			t.Fatalf("%s: hit before anything was remembered", c.resource)
		}
		memo.remember(ka, m.UpdateNoErrors(res.New(), c.a.DeepCopyObject(), "mgr"))
		want := managed(t, m.UpdateNoErrors(res.New(), c.b.DeepCopyObject(), "mgr"))
		if len(want) != 1 {
			t.Fatalf("%s: full computation gave %d entries", c.resource, len(want))
		}
		got := c.b.DeepCopyObject()
		if !memo.apply(kb, got) {
			t.Fatalf("%s: no hit", c.resource)
		}
		if a, _ := meta.Accessor(got); a.GetManagedFields()[0].Time == nil {
			t.Fatalf("%s: entry without time", c.resource)
		}
		if g := managed(t, got); !reflect.DeepEqual(g, want) {
			t.Fatalf("%s: remembered entry differs:\n got %+v\nwant %+v", c.resource, g, want)
		}
		// An object sent with managedFields takes the full computation.
		withMF := c.a.DeepCopyObject()
		a, _ := meta.Accessor(withMF)
		a.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "x", Operation: "Update"}})
		if _, ok := memo.key("mgr", gvk, withMF); ok {
			t.Fatalf("%s: object with managedFields was keyed", c.resource)
		}
	}
}

func TestCreateMemoEvictsOldest(t *testing.T) {
	memo := newCreateMemo(2)
	entry := func(n string) runtime.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: n, FieldsV1: &metav1.FieldsV1{Raw: []byte(`{}`)}}}}}
	}
	k := func(b byte) memoKey { return memoKey{b} }
	memo.remember(k(1), entry("one"))
	memo.remember(k(2), entry("two"))
	memo.remember(k(3), entry("three"))
	if memo.apply(k(1), &corev1.ConfigMap{}) {
		t.Fatal("the oldest entry was kept")
	}
	got := &corev1.ConfigMap{}
	if !memo.apply(k(3), got) || got.ManagedFields[0].Manager != "three" {
		t.Fatalf("newest entry lost: %+v", got.ManagedFields)
	}
}

func memoDeploy(name, uid string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "d", UID: typesUID(uid), Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}
}

func typesUID(s string) types.UID { return types.UID(s) }

// testFields is the registry with field managers built from its OpenAPI
// definitions, shared by the tests (building the type converter takes a while).
var testFields = sync.OnceValues(func() (*registry.Set, *fieldManagers) {
	set := registry.All()
	return set, &fieldManagers{schemas: func() map[string]*spec.Schema { return openapi.Definitions(set) }}
})

// testFieldManager returns the resource and field manager of gvr (and subresource).
func testFieldManager(tb testing.TB, gvr schema.GroupVersionResource, sub string) (*registry.Resource, *managedfields.FieldManager) {
	tb.Helper()
	set, fms := testFields()
	res := set.Lookup(gvr)
	if res == nil {
		tb.Fatalf("no resource %v", gvr)
	}
	m, err := fms.get(res, sub)
	if err != nil {
		tb.Fatal(err)
	}
	return res, m
}

func registryGVR(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

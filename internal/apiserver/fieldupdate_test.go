package apiserver

import (
	"reflect"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// TestRenewManagedFields: where the short cut applies it gives exactly what the
// full computation gives (but the time); everywhere else it declines.
func TestRenewManagedFields(t *testing.T) {
	lease := func(mutate ...func(*coordinationv1.Lease)) runtime.Object {
		l := &coordinationv1.Lease{
			TypeMeta:   metav1.TypeMeta{Kind: "Lease", APIVersion: "coordination.k8s.io/v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: "kube-node-lease", Labels: map[string]string{"a": "b"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("n1"), LeaseDurationSeconds: ptr.To[int32](40),
				RenewTime: &metav1.MicroTime{Time: time.Unix(1700000000, 0)}},
		}
		for _, m := range mutate {
			m(l)
		}
		return l
	}
	cm := func(mutate ...func(*corev1.ConfigMap)) runtime.Object {
		c := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "d"}, Data: map[string]string{"k": "1"}}
		for _, m := range mutate {
			m(c)
		}
		return c
	}
	pod := func(image string) runtime.Object {
		return &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "d"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}}
	}
	cases := []struct {
		name       string
		group      string
		resource   string
		old, new   runtime.Object
		manager    string // of the update; the old object was created by "mgr"
		secondMgr  bool   // another manager also wrote the old object
		wantRenew  bool
		sendFields bool // the update sends the managedFields it read
	}{
		{name: "lease renewal", group: "coordination.k8s.io", resource: "leases", old: lease(),
			new: lease(func(l *coordinationv1.Lease) { l.Spec.RenewTime = &metav1.MicroTime{Time: time.Unix(1700000010, 0)} }), wantRenew: true},
		{name: "lease renewal echoing managedFields", group: "coordination.k8s.io", resource: "leases", old: lease(),
			new: lease(func(l *coordinationv1.Lease) { l.Spec.RenewTime = &metav1.MicroTime{Time: time.Unix(1700000010, 0)} }), wantRenew: true, sendFields: true},
		{name: "owned label value", group: "coordination.k8s.io", resource: "leases", old: lease(),
			new: lease(func(l *coordinationv1.Lease) { l.Labels["a"] = "c" }), wantRenew: true},
		{name: "configmap value", resource: "configmaps", old: cm(), new: cm(func(c *corev1.ConfigMap) { c.Data["k"] = "2" }), wantRenew: true},
		{name: "uncovered metadata only", resource: "configmaps", old: cm(), new: cm(func(c *corev1.ConfigMap) { c.Generation = 4 })},
		{name: "nothing changed", resource: "configmaps", old: cm(), new: cm()},
		{name: "key added", resource: "configmaps", old: cm(), new: cm(func(c *corev1.ConfigMap) { c.Data["k2"] = "x" })},
		{name: "label added", resource: "configmaps", old: cm(), new: cm(func(c *corev1.ConfigMap) { c.Labels = map[string]string{"x": "y"} })},
		{name: "field emptied", group: "coordination.k8s.io", resource: "leases", old: lease(),
			new: lease(func(l *coordinationv1.Lease) { l.Spec.RenewTime = nil })},
		{name: "value inside a list", resource: "pods", old: pod("a"), new: pod("b")},
		{name: "another writer", resource: "configmaps", old: cm(), new: cm(func(c *corev1.ConfigMap) { c.Data["k"] = "2" }), manager: "other"},
		{name: "two writers before", resource: "configmaps", old: cm(), new: cm(func(c *corev1.ConfigMap) { c.Data["k"] = "2" }), secondMgr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, m := testFieldManager(t, registryGVR(c.group, "v1", c.resource), "")
			old := m.UpdateNoErrors(res.New(), c.old.DeepCopyObject(), "mgr")
			if c.secondMgr {
				o := old.DeepCopyObject().(*corev1.ConfigMap)
				o.Labels = map[string]string{"by": "second"}
				old = m.UpdateNoErrors(old, o, "second")
				next := c.new.(*corev1.ConfigMap)
				next.Labels = map[string]string{"by": "second"}
			}
			manager := "mgr"
			if c.manager != "" {
				manager = c.manager
			}
			newObj := c.new.DeepCopyObject()
			if c.sendFields {
				a, b := metaOf(t, newObj), metaOf(t, old)
				a.SetManagedFields(b.GetManagedFields())
			}
			want := m.UpdateNoErrors(old.DeepCopyObject(), newObj.DeepCopyObject(), manager)
			got := newObj.DeepCopyObject()
			before := got.DeepCopyObject()
			renewed := renewManagedFields(manager, res.GVK().GroupVersion().String(), old, got)
			if renewed != c.wantRenew {
				t.Fatalf("renewed = %v, want %v (full computation: %+v)", renewed, c.wantRenew, managed(t, want))
			}
			if !renewed {
				if !reflect.DeepEqual(got, before) {
					t.Fatal("declining changed the object")
				}
				return
			}
			if g, w := managed(t, got), managed(t, want); !reflect.DeepEqual(g, w) {
				t.Fatalf("managedFields differ from the full computation:\n got %+v\nwant %+v", g, w)
			}
			if metaOf(t, got).GetManagedFields()[0].Time == nil {
				t.Fatal("renewed entry has no time")
			}
		})
	}
}

func metaOf(t *testing.T, obj runtime.Object) metav1.Object {
	t.Helper()
	a, ok := obj.(metav1.Object)
	if !ok {
		t.Fatalf("%T has no metadata", obj)
	}
	return a
}

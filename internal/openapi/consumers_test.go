package openapi

import (
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"

	"tug/internal/registry"
)

func deployment(containers ...corev1.Container) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: containers},
			},
		},
	}
}

// TestTypeConverter shows the schemas are what server-side apply needs: the
// converter accepts them and turns a typed Deployment into a typed value whose
// containers are keyed by name and whose ports are keyed by port and protocol.
func TestTypeConverter(t *testing.T) {
	tc, err := managedfields.NewTypeConverter(testHandler(t).Schemas(), false)
	if err != nil {
		t.Fatalf("NewTypeConverter: %v", err)
	}
	d := deployment(
		corev1.Container{Name: "dns", Image: "dns:1", Ports: []corev1.ContainerPort{
			{ContainerPort: 53, Protocol: corev1.ProtocolUDP},
			{ContainerPort: 53, Protocol: corev1.ProtocolTCP},
		}},
		corev1.Container{Name: "sidecar", Image: "busybox"},
	)
	tv, err := tc.ObjectToTyped(d)
	if err != nil {
		t.Fatalf("ObjectToTyped: %v", err)
	}
	set, err := tv.ToFieldSet()
	if err != nil {
		t.Fatal(err)
	}
	containers := []interface{}{"spec", "template", "spec", "containers"}
	for _, p := range []fieldpath.Path{
		fieldpath.MakePathOrDie(append(containers, fieldpath.KeyByFields("name", "sidecar"), "image")...),
		fieldpath.MakePathOrDie(append(containers, fieldpath.KeyByFields("name", "dns"), "ports",
			fieldpath.KeyByFields("containerPort", 53, "protocol", "UDP"), "containerPort")...),
		fieldpath.MakePathOrDie("metadata", "labels", "app"),
	} {
		if !set.Has(p) {
			t.Errorf("field set lacks %s; it has:\n%s", p, set)
		}
	}

	// Two containers with one name break the list's key, which shows it is a map.
	dup := deployment(corev1.Container{Name: "a", Image: "x"}, corev1.Container{Name: "a", Image: "y"})
	if _, err := tc.ObjectToTyped(dup); err == nil {
		t.Error("two containers named a: want a duplicate key error")
	}
	// A port without a protocol takes the schema's default (TCP) as its key.
	noProto := deployment(corev1.Container{Name: "a", Image: "x", Ports: []corev1.ContainerPort{{ContainerPort: 80}}})
	if _, err := tc.ObjectToTyped(noProto); err != nil {
		t.Errorf("port without protocol: %v", err)
	}
}

// TestStrategicMergePatchFromV3 builds the patch kubectl builds for `apply`
// from our v3 document: a change to one of two containers patches that one by
// name and records the order of both.
func TestStrategicMergePatchFromV3(t *testing.T) {
	doc := v3Doc(t, testHandler(t), "apis/apps/v1")
	meta := strategicpatch.PatchMetaFromOpenAPIV3{
		Schema:     doc.Components.Schemas["io.k8s.api.apps.v1.Deployment"],
		SchemaList: doc.Components.Schemas,
	}
	toJSON := func(d *appsv1.Deployment) []byte {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	original := toJSON(deployment(corev1.Container{Name: "nginx", Image: "nginx:1.25"}, corev1.Container{Name: "sidecar", Image: "busybox:1.36"}))
	modified := toJSON(deployment(corev1.Container{Name: "nginx", Image: "nginx:1.25"}, corev1.Container{Name: "sidecar", Image: "busybox:1.37"}))
	patch, err := strategicpatch.CreateThreeWayMergePatch(original, modified, original, meta, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],"containers":[{"image":"busybox:1.37","name":"sidecar"}]}}}}`
	if string(patch) != want {
		t.Errorf("patch\n got %s\nwant %s", patch, want)
	}
}

// TestBuildRegistered builds the documents of every resource registered in the
// tree, reports the time and size, and checks that each kind has a PATCH
// operation kubectl accepts.
func TestBuildRegistered(t *testing.T) {
	set := registry.All()
	start := time.Now()
	h, err := New(set, "v1.32.4")
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%d resources: %s", len(set.All), h)
	if took > 5*time.Second {
		t.Errorf("building took %s", took)
	}
	docs := map[string]bool{}
	for _, r := range set.All {
		if r.New == nil || !r.HasVerb("patch") {
			continue
		}
		key := indexKey(r.GVK().GroupVersion())
		doc := v3Doc(t, h, key)
		if err := patchSupport(doc, r.GVK()); err != nil {
			t.Errorf("%s: %v", r.GVK(), err)
		}
		docs[key] = true
	}
	if _, err := managedfields.NewTypeConverter(h.Schemas(), false); err != nil {
		t.Errorf("NewTypeConverter over every registered type: %v", err)
	}
}

func BenchmarkBuild(b *testing.B) {
	set := registry.All()
	for i := 0; i < b.N; i++ {
		if _, err := New(set, "v1.32.4"); err != nil {
			b.Fatal(err)
		}
	}
}

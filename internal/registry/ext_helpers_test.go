package registry

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Test helpers for the non-core kinds: they run an object through the same steps
// the API server takes, in the same order.

func mustResource(t *testing.T, group, version, resource string) *Resource {
	t.Helper()
	r := findRegistered(group, version, resource)
	if r == nil {
		t.Fatalf("%s/%s %s is not registered", group, version, resource)
	}
	return r
}

// simulateCreate defaults, prepares and validates obj as a create would.
func simulateCreate(t *testing.T, r *Resource, obj runtime.Object) field.ErrorList {
	t.Helper()
	m, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	if m.GetUID() == "" {
		m.SetUID(types.UID("0d1c5e6e-1111-4222-8333-444455556666"))
	}
	if r.Status && !r.Strategy.StatusOnCreate {
		ClearStatus(obj)
	}
	if r.Strategy.Default != nil {
		r.Strategy.Default(obj)
	}
	if r.Strategy.PrepareForCreate != nil {
		r.Strategy.PrepareForCreate(context.Background(), obj)
	}
	var errs field.ErrorList
	if r.Strategy.Validate != nil {
		errs = r.Strategy.Validate(context.Background(), obj)
	}
	if r.Strategy.ValidateCreate != nil {
		errs = append(errs, r.Strategy.ValidateCreate(context.Background(), obj)...)
	}
	return errs
}

// simulateUpdate runs the update steps for obj over old (both already stored shapes).
func simulateUpdate(t *testing.T, r *Resource, obj, old runtime.Object) field.ErrorList {
	t.Helper()
	if r.Status {
		CopyStatus(obj, old)
	}
	if r.Strategy.Default != nil {
		r.Strategy.Default(obj)
	}
	if r.Strategy.PrepareForUpdate != nil {
		r.Strategy.PrepareForUpdate(context.Background(), obj, old)
	}
	var errs field.ErrorList
	if r.Strategy.Validate != nil {
		errs = append(errs, r.Strategy.Validate(context.Background(), obj)...)
	}
	if r.Strategy.ValidateUpdate != nil {
		errs = append(errs, r.Strategy.ValidateUpdate(context.Background(), obj, old)...)
	}
	return errs
}

// checkErrs asserts that errs is empty when want is "", and otherwise that some
// error mentions want (a field path and message fragment, as "field: message").
func checkErrs(t *testing.T, errs field.ErrorList, want string) {
	t.Helper()
	if want == "" {
		if len(errs) > 0 {
			t.Fatalf("unexpected errors: %v", errs)
		}
		return
	}
	for _, e := range errs {
		if strings.Contains(e.Error(), want) {
			return
		}
	}
	t.Fatalf("want an error containing %q, got %v", want, errs)
}

func testContainers() []corev1.Container {
	return []corev1.Container{{Name: "web", Image: "nginx"}}
}

// testTemplate is a pod template with labels app=<app>.
func testTemplate(app string) corev1.PodTemplateSpec {
	t := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: testContainers()}}
	t.Labels = map[string]string{"app": app}
	return t
}

// cellsOf runs a resource's Row and checks it has one cell per column.
func cellsOf(t *testing.T, r *Resource, obj runtime.Object) []interface{} {
	t.Helper()
	cells := r.Row(obj)
	if len(cells) != len(r.Columns) {
		t.Fatalf("%s: %d cells for %d columns: %v", r.Resource, len(cells), len(r.Columns), cells)
	}
	return cells
}

// columnNames lists the column names of a resource, wide ones marked with '*'.
func columnNames(r *Resource) string {
	var names []string
	for _, c := range r.Columns {
		n := c.Name
		if c.Priority > 0 {
			n += "*"
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

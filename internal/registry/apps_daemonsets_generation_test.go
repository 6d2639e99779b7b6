package registry

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

func TestDaemonSetTemplateGeneration(t *testing.T) {
	r := mustResource(t, "apps", "v1", "daemonsets")
	ds := &appsv1.DaemonSet{}
	r.Strategy.PrepareForCreate(context.Background(), ds)
	if got := ds.Annotations[templateGenerationAnnotation]; got != "1" {
		t.Fatalf("on create: %q", got)
	}
	// A change outside the template keeps the template generation.
	next := ds.DeepCopy()
	next.Spec.MinReadySeconds = 5
	r.Strategy.PrepareForUpdate(context.Background(), next, ds)
	if got := next.Annotations[templateGenerationAnnotation]; got != "1" {
		t.Fatalf("after a non-template change: %q", got)
	}
	// A template change bumps it, even if the client dropped the annotation.
	changed := next.DeepCopy()
	changed.Annotations = nil
	changed.Spec.Template.Labels = map[string]string{"v": "2"}
	r.Strategy.PrepareForUpdate(context.Background(), changed, next)
	if got := changed.Annotations[templateGenerationAnnotation]; got != "2" {
		t.Fatalf("after a template change: %q", got)
	}
}

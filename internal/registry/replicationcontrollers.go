package registry

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "replicationcontrollers", Kind: "ReplicationController", Namespaced: true,
		ShortNames: []string{"rc"},
		Categories: []string{"all"},
		New:        func() runtime.Object { return &corev1.ReplicationController{} },
		NewList:    func() runtime.Object { return &corev1.ReplicationControllerList{} },
		Status:     true,
		Generation: true,
		Scale: &ScaleRules{
			Get: func(obj runtime.Object) (int32, int32, string) {
				rc := obj.(*corev1.ReplicationController)
				return extReplicas(rc.Spec.Replicas), rc.Status.Replicas, labels.SelectorFromSet(rc.Spec.Selector).String()
			},
			Set: func(obj runtime.Object, n int32) { obj.(*corev1.ReplicationController).Spec.Replicas = &n },
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.replicas": fmt.Sprint(obj.(*corev1.ReplicationController).Status.Replicas)}
		},
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultReplicationController(obj.(*corev1.ReplicationController)) },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateReplicationController(obj.(*corev1.ReplicationController))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				st := obj.(*corev1.ReplicationController).Status
				return extCounts(field.NewPath("status"), []extCount{
					{"replicas", st.Replicas}, {"fullyLabeledReplicas", st.FullyLabeledReplicas},
					{"readyReplicas", st.ReadyReplicas}, {"availableReplicas", st.AvailableReplicas},
				})
			},
		},
		Columns: extCols(
			[]metav1.TableColumnDefinition{
				extNameColumn("replication controller"),
				{Name: "Desired", Type: "integer", Description: "Number of pods wanted."},
				{Name: "Current", Type: "integer", Description: "Number of pods that exist."},
				{Name: "Ready", Type: "integer", Description: "Number of pods that are ready."},
				extAgeColumn("replication controller"),
			},
			extTemplateColumns(true),
		),
		Row: func(obj runtime.Object) []interface{} {
			rc := obj.(*corev1.ReplicationController)
			var names, images string
			if rc.Spec.Template != nil {
				names, images = extContainersImages(&rc.Spec.Template.Spec)
			}
			return []interface{}{
				rc.Name, int64(extReplicas(rc.Spec.Replicas)), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
				Age(rc.CreationTimestamp), names, images, labels.FormatLabels(rc.Spec.Selector),
			}
		},
	})
}

// defaultReplicationController: one replica; selector and labels from the
// template's labels when missing.
func defaultReplicationController(rc *corev1.ReplicationController) {
	if t := rc.Spec.Template; t != nil {
		if len(rc.Spec.Selector) == 0 && len(t.Labels) > 0 {
			rc.Spec.Selector = copyStringMap(t.Labels)
		}
		if len(rc.Labels) == 0 && len(t.Labels) > 0 {
			rc.Labels = copyStringMap(t.Labels)
		}
		DefaultPodTemplate(t)
	}
	if rc.Spec.Replicas == nil {
		one := int32(1)
		rc.Spec.Replicas = &one
	}
}

func copyStringMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	errs = append(errs, extNonNeg32(rc.Spec.Replicas, sp.Child("replicas"))...)
	errs = append(errs, checkNonNegative(sp.Child("minReadySeconds"), int64(rc.Spec.MinReadySeconds))...)
	selPath := sp.Child("selector")
	if len(rc.Spec.Selector) == 0 {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabels(rc.Spec.Selector, selPath)...)
	}
	tp := sp.Child("template")
	if rc.Spec.Template == nil {
		return append(errs, field.Required(tp, ""))
	}
	if len(rc.Spec.Selector) > 0 && !labels.SelectorFromSet(rc.Spec.Selector).Matches(labels.Set(rc.Spec.Template.Labels)) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), rc.Spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return append(errs, extLongRunningTemplate(rc.Spec.Template, "ReplicationController", tp)...)
}

package registry

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "apps", Version: "v1", Resource: "replicasets", Kind: "ReplicaSet", Namespaced: true,
		ShortNames: []string{"rs"},
		Categories: []string{"all"},
		New:        func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList:    func() runtime.Object { return &appsv1.ReplicaSetList{} },
		Status:     true,
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*appsv1.ReplicaSet).Status.Replicas))}
		},
		Generation: true,
		Scale: &ScaleRules{
			Get: func(obj runtime.Object) (int32, int32, string) {
				rs := obj.(*appsv1.ReplicaSet)
				return extReplicas(rs.Spec.Replicas), rs.Status.Replicas, extScaleSelector(rs.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n },
		},
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				rs := obj.(*appsv1.ReplicaSet)
				if rs.Spec.Replicas == nil {
					rs.Spec.Replicas = extPtr[int32](1)
				}
				DefaultPodTemplate(&rs.Spec.Template)
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateReplicaSet(obj.(*appsv1.ReplicaSet))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet)
				return extImmutable(n.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
				s := obj.(*appsv1.ReplicaSet).Status
				p := field.NewPath("status")
				errs := extCounts(p, []extCount{
					{"replicas", s.Replicas}, {"fullyLabeledReplicas", s.FullyLabeledReplicas},
					{"readyReplicas", s.ReadyReplicas}, {"availableReplicas", s.AvailableReplicas},
				})
				if s.ReadyReplicas > s.Replicas {
					errs = append(errs, field.Invalid(p.Child("readyReplicas"), s.ReadyReplicas, "cannot be greater than status.replicas"))
				}
				if s.AvailableReplicas > s.ReadyReplicas {
					errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than status.readyReplicas"))
				}
				return errs
			},
		},
		Columns: extCols([]metav1.TableColumnDefinition{
			extNameColumn("replica set"),
			{Name: "Desired", Type: "integer", Description: "Number of pods wanted (spec.replicas)."},
			{Name: "Current", Type: "integer", Description: "Number of pods that exist."},
			{Name: "Ready", Type: "integer", Description: "Number of pods that are ready."},
			extAgeColumn("replica set"),
		}, extTemplateColumns(true)),
		Row: func(obj runtime.Object) []interface{} {
			rs := obj.(*appsv1.ReplicaSet)
			c, i := extContainersImages(&rs.Spec.Template.Spec)
			return []interface{}{
				rs.Name, int64(extReplicas(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
				Age(rs.CreationTimestamp), c, i, extSelectorText(rs.Spec.Selector),
			}
		},
	})
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	s := &rs.Spec
	p := field.NewPath("spec")
	errs := extNonNeg32(s.Replicas, p.Child("replicas"))
	errs = append(errs, extRevisionHistory(nil, s.MinReadySeconds, p)...)
	errs = append(errs, extWorkloadSelector(s.Selector, &s.Template, "replicaset", p)...)
	errs = append(errs, extLongRunningTemplate(&s.Template, "ReplicaSet", p.Child("template"))...)
	return errs
}

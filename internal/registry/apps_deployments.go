package registry

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true,
		ShortNames: []string{"deploy"},
		Categories: []string{"all"},
		New:        func() runtime.Object { return &appsv1.Deployment{} },
		NewList:    func() runtime.Object { return &appsv1.DeploymentList{} },
		Status:     true,
		Generation: true,
		Scale: &ScaleRules{
			Get: func(obj runtime.Object) (int32, int32, string) {
				d := obj.(*appsv1.Deployment)
				return extReplicas(d.Spec.Replicas), d.Status.Replicas, extScaleSelector(d.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
		},
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultDeployment(obj.(*appsv1.Deployment)) },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateDeployment(obj.(*appsv1.Deployment))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
				return extImmutable(n.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
				s := obj.(*appsv1.Deployment).Status
				return extCounts(field.NewPath("status"), []extCount{
					{"replicas", s.Replicas}, {"updatedReplicas", s.UpdatedReplicas}, {"readyReplicas", s.ReadyReplicas},
					{"availableReplicas", s.AvailableReplicas}, {"unavailableReplicas", s.UnavailableReplicas},
				})
			},
		},
		Columns: extCols([]metav1.TableColumnDefinition{
			extNameColumn("deployment"),
			{Name: "Ready", Type: "string", Description: "Ready pods out of the desired number."},
			{Name: "Up-to-date", Type: "string", Description: "Pods that run the latest pod template."},
			{Name: "Available", Type: "string", Description: "Pods ready for at least minReadySeconds."},
			extAgeColumn("deployment"),
		}, extTemplateColumns(true)),
		Row: func(obj runtime.Object) []interface{} {
			d := obj.(*appsv1.Deployment)
			c, i := extContainersImages(&d.Spec.Template.Spec)
			return []interface{}{
				d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, extReplicas(d.Spec.Replicas)),
				int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), Age(d.CreationTimestamp),
				c, i, extSelectorText(d.Spec.Selector),
			}
		},
	})
}

func extReplicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// extScaleSelector is the selector a Scale reports (for the autoscaler).
func extScaleSelector(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || sel == nil {
		return ""
	}
	return s.String()
}

func defaultDeployment(d *appsv1.Deployment) {
	s := &d.Spec
	if s.Replicas == nil {
		s.Replicas = extPtr[int32](1)
	}
	if s.Strategy.Type == "" {
		s.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.Strategy.RollingUpdate.MaxUnavailable == nil {
			s.Strategy.RollingUpdate.MaxUnavailable = extPtr(intstr.FromString("25%"))
		}
		if s.Strategy.RollingUpdate.MaxSurge == nil {
			s.Strategy.RollingUpdate.MaxSurge = extPtr(intstr.FromString("25%"))
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = extPtr[int32](10)
	}
	if s.ProgressDeadlineSeconds == nil {
		s.ProgressDeadlineSeconds = extPtr[int32](600)
	}
	DefaultPodTemplate(&s.Template)
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	s := &d.Spec
	p := field.NewPath("spec")
	errs := extNonNeg32(s.Replicas, p.Child("replicas"))
	errs = append(errs, extWorkloadSelector(s.Selector, &s.Template, "deployment", p)...)
	errs = append(errs, extLongRunningTemplate(&s.Template, "Deployment", p.Child("template"))...)
	errs = append(errs, validateDeploymentStrategy(&s.Strategy, p.Child("strategy"))...)
	errs = append(errs, extRevisionHistory(s.RevisionHistoryLimit, s.MinReadySeconds, p)...)
	if s.ProgressDeadlineSeconds != nil {
		pp := p.Child("progressDeadlineSeconds")
		errs = append(errs, extNonNeg32(s.ProgressDeadlineSeconds, pp)...)
		if *s.ProgressDeadlineSeconds <= s.MinReadySeconds {
			errs = append(errs, field.Invalid(pp, *s.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(st *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch st.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if st.RollingUpdate == nil {
			return append(errs, field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil"))
		}
		ru := st.RollingUpdate
		rp := p.Child("rollingUpdate")
		errs = append(errs, extIntOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
		errs = append(errs, extIntOrPercent(ru.MaxSurge, rp.Child("maxSurge"))...)
		errs = append(errs, extNotOver100(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
		if extIsZeroIntOrPercent(ru.MaxUnavailable) && extIsZeroIntOrPercent(ru.MaxSurge) {
			errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), ru.MaxUnavailable.String(), "may not be 0 when `maxSurge` is 0"))
		}
	case "":
		errs = append(errs, field.Required(p.Child("type"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), st.Type, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)}))
	}
	return errs
}

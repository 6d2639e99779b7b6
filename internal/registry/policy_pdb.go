package registry

import (
	"context"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "policy", Version: "v1", Resource: "poddisruptionbudgets", Kind: "PodDisruptionBudget", Namespaced: true,
		ShortNames: []string{"pdb"},
		New:        func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
		NewList:    func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		Status:     true,
		Generation: true,
		Strategy: Strategy{
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validatePDB(obj.(*policyv1.PodDisruptionBudget))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
				s := obj.(*policyv1.PodDisruptionBudget).Status
				return extCounts(field.NewPath("status"), []extCount{
					{"disruptionsAllowed", s.DisruptionsAllowed}, {"currentHealthy", s.CurrentHealthy},
					{"desiredHealthy", s.DesiredHealthy}, {"expectedPods", s.ExpectedPods},
				})
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("pod disruption budget"),
			{Name: "Min Available", Type: "string", Description: "Pods that must stay available during an eviction."},
			{Name: "Max Unavailable", Type: "string", Description: "Pods that may be unavailable during an eviction."},
			{Name: "Allowed Disruptions", Type: "integer", Description: "Evictions allowed now."},
			extAgeColumn("pod disruption budget"),
		},
		Row: func(obj runtime.Object) []interface{} {
			pdb := obj.(*policyv1.PodDisruptionBudget)
			return []interface{}{pdb.Name, intOrNA(pdb.Spec.MinAvailable), intOrNA(pdb.Spec.MaxUnavailable),
				int64(pdb.Status.DisruptionsAllowed), Age(pdb.CreationTimestamp)}
		},
	})
}

func intOrNA(v *intstr.IntOrString) string {
	if v == nil {
		return "N/A"
	}
	return v.String()
}

var pdbEvictionPolicies = []string{string(policyv1.AlwaysAllow), string(policyv1.IfHealthyBudget)}

func validatePDB(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	s := &pdb.Spec
	p := field.NewPath("spec")
	var errs field.ErrorList
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(p, s, "minAvailable and maxUnavailable cannot be both set"))
	}
	for _, f := range []struct {
		name string
		v    *intstr.IntOrString
	}{{"minAvailable", s.MinAvailable}, {"maxUnavailable", s.MaxUnavailable}} {
		errs = append(errs, extIntOrPercent(f.v, p.Child(f.name))...)
		errs = append(errs, extNotOver100(f.v, p.Child(f.name))...)
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	if s.UnhealthyPodEvictionPolicy != nil {
		switch *s.UnhealthyPodEvictionPolicy {
		case policyv1.AlwaysAllow, policyv1.IfHealthyBudget:
		default:
			errs = append(errs, field.NotSupported(p.Child("unhealthyPodEvictionPolicy"), *s.UnhealthyPodEvictionPolicy, pdbEvictionPolicies))
		}
	}
	return errs
}

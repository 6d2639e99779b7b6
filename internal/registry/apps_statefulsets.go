package registry

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "apps", Version: "v1", Resource: "statefulsets", Kind: "StatefulSet", Namespaced: true,
		ShortNames: []string{"sts"},
		Categories: []string{"all"},
		New:        func() runtime.Object { return &appsv1.StatefulSet{} },
		NewList:    func() runtime.Object { return &appsv1.StatefulSetList{} },
		Status:     true,
		Generation: true,
		// The stored encoding has no room for the kind of the claim templates;
		// reads put it back, as clients expect to see it.
		FromStored: func(obj runtime.Object) (runtime.Object, error) {
			sts := obj.(*appsv1.StatefulSet)
			if !claimTemplatesNeedKind(sts) {
				return sts, nil
			}
			out := sts.DeepCopy()
			for i := range out.Spec.VolumeClaimTemplates {
				c := &out.Spec.VolumeClaimTemplates[i]
				c.APIVersion, c.Kind = "v1", "PersistentVolumeClaim"
			}
			return out, nil
		},
		Scale: &ScaleRules{
			Get: func(obj runtime.Object) (int32, int32, string) {
				s := obj.(*appsv1.StatefulSet)
				return extReplicas(s.Spec.Replicas), s.Status.Replicas, extScaleSelector(s.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.StatefulSet).Spec.Replicas = &n },
		},
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultStatefulSet(obj.(*appsv1.StatefulSet)) },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateStatefulSet(obj.(*appsv1.StatefulSet))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				return validateStatefulSetUpdate(obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
				s := obj.(*appsv1.StatefulSet).Status
				return extCounts(field.NewPath("status"), []extCount{
					{"replicas", s.Replicas}, {"readyReplicas", s.ReadyReplicas}, {"currentReplicas", s.CurrentReplicas},
					{"updatedReplicas", s.UpdatedReplicas}, {"availableReplicas", s.AvailableReplicas},
				})
			},
		},
		Columns: extCols([]metav1.TableColumnDefinition{
			extNameColumn("stateful set"),
			{Name: "Ready", Type: "string", Description: "Ready pods out of the desired number."},
			extAgeColumn("stateful set"),
		}, extTemplateColumns(false)),
		Row: func(obj runtime.Object) []interface{} {
			s := obj.(*appsv1.StatefulSet)
			c, i := extContainersImages(&s.Spec.Template.Spec)
			return []interface{}{
				s.Name, fmt.Sprintf("%d/%d", s.Status.ReadyReplicas, extReplicas(s.Spec.Replicas)), Age(s.CreationTimestamp), c, i,
			}
		},
	})
}

func defaultStatefulSet(sts *appsv1.StatefulSet) {
	s := &sts.Spec
	if s.Replicas == nil {
		s.Replicas = extPtr[int32](1)
	}
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if s.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && s.UpdateStrategy.RollingUpdate != nil &&
		s.UpdateStrategy.RollingUpdate.Partition == nil {
		s.UpdateStrategy.RollingUpdate.Partition = extPtr[int32](0)
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = extPtr[int32](10)
	}
	if s.PersistentVolumeClaimRetentionPolicy == nil {
		s.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	rp := s.PersistentVolumeClaimRetentionPolicy
	if rp.WhenDeleted == "" {
		rp.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if rp.WhenScaled == "" {
		rp.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	for i := range s.VolumeClaimTemplates {
		defaultClaimTemplate(&s.VolumeClaimTemplates[i])
	}
	DefaultPodTemplate(&s.Template)
}

func claimTemplatesNeedKind(sts *appsv1.StatefulSet) bool {
	for _, c := range sts.Spec.VolumeClaimTemplates {
		if c.Kind == "" {
			return true
		}
	}
	return false
}

// defaultClaimTemplate fills in what a claim template shows once stored: the
// filesystem volume mode and a Pending phase (its kind is added on read).
func defaultClaimTemplate(c *corev1.PersistentVolumeClaim) {
	if c.Spec.VolumeMode == nil {
		c.Spec.VolumeMode = extPtr(corev1.PersistentVolumeFilesystem)
	}
	if c.Status.Phase == "" {
		c.Status.Phase = corev1.ClaimPending
	}
}

var (
	podManagementPolicies = []string{string(appsv1.OrderedReadyPodManagement), string(appsv1.ParallelPodManagement)}
	stsUpdateStrategies   = []string{string(appsv1.OnDeleteStatefulSetStrategyType), string(appsv1.RollingUpdateStatefulSetStrategyType)}
	pvcRetentionPolicies  = []string{string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType), string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType)}
	stsAccessModes        = sets.New(corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod)
)

func validateStatefulSet(sts *appsv1.StatefulSet) field.ErrorList {
	s := &sts.Spec
	p := field.NewPath("spec")
	errs := extNonNeg32(s.Replicas, p.Child("replicas"))
	errs = append(errs, extRevisionHistory(s.RevisionHistoryLimit, s.MinReadySeconds, p)...)
	if s.Ordinals != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.Ordinals.Start), p.Child("ordinals", "start"))...)
	}
	switch s.PodManagementPolicy {
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	case "":
		errs = append(errs, field.Required(p.Child("podManagementPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("podManagementPolicy"), s.PodManagementPolicy, podManagementPolicies))
	}
	up := p.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(up.Child("rollingUpdate"), s.UpdateStrategy.RollingUpdate,
				"only allowed for updateStrategy 'RollingUpdate'"))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			rp := up.Child("rollingUpdate")
			errs = append(errs, extNonNeg32(ru.Partition, rp.Child("partition"))...)
			if ru.MaxUnavailable != nil {
				errs = append(errs, extIntOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
				errs = append(errs, extNotOver100(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
				if extIsZeroIntOrPercent(ru.MaxUnavailable) {
					errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), ru.MaxUnavailable.String(), "must be greater than 0"))
				}
			}
		}
	case "":
		errs = append(errs, field.Required(up.Child("type"), ""))
	default:
		errs = append(errs, field.NotSupported(up.Child("type"), s.UpdateStrategy.Type, stsUpdateStrategies))
	}
	if rp := s.PersistentVolumeClaimRetentionPolicy; rp != nil {
		pp := p.Child("persistentVolumeClaimRetentionPolicy")
		for _, f := range []struct {
			name string
			v    appsv1.PersistentVolumeClaimRetentionPolicyType
		}{{"whenDeleted", rp.WhenDeleted}, {"whenScaled", rp.WhenScaled}} {
			if f.v != appsv1.DeletePersistentVolumeClaimRetentionPolicyType && f.v != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
				errs = append(errs, field.NotSupported(pp.Child(f.name), f.v, pvcRetentionPolicies))
			}
		}
	}
	errs = append(errs, extWorkloadSelector(s.Selector, &s.Template, "statefulset", p)...)
	errs = append(errs, extLongRunningTemplate(&s.Template, "StatefulSet", p.Child("template"))...)
	for i := range s.VolumeClaimTemplates {
		errs = append(errs, validateClaimTemplate(&s.VolumeClaimTemplates[i], p.Child("volumeClaimTemplates").Index(i))...)
	}
	return errs
}

// validateClaimTemplate checks the parts of a claim template a claim made from it needs.
func validateClaimTemplate(c *corev1.PersistentVolumeClaim, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	mp := p.Child("metadata", "name")
	if c.Name == "" {
		errs = append(errs, field.Required(mp, ""))
	} else {
		for _, msg := range apivalidation.NameIsDNSSubdomain(c.Name, false) {
			errs = append(errs, field.Invalid(mp, c.Name, msg))
		}
	}
	sp := p.Child("spec")
	if len(c.Spec.AccessModes) == 0 {
		errs = append(errs, field.Required(sp.Child("accessModes"), "at least 1 access mode is required"))
	}
	for j, m := range c.Spec.AccessModes {
		if !stsAccessModes.Has(m) {
			errs = append(errs, field.NotSupported(sp.Child("accessModes").Index(j), m, sets.List(stsAccessModes)))
		}
	}
	if _, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(sp.Child("resources").Key(string(corev1.ResourceStorage)), ""))
	}
	return errs
}

// validateStatefulSetUpdate allows changes only to the fields a running set can take.
func validateStatefulSetUpdate(n, o *appsv1.StatefulSet) field.ErrorList {
	a, b := n.Spec.DeepCopy(), o.Spec.DeepCopy()
	for _, s := range []*appsv1.StatefulSetSpec{a, b} {
		s.Replicas = nil
		s.Ordinals = nil
		s.Template = corev1.PodTemplateSpec{}
		s.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{}
		s.PersistentVolumeClaimRetentionPolicy = nil
		s.MinReadySeconds = 0
		// Clients may send back the kind reads show; storage does not keep it.
		for i := range s.VolumeClaimTemplates {
			s.VolumeClaimTemplates[i].TypeMeta = metav1.TypeMeta{}
		}
	}
	if !equality.Semantic.DeepEqual(a, b) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"),
			"a statefulset update may change only 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds'")}
	}
	return nil
}

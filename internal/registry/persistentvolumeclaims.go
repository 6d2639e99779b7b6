package registry

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "persistentvolumeclaims", Kind: "PersistentVolumeClaim", Namespaced: true,
		ShortNames: []string{"pvc"},
		New:        func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
		NewList:    func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
		Status:     true,
		Strategy: Strategy{
			Default: func(obj runtime.Object) { DefaultPersistentVolumeClaim(obj.(*corev1.PersistentVolumeClaim)) },
			PrepareForCreate: func(_ context.Context, obj runtime.Object) {
				obj.(*corev1.PersistentVolumeClaim).Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return ValidatePersistentVolumeClaimSpec(&obj.(*corev1.PersistentVolumeClaim).Spec, field.NewPath("spec"))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				return validateClaimUpdate(obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				c := obj.(*corev1.PersistentVolumeClaim)
				sp := field.NewPath("status")
				errs := checkOptionalEnum(sp.Child("phase"), c.Status.Phase, corev1.ClaimPending, corev1.ClaimBound, corev1.ClaimLost)
				for _, n := range SortedResourceNames(c.Status.Capacity) {
					errs = append(errs, checkQuantityNonNegative(sp.Child("capacity").Key(string(n)), c.Status.Capacity[n])...)
				}
				return errs
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the claim."},
			{Name: "Status", Type: "string", Description: "Pending, Bound or Lost."},
			{Name: "Volume", Type: "string", Description: "The volume bound to the claim."},
			{Name: "Capacity", Type: "string", Description: "Capacity of the bound volume."},
			{Name: "Access Modes", Type: "string", Description: "Access modes of the bound volume."},
			{Name: "StorageClass", Type: "string", Description: "Storage class the claim asks for."},
			{Name: "VolumeAttributesClass", Type: "string", Description: "Volume attributes class the claim asks for."},
			{Name: "Age", Type: "string", Description: "Time since the claim was created."},
			{Name: "VolumeMode", Type: "string", Priority: 1, Description: "Filesystem or Block."},
		},
		Row: func(obj runtime.Object) []interface{} { return claimRow(obj.(*corev1.PersistentVolumeClaim)) },
	})
}

// DefaultPersistentVolumeClaim defaults a claim (also the claim templates of
// stateful sets).
func DefaultPersistentVolumeClaim(c *corev1.PersistentVolumeClaim) {
	if c.Spec.VolumeMode == nil {
		m := corev1.PersistentVolumeFilesystem
		c.Spec.VolumeMode = &m
	}
	if c.Status.Phase == "" {
		c.Status.Phase = corev1.ClaimPending
	}
}

// ValidatePersistentVolumeClaimSpec checks what a claim asks for.
func ValidatePersistentVolumeClaimSpec(s *corev1.PersistentVolumeClaimSpec, sp *field.Path) field.ErrorList {
	errs := checkAccessModes(sp.Child("accessModes"), s.AccessModes)
	if s.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, sp.Child("selector"))...)
	}
	rp := sp.Child("resources")
	q, ok := s.Resources.Requests[corev1.ResourceStorage]
	switch {
	case !ok:
		errs = append(errs, field.Required(rp.Key(string(corev1.ResourceStorage)), ""))
	case q.Sign() <= 0:
		errs = append(errs, field.Invalid(rp.Child("requests").Key(string(corev1.ResourceStorage)), q.String(), "must be greater than zero"))
	}
	for _, n := range SortedResourceNames(s.Resources.Limits) {
		errs = append(errs, checkQuantityNonNegative(rp.Child("limits").Key(string(n)), s.Resources.Limits[n])...)
	}
	if s.StorageClassName != nil && *s.StorageClassName != "" {
		errs = append(errs, checkDNSSubdomain(sp.Child("storageClassName"), *s.StorageClassName)...)
	}
	if s.VolumeMode != nil {
		errs = append(errs, checkEnum(sp.Child("volumeMode"), *s.VolumeMode, corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem)...)
	}
	if d := s.DataSource; d != nil {
		if d.Name == "" {
			errs = append(errs, field.Required(sp.Child("dataSource", "name"), ""))
		}
		if d.Kind == "" {
			errs = append(errs, field.Required(sp.Child("dataSource", "kind"), ""))
		}
	}
	return errs
}

// validateClaimUpdate: a claim's spec is fixed once created, except that a bound
// claim may ask for more storage, and an unbound one may be given a volume.
func validateClaimUpdate(n, o *corev1.PersistentVolumeClaim) field.ErrorList {
	sp := field.NewPath("spec")
	allowed := o.Spec.DeepCopy()
	if o.Spec.VolumeName == "" {
		allowed.VolumeName = n.Spec.VolumeName
	}
	allowed.VolumeAttributesClassName = n.Spec.VolumeAttributesClassName
	var errs field.ErrorList
	if o.Spec.VolumeName != "" {
		allowed.Resources.Requests = n.Spec.Resources.Requests
		oldQ := o.Spec.Resources.Requests[corev1.ResourceStorage]
		if newQ, ok := n.Spec.Resources.Requests[corev1.ResourceStorage]; ok && newQ.Cmp(oldQ) < 0 {
			errs = append(errs, field.Forbidden(sp.Child("resources", "requests", "storage"), "field can not be less than previous value"))
		}
	}
	if !equality.Semantic.DeepEqual(allowed, &n.Spec) {
		errs = append(errs, field.Forbidden(sp, "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	return errs
}

// claimRow: Name, Status, Volume, Capacity, Access Modes, StorageClass,
// VolumeAttributesClass, Age, VolumeMode.
func claimRow(c *corev1.PersistentVolumeClaim) []interface{} {
	phase := string(c.Status.Phase)
	if c.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	capacity, modes := "", ""
	if c.Spec.VolumeName != "" {
		q := c.Status.Capacity[corev1.ResourceStorage]
		capacity, modes = q.String(), accessModesString(c.Status.AccessModes)
	}
	return []interface{}{
		c.Name, phase, c.Spec.VolumeName, capacity, modes, storageClassOf(c.Annotations, c.Spec.StorageClassName),
		unsetIfNil(c.Spec.VolumeAttributesClassName), Age(c.CreationTimestamp), volumeModeCell(c.Spec.VolumeMode),
	}
}

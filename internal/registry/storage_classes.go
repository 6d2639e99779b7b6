package registry

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// StorageClass annotations that mark the class claims without one get.
const (
	DefaultStorageClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	BetaDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

// Limits of StorageClass parameters.
const (
	maxStorageClassParameters    = 512
	maxStorageClassParameterSize = 256 * 1024
)

func init() {
	register(&Resource{
		Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses", Kind: "StorageClass",
		ShortNames: []string{"sc"},
		New:        func() runtime.Object { return &storagev1.StorageClass{} },
		NewList:    func() runtime.Object { return &storagev1.StorageClassList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				sc := obj.(*storagev1.StorageClass)
				if sc.ReclaimPolicy == nil {
					sc.ReclaimPolicy = extPtr(corev1.PersistentVolumeReclaimDelete)
				}
				if sc.VolumeBindingMode == nil {
					sc.VolumeBindingMode = extPtr(storagev1.VolumeBindingImmediate)
				}
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateStorageClass(obj.(*storagev1.StorageClass))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*storagev1.StorageClass), old.(*storagev1.StorageClass)
				errs := extImmutable(n.Provisioner, o.Provisioner, field.NewPath("provisioner"))
				errs = append(errs, extImmutable(n.Parameters, o.Parameters, field.NewPath("parameters"))...)
				errs = append(errs, extImmutable(n.ReclaimPolicy, o.ReclaimPolicy, field.NewPath("reclaimPolicy"))...)
				return append(errs, extImmutable(n.VolumeBindingMode, o.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("storage class"),
			{Name: "Provisioner", Type: "string", Description: "The volume plugin or driver that makes the volumes."},
			{Name: "ReclaimPolicy", Type: "string", Description: "What happens to a volume when its claim goes."},
			{Name: "VolumeBindingMode", Type: "string", Description: "When claims are bound: Immediate or WaitForFirstConsumer."},
			{Name: "AllowVolumeExpansion", Type: "string", Description: "Whether claims may grow."},
			extAgeColumn("storage class"),
		},
		Row: func(obj runtime.Object) []interface{} {
			sc := obj.(*storagev1.StorageClass)
			name := sc.Name
			if IsDefaultStorageClass(sc) {
				name += " (default)"
			}
			reclaim, binding := "Delete", "Immediate"
			if sc.ReclaimPolicy != nil {
				reclaim = string(*sc.ReclaimPolicy)
			}
			if sc.VolumeBindingMode != nil {
				binding = string(*sc.VolumeBindingMode)
			}
			expand := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
			return []interface{}{name, sc.Provisioner, reclaim, binding, expand, Age(sc.CreationTimestamp)}
		},
	}, &Resource{
		Group: "storage.k8s.io", Version: "v1", Resource: "csidrivers", Kind: "CSIDriver",
		New:     func() runtime.Object { return &storagev1.CSIDriver{} },
		NewList: func() runtime.Object { return &storagev1.CSIDriverList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultCSIDriver(obj.(*storagev1.CSIDriver)) },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateCSIDriver(obj.(*storagev1.CSIDriver))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*storagev1.CSIDriver), old.(*storagev1.CSIDriver)
				errs := extImmutable(n.Spec.AttachRequired, o.Spec.AttachRequired, field.NewPath("spec", "attachRequired"))
				errs = append(errs, extImmutable(n.Spec.FSGroupPolicy, o.Spec.FSGroupPolicy, field.NewPath("spec", "fsGroupPolicy"))...)
				return append(errs, extImmutable(n.Spec.VolumeLifecycleModes, o.Spec.VolumeLifecycleModes, field.NewPath("spec", "volumeLifecycleModes"))...)
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("CSI driver"),
			{Name: "AttachRequired", Type: "boolean", Description: "Whether volumes need an attach step."},
			{Name: "PodInfoOnMount", Type: "boolean", Description: "Whether the driver gets pod information at mount."},
			{Name: "StorageCapacity", Type: "boolean", Description: "Whether the scheduler checks the driver's capacity."},
			{Name: "TokenRequests", Type: "string", Description: "Audiences of the service account tokens the driver gets."},
			{Name: "RequiresRepublish", Type: "boolean", Description: "Whether volumes are mounted again periodically."},
			{Name: "Modes", Type: "string", Description: "Volume lifecycle modes the driver supports."},
			extAgeColumn("CSI driver"),
		},
		Row: func(obj runtime.Object) []interface{} {
			d := obj.(*storagev1.CSIDriver)
			b := func(p *bool) bool { return p != nil && *p }
			var auds, modes []string
			for _, t := range d.Spec.TokenRequests {
				auds = append(auds, t.Audience)
			}
			for _, m := range d.Spec.VolumeLifecycleModes {
				modes = append(modes, string(m))
			}
			return []interface{}{d.Name, b(d.Spec.AttachRequired), b(d.Spec.PodInfoOnMount), b(d.Spec.StorageCapacity),
				extListWithMore(auds, len(auds), ",", "<unset>"), b(d.Spec.RequiresRepublish),
				extListWithMore(modes, len(modes), ",", "<none>"), Age(d.CreationTimestamp)}
		},
	})
}

// IsDefaultStorageClass reports whether a class is marked as the default one.
func IsDefaultStorageClass(sc *storagev1.StorageClass) bool {
	return sc.Annotations[DefaultStorageClassAnnotation] == "true" || sc.Annotations[BetaDefaultStorageClassAnnotation] == "true"
}

var (
	scReclaimPolicies = []string{string(corev1.PersistentVolumeReclaimDelete), string(corev1.PersistentVolumeReclaimRetain)}
	scBindingModes    = []string{string(storagev1.VolumeBindingImmediate), string(storagev1.VolumeBindingWaitForFirstConsumer)}
	csiFSGroupPolicy  = []string{string(storagev1.FileFSGroupPolicy), string(storagev1.NoneFSGroupPolicy), string(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)}
	csiModes          = []string{string(storagev1.VolumeLifecycleEphemeral), string(storagev1.VolumeLifecyclePersistent)}
)

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	pp := field.NewPath("provisioner")
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(pp, ""))
	} else {
		if len(sc.Provisioner) > 63 {
			errs = append(errs, field.TooLong(pp, "", 63))
		}
		for _, msg := range validation.IsQualifiedName(sc.Provisioner) {
			errs = append(errs, field.Invalid(pp, sc.Provisioner, msg))
		}
	}
	if len(sc.Parameters) > maxStorageClassParameters {
		errs = append(errs, field.TooMany(field.NewPath("parameters"), len(sc.Parameters), maxStorageClassParameters))
	}
	size := 0
	for k, v := range sc.Parameters {
		if k == "" {
			errs = append(errs, field.Invalid(field.NewPath("parameters"), k, "parameter names must not be empty"))
		}
		size += len(k) + len(v)
	}
	if size > maxStorageClassParameterSize {
		errs = append(errs, field.TooLong(field.NewPath("parameters"), "", maxStorageClassParameterSize))
	}
	if p := sc.ReclaimPolicy; p != nil && *p != corev1.PersistentVolumeReclaimDelete && *p != corev1.PersistentVolumeReclaimRetain {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *p, scReclaimPolicies))
	}
	if m := sc.VolumeBindingMode; m == nil {
		errs = append(errs, field.Required(field.NewPath("volumeBindingMode"), ""))
	} else if *m != storagev1.VolumeBindingImmediate && *m != storagev1.VolumeBindingWaitForFirstConsumer {
		errs = append(errs, field.NotSupported(field.NewPath("volumeBindingMode"), *m, scBindingModes))
	}
	for i, t := range sc.AllowedTopologies {
		tp := field.NewPath("allowedTopologies").Index(i)
		if len(t.MatchLabelExpressions) == 0 {
			errs = append(errs, field.Required(tp.Child("matchLabelExpressions"), "must have at least one label expression"))
		}
		for j, e := range t.MatchLabelExpressions {
			ep := tp.Child("matchLabelExpressions").Index(j)
			for _, msg := range validation.IsQualifiedName(e.Key) {
				errs = append(errs, field.Invalid(ep.Child("key"), e.Key, msg))
			}
			if len(e.Values) == 0 {
				errs = append(errs, field.Required(ep.Child("values"), "must have at least one value"))
			}
		}
	}
	return errs
}

func defaultCSIDriver(d *storagev1.CSIDriver) {
	s := &d.Spec
	if s.AttachRequired == nil {
		s.AttachRequired = extPtr(true)
	}
	if s.PodInfoOnMount == nil {
		s.PodInfoOnMount = extPtr(false)
	}
	if s.StorageCapacity == nil {
		s.StorageCapacity = extPtr(false)
	}
	if s.FSGroupPolicy == nil {
		s.FSGroupPolicy = extPtr(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)
	}
	if len(s.VolumeLifecycleModes) == 0 {
		s.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}
	}
	if s.RequiresRepublish == nil {
		s.RequiresRepublish = extPtr(false)
	}
	if s.SELinuxMount == nil {
		s.SELinuxMount = extPtr(false)
	}
}

func validateCSIDriver(d *storagev1.CSIDriver) field.ErrorList {
	var errs field.ErrorList
	if len(d.Name) > 63 {
		errs = append(errs, field.TooLong(field.NewPath("metadata", "name"), "", 63))
	}
	p := field.NewPath("spec")
	if fp := d.Spec.FSGroupPolicy; fp != nil {
		switch *fp {
		case storagev1.FileFSGroupPolicy, storagev1.NoneFSGroupPolicy, storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy:
		default:
			errs = append(errs, field.NotSupported(p.Child("fsGroupPolicy"), *fp, csiFSGroupPolicy))
		}
	}
	for i, m := range d.Spec.VolumeLifecycleModes {
		if m != storagev1.VolumeLifecyclePersistent && m != storagev1.VolumeLifecycleEphemeral {
			errs = append(errs, field.NotSupported(p.Child("volumeLifecycleModes").Index(i), m, csiModes))
		}
	}
	auds := sets.New[string]()
	for i, t := range d.Spec.TokenRequests {
		tp := p.Child("tokenRequests").Index(i)
		if auds.Has(t.Audience) {
			errs = append(errs, field.Duplicate(tp.Child("audience"), t.Audience))
		}
		auds.Insert(t.Audience)
		if t.ExpirationSeconds != nil && *t.ExpirationSeconds < 600 {
			errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
		}
	}
	return errs
}

package registry

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "persistentvolumes", Kind: "PersistentVolume",
		ShortNames: []string{"pv"},
		New:        func() runtime.Object { return &corev1.PersistentVolume{} },
		NewList:    func() runtime.Object { return &corev1.PersistentVolumeList{} },
		Status:     true,
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultPersistentVolume(obj.(*corev1.PersistentVolume)) },
			PrepareForCreate: func(_ context.Context, obj runtime.Object) {
				obj.(*corev1.PersistentVolume).Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending}
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validatePersistentVolume(obj.(*corev1.PersistentVolume))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume)
				var errs field.ErrorList
				sp := field.NewPath("spec")
				if !equality.Semantic.DeepEqual(n.Spec.PersistentVolumeSource, o.Spec.PersistentVolumeSource) {
					errs = append(errs, field.Forbidden(sp.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
				}
				errs = append(errs, apivalidation.ValidateImmutableField(n.Spec.VolumeMode, o.Spec.VolumeMode, sp.Child("volumeMode"))...)
				if o.Spec.NodeAffinity != nil {
					errs = append(errs, apivalidation.ValidateImmutableField(n.Spec.NodeAffinity, o.Spec.NodeAffinity, sp.Child("nodeAffinity"))...)
				}
				return errs
			},
			ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				pv := obj.(*corev1.PersistentVolume)
				return checkOptionalEnum(field.NewPath("status", "phase"), pv.Status.Phase, corev1.VolumePending,
					corev1.VolumeAvailable, corev1.VolumeBound, corev1.VolumeReleased, corev1.VolumeFailed)
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the volume."},
			{Name: "Capacity", Type: "string", Description: "Storage capacity."},
			{Name: "Access Modes", Type: "string", Description: "How nodes may mount it: RWO, ROX, RWX, RWOP."},
			{Name: "Reclaim Policy", Type: "string", Description: "What happens to it when its claim goes: Retain, Delete or Recycle."},
			{Name: "Status", Type: "string", Description: "Phase of the volume."},
			{Name: "Claim", Type: "string", Description: "The claim bound to it (namespace/name)."},
			{Name: "StorageClass", Type: "string", Description: "Storage class of the volume."},
			{Name: "VolumeAttributesClass", Type: "string", Description: "Volume attributes class of the volume."},
			{Name: "Reason", Type: "string", Description: "Why the volume is in its phase."},
			{Name: "Age", Type: "string", Description: "Time since the volume was created."},
			{Name: "VolumeMode", Type: "string", Priority: 1, Description: "Filesystem or Block."},
		},
		Row: func(obj runtime.Object) []interface{} { return persistentVolumeRow(obj.(*corev1.PersistentVolume)) },
	})
}

func defaultPersistentVolume(pv *corev1.PersistentVolume) {
	if pv.Spec.PersistentVolumeReclaimPolicy == "" {
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	}
	if pv.Spec.VolumeMode == nil {
		m := corev1.PersistentVolumeFilesystem
		pv.Spec.VolumeMode = &m
	}
	if pv.Status.Phase == "" {
		pv.Status.Phase = corev1.VolumePending
	}
	if hp := pv.Spec.HostPath; hp != nil && hp.Type == nil {
		t := corev1.HostPathUnset
		hp.Type = &t
	}
}

func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	errs = append(errs, checkAccessModes(sp.Child("accessModes"), pv.Spec.AccessModes)...)
	if len(pv.Spec.Capacity) == 0 {
		errs = append(errs, field.Required(sp.Child("capacity"), ""))
	} else if q, ok := pv.Spec.Capacity[corev1.ResourceStorage]; !ok || len(pv.Spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(sp.Child("capacity"), SortedResourceNames(pv.Spec.Capacity), []string{string(corev1.ResourceStorage)}))
	} else {
		errs = append(errs, checkQuantityNonNegative(sp.Child("capacity").Key(string(corev1.ResourceStorage)), q)...)
	}
	errs = append(errs, checkEnum(sp.Child("persistentVolumeReclaimPolicy"), pv.Spec.PersistentVolumeReclaimPolicy,
		corev1.PersistentVolumeReclaimRetain, corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle)...)
	if pv.Spec.StorageClassName != "" {
		errs = append(errs, checkDNSSubdomain(sp.Child("storageClassName"), pv.Spec.StorageClassName)...)
	}
	if pv.Spec.VolumeMode != nil {
		errs = append(errs, checkEnum(sp.Child("volumeMode"), *pv.Spec.VolumeMode, corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem)...)
	}
	switch n := countSet(&pv.Spec.PersistentVolumeSource); {
	case n == 0:
		errs = append(errs, field.Required(sp, "must specify a volume type"))
	case n > 1:
		errs = append(errs, field.Forbidden(sp, "may not specify more than 1 volume type"))
	default:
		src := &pv.Spec.PersistentVolumeSource
		switch {
		case src.HostPath != nil:
			hp := sp.Child("hostPath")
			if src.HostPath.Path == "" {
				errs = append(errs, field.Required(hp.Child("path"), ""))
			} else if strings.Contains("/"+src.HostPath.Path+"/", "/../") {
				errs = append(errs, field.Invalid(hp.Child("path"), src.HostPath.Path, "must not contain '..'"))
			}
		case src.Local != nil:
			if src.Local.Path == "" {
				errs = append(errs, field.Required(sp.Child("local", "path"), ""))
			}
			if pv.Spec.NodeAffinity == nil {
				errs = append(errs, field.Required(sp.Child("nodeAffinity"), "Local volume requires node affinity"))
			}
		case src.NFS != nil:
			if src.NFS.Server == "" {
				errs = append(errs, field.Required(sp.Child("nfs", "server"), ""))
			}
			if src.NFS.Path == "" {
				errs = append(errs, field.Required(sp.Child("nfs", "path"), ""))
			}
		case src.CSI != nil:
			if src.CSI.Driver == "" {
				errs = append(errs, field.Required(sp.Child("csi", "driver"), ""))
			}
			if src.CSI.VolumeHandle == "" {
				errs = append(errs, field.Required(sp.Child("csi", "volumeHandle"), ""))
			}
		}
	}
	if na := pv.Spec.NodeAffinity; na != nil {
		ap := sp.Child("nodeAffinity")
		if na.Required == nil {
			errs = append(errs, field.Required(ap.Child("required"), ""))
		} else {
			if len(na.Required.NodeSelectorTerms) == 0 {
				errs = append(errs, field.Required(ap.Child("required", "nodeSelectorTerms"), "must have at least one node selector term"))
			}
			for i := range na.Required.NodeSelectorTerms {
				errs = append(errs, checkNodeSelectorTerm(&na.Required.NodeSelectorTerms[i], ap.Child("required", "nodeSelectorTerms").Index(i))...)
			}
		}
	}
	if c := pv.Spec.ClaimRef; c != nil {
		cp := sp.Child("claimRef")
		if c.Name == "" {
			errs = append(errs, field.Required(cp.Child("name"), ""))
		}
		if c.Namespace == "" {
			errs = append(errs, field.Required(cp.Child("namespace"), ""))
		}
	}
	return errs
}

// persistentVolumeRow: Name, Capacity, Access Modes, Reclaim Policy, Status, Claim,
// StorageClass, VolumeAttributesClass, Reason, Age, VolumeMode.
func persistentVolumeRow(pv *corev1.PersistentVolume) []interface{} {
	claim := ""
	if c := pv.Spec.ClaimRef; c != nil {
		claim = c.Namespace + "/" + c.Name
	}
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	return []interface{}{
		pv.Name, capacity.String(), accessModesString(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
		phase, claim, storageClassOf(pv.Annotations, &pv.Spec.StorageClassName), unsetIfNil(pv.Spec.VolumeAttributesClassName),
		pv.Status.Reason, Age(pv.CreationTimestamp), volumeModeCell(pv.Spec.VolumeMode),
	}
}

func unsetIfNil(s *string) string {
	if s == nil || *s == "" {
		return "<unset>"
	}
	return *s
}

func volumeModeCell(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

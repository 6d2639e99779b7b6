package registry

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultPodSpec applies the defaults Kubernetes gives a pod spec (used by pods and
// by every pod template: deployments, jobs, ...).
func DefaultPodSpec(spec *corev1.PodSpec) {
	// Filled in with the full pod rules in pods.go's helpers.
	defaultPodSpec(spec)
}

// DefaultPodTemplate defaults a pod template.
func DefaultPodTemplate(t *corev1.PodTemplateSpec) {
	if t == nil {
		return
	}
	DefaultPodSpec(&t.Spec)
}

// ValidatePodSpec validates a pod spec; meta is the pod's (or template's) metadata.
func ValidatePodSpec(spec *corev1.PodSpec, meta *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	return validatePodSpec(spec, meta, fldPath)
}

// ValidatePodTemplate validates a pod template: its labels and annotations, and its spec.
func ValidatePodTemplate(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	return validatePodTemplate(t, fldPath)
}

// The functions below are the placeholders the pod rules replace.

func defaultPodSpec(spec *corev1.PodSpec) {}

func validatePodSpec(spec *corev1.PodSpec, meta *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(fldPath.Child("containers"), ""))
	}
	return errs
}

func validatePodTemplate(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	return validatePodSpec(&t.Spec, &t.ObjectMeta, fldPath.Child("spec"))
}

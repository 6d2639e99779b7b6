package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// DefaultServiceAccount is the account a pod runs as when it names none.
const DefaultServiceAccount = "default"

// mirrorPodAnnotation marks the API copy of a pod a node runs from a local file;
// such pods keep the identity they were written with.
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

// ServiceAccount gives every new pod a service account: the one it names (in either
// the current or the deprecated field), or "default". Both fields end up equal.
type ServiceAccount struct{}

// Admit implements Plugin.
func (ServiceAccount) Admit(_ context.Context, r *Request) error {
	pod, ok := isPodCreate(r)
	if !ok {
		return nil
	}
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return nil
	}
	setServiceAccount(&pod.Spec)
	return nil
}

func setServiceAccount(spec *corev1.PodSpec) {
	name := spec.ServiceAccountName
	if name == "" {
		name = spec.DeprecatedServiceAccount
	}
	if name == "" {
		name = DefaultServiceAccount
	}
	spec.ServiceAccountName = name
	spec.DeprecatedServiceAccount = name
}

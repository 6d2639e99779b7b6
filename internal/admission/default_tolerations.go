package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// DefaultNodeFailureToleration is how long, in seconds, a pod stays bound to a node
// that became not-ready or unreachable before it is evicted.
const DefaultNodeFailureToleration int64 = 300

// DefaultTolerationSeconds lets new pods ride out a short node failure: unless they
// already say otherwise, they tolerate the not-ready and unreachable NoExecute
// taints for DefaultNodeFailureToleration seconds.
type DefaultTolerationSeconds struct{}

// Admit implements Plugin.
func (DefaultTolerationSeconds) Admit(_ context.Context, r *Request) error {
	pod, ok := isPodCreate(r)
	if !ok {
		return nil
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if !toleratesNoExecute(pod.Spec.Tolerations, key) {
			secs := DefaultNodeFailureToleration
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
				Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs,
			})
		}
	}
	return nil
}

// toleratesNoExecute reports whether some toleration already speaks about the
// NoExecute taint key (naming it, or matching every key), whatever it decides.
func toleratesNoExecute(ts []corev1.Toleration, key string) bool {
	for _, t := range ts {
		keyMatches := t.Key == key || (t.Key == "" && t.Operator == corev1.TolerationOpExists)
		effectMatches := t.Effect == corev1.TaintEffectNoExecute || t.Effect == ""
		if keyMatches && effectMatches {
			return true
		}
	}
	return false
}

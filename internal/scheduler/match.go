package scheduler

import corev1 "k8s.io/api/core/v1"

// NodeMatches reports whether node satisfies pod's nodeSelector and required node
// affinity, as the node affinity filter decides it. The DaemonSet controller uses it
// to decide which nodes its pods belong on.
func NodeMatches(pod *corev1.Pod, node *corev1.Node) (bool, error) {
	m, err := newNodeMatcher(pod)
	if err != nil {
		return false, err
	}
	return m.matches(node), nil
}

package podutil

import (
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// DeletionCostAnnotation lets users say which pods of a ReplicaSet go first on
// scale-down (lower cost first).
const DeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// ReadyCondition returns the pod's Ready condition, or nil.
func ReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// IsReady reports whether the pod's Ready condition is True.
func IsReady(pod *corev1.Pod) bool {
	c := ReadyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsAvailable reports whether the pod has been ready for at least minReadySeconds
// at now.
func IsAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := ReadyCondition(pod)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds <= 0 {
		return true
	}
	return !c.LastTransitionTime.IsZero() && !c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).After(now)
}

// AvailableIn returns how long until a ready pod becomes available (0 if it is, or
// if it is not ready at all).
func AvailableIn(pod *corev1.Pod, minReadySeconds int32, now time.Time) time.Duration {
	c := ReadyCondition(pod)
	if c == nil || c.Status != corev1.ConditionTrue || minReadySeconds <= 0 {
		return 0
	}
	at := c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second)
	if d := at.Sub(now); d > 0 {
		return d
	}
	return 0
}

// IsTerminating reports whether the pod is being deleted.
func IsTerminating(pod *corev1.Pod) bool { return pod.DeletionTimestamp != nil }

// IsFinished reports whether the pod's containers have all stopped for good.
func IsFinished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// IsActive reports whether the pod counts toward a controller's replicas: neither
// finished nor being deleted.
func IsActive(pod *corev1.Pod) bool { return !IsFinished(pod) && !IsTerminating(pod) }

// FilterActive returns the active pods.
func FilterActive(pods []*corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if IsActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// Restarts is the pod's total container restart count.
func Restarts(pod *corev1.Pod) int32 {
	var n int32
	for _, s := range pod.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}

func deletionCost(pod *corev1.Pod) int64 {
	v, ok := pod.Annotations[DeletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return n
}

func phaseRank(p corev1.PodPhase) int {
	switch p {
	case corev1.PodPending:
		return 0
	case corev1.PodUnknown:
		return 1
	case corev1.PodRunning:
		return 2
	}
	return 3
}

// SortForDeletion orders pods so that the ones to delete first come first:
// unscheduled before scheduled, pending before running, not ready before ready,
// lower deletion cost first, pods sharing a node with more of their siblings first,
// the most recently ready first, more restarts first, newer first.
func SortForDeletion(pods []*corev1.Pod) {
	perNode := map[string]int{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName]++
		}
	}
	sort.SliceStable(pods, func(i, j int) bool { return deleteBefore(pods[i], pods[j], perNode) })
}

func deleteBefore(a, b *corev1.Pod, perNode map[string]int) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if ra, rb := phaseRank(a.Status.Phase), phaseRank(b.Status.Phase); ra != rb {
		return ra < rb
	}
	if ia, ib := IsReady(a), IsReady(b); ia != ib {
		return !ia
	}
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	if na, nb := perNode[a.Spec.NodeName], perNode[b.Spec.NodeName]; na != nb {
		return na > nb
	}
	if IsReady(a) {
		ta, tb := ReadyCondition(a).LastTransitionTime, ReadyCondition(b).LastTransitionTime
		if !ta.Equal(&tb) {
			return tb.Before(&ta)
		}
	}
	if ra, rb := Restarts(a), Restarts(b); ra != rb {
		return ra > rb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}

// FromTemplate builds a pod for a controller from its pod template: the pod gets the
// template's labels, annotations and spec, the owner reference, and a generated
// name "<prefix>-xxxxx" unless the caller sets Name.
func FromTemplate(tmpl *corev1.PodTemplateSpec, namespace, namePrefix string, owner *metav1.OwnerReference) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:    namespace,
			GenerateName: namePrefix + "-",
			Labels:       labels.Merge(nil, tmpl.Labels),
			Annotations:  labels.Merge(nil, tmpl.Annotations),
			Finalizers:   append([]string(nil), tmpl.Finalizers...),
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
	if len(pod.Annotations) == 0 {
		pod.Annotations = nil
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return pod
}

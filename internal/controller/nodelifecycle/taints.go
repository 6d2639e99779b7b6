package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// managedTaints are the taints this controller derives from a node's conditions
// and spec; it adds and removes only these.
var managedTaints = []corev1.Taint{
	{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule},
}

func isManaged(t corev1.Taint) bool {
	for _, m := range managedTaints {
		if m.Key == t.Key && m.Effect == t.Effect {
			return true
		}
	}
	return false
}

func condition(n *corev1.Node, ty corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == ty {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// readyStatus is the node's Ready condition status ("" when it has none).
func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	if c := condition(n, corev1.NodeReady); c != nil {
		return c.Status
	}
	return ""
}

// wantedTaints lists the managed taints a node should carry given its state:
//   - Ready False: not-ready (NoSchedule and NoExecute)
//   - Ready Unknown: unreachable (NoSchedule and NoExecute)
//   - no Ready condition yet: not-ready NoSchedule (nothing lands before the node
//     reports, nothing is evicted before it is found silent)
//   - cordoned: unschedulable NoSchedule
//   - memory, disk or PID pressure, or no network: the matching NoSchedule taint
func wantedTaints(n *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	add := func(key string, effects ...corev1.TaintEffect) {
		for _, e := range effects {
			out = append(out, corev1.Taint{Key: key, Effect: e})
		}
	}
	switch readyStatus(n) {
	case corev1.ConditionFalse:
		add(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute)
	case corev1.ConditionUnknown:
		add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute)
	case "":
		add(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule)
	}
	if n.Spec.Unschedulable {
		add(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)
	}
	for _, p := range []struct {
		cond corev1.NodeConditionType
		key  string
	}{
		{corev1.NodeMemoryPressure, corev1.TaintNodeMemoryPressure},
		{corev1.NodeDiskPressure, corev1.TaintNodeDiskPressure},
		{corev1.NodePIDPressure, corev1.TaintNodePIDPressure},
		{corev1.NodeNetworkUnavailable, corev1.TaintNodeNetworkUnavailable},
	} {
		if c := condition(n, p.cond); c != nil && c.Status == corev1.ConditionTrue {
			add(p.key, corev1.TaintEffectNoSchedule)
		}
	}
	return out
}

// reconcileTaints returns the node's taints with the managed ones brought in
// line with wanted (others untouched, existing ones keep their timeAdded), and
// whether anything changed.
func reconcileTaints(current, wanted []corev1.Taint, now time.Time) ([]corev1.Taint, bool) {
	has := func(list []corev1.Taint, t corev1.Taint) bool {
		for _, x := range list {
			if x.Key == t.Key && x.Effect == t.Effect {
				return true
			}
		}
		return false
	}
	var out []corev1.Taint
	changed := false
	for _, t := range current {
		if isManaged(t) && !has(wanted, t) {
			changed = true
			continue
		}
		out = append(out, t)
	}
	for _, t := range wanted {
		if has(current, t) {
			continue
		}
		if t.Effect == corev1.TaintEffectNoExecute {
			ts := metav1.NewTime(now)
			t.TimeAdded = &ts
		}
		out = append(out, t)
		changed = true
	}
	return out, changed
}

// evictAfter says when a pod on a node with the given taints must go, going by
// the node's NoExecute taints: at once if one of them is not tolerated; never
// (evict false) if the tolerations that match set no time limit; otherwise after
// the shortest tolerationSeconds among the matching tolerations, counted from
// when the first taint was added (or from when the pod arrived, if later).
func evictAfter(taints []corev1.Taint, tolerations []corev1.Toleration, podSince time.Time, now time.Time) (wait time.Duration, evict bool) {
	var start time.Time
	any, limited := false, false
	var shortest time.Duration
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		tolerated := false
		for j := range tolerations {
			tol := &tolerations[j]
			if !tol.ToleratesTaint(t) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds != nil {
				d := time.Duration(*tol.TolerationSeconds) * time.Second
				if d < 0 {
					d = 0
				}
				if !limited || d < shortest {
					shortest, limited = d, true
				}
			}
		}
		if !tolerated {
			return 0, true
		}
		added := now
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		if !any || added.Before(start) {
			start, any = added, true
		}
	}
	if !limited {
		return 0, false
	}
	if podSince.After(start) {
		start = podSince
	}
	if w := start.Add(shortest).Sub(now); w > 0 {
		return w, true
	}
	return 0, true
}

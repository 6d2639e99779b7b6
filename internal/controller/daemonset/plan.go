package daemonset

import (
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"tug/internal/controller/history"
	"tug/internal/controller/podutil"
)

// input is what one decision about a DaemonSet looks at.
type input struct {
	ds    *appsv1.DaemonSet
	hash  string // of the current template's revision
	nodes []*corev1.Node
	pods  []*corev1.Pod // the set's own pods
	now   time.Time
	// mayAct is false while earlier creates and deletes are not yet seen.
	mayAct bool
	// retryFailed reports whether a failed pod on node may be replaced now, or how
	// long to wait (replacements of a pod that keeps failing back off).
	retryFailed func(node string) (bool, time.Duration)
}

// plan is the decision: pods to create (by node), to delete, to delete at once
// (their node is gone, no agent will finish them), and the status.
type plan struct {
	create      []string
	delete      []*corev1.Pod
	forceDelete []*corev1.Pod
	failed      []*corev1.Pod // failed pods among delete, for events
	status      appsv1.DaemonSetStatus
	requeue     time.Duration
}

func (p *plan) after(d time.Duration) {
	if d > 0 && (p.requeue == 0 || d < p.requeue) {
		p.requeue = d
	}
}

func (p *plan) writes() int { return len(p.create) + len(p.delete) + len(p.forceDelete) }

type nodeInfo struct {
	node                      *corev1.Node
	shouldRun, shouldContinue bool
	pods                      []*corev1.Pod // all of the set's pods for this node
}

func isUpdated(pod *corev1.Pod, hash string) bool { return pod.Labels[history.HashLabel] == hash }

// decide computes what to do; it reads no clock and writes nothing.
func decide(in input) plan {
	var p plan
	tmpl := podTemplate(in.ds)
	byNode := map[string][]*corev1.Pod{}
	for _, pod := range in.pods {
		byNode[targetNode(pod)] = append(byNode[targetNode(pod)], pod)
	}
	infos := make([]nodeInfo, 0, len(in.nodes))
	known := map[string]bool{}
	for _, n := range in.nodes {
		run, cont := eligibility(tmpl, n)
		infos = append(infos, nodeInfo{node: n, shouldRun: run, shouldContinue: cont, pods: byNode[n.Name]})
		known[n.Name] = true
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].node.Name < infos[j].node.Name })
	surge := maxSurge(in.ds, desiredCount(infos)) > 0

	for name, pods := range byNode {
		if name == "" || !known[name] {
			p.forceDelete = append(p.forceDelete, pods...)
		}
	}
	sortPods(p.forceDelete)

	for _, ni := range infos {
		switch {
		case ni.shouldRun && len(ni.pods) == 0:
			p.create = append(p.create, ni.node.Name)
		case ni.shouldContinue:
			var live []*corev1.Pod
			for _, pod := range ni.pods {
				switch {
				case pod.DeletionTimestamp != nil:
				case pod.Status.Phase == corev1.PodFailed:
					if ok, wait := in.retryFailed(ni.node.Name); ok {
						p.delete = append(p.delete, pod)
						p.failed = append(p.failed, pod)
					} else {
						p.after(wait)
					}
				case pod.Status.Phase == corev1.PodSucceeded:
					p.delete = append(p.delete, pod)
				default:
					live = append(live, pod)
				}
			}
			p.delete = append(p.delete, extraPods(live, in.hash, surge)...)
		default:
			for _, pod := range ni.pods {
				if pod.DeletionTimestamp == nil {
					p.delete = append(p.delete, pod)
				}
			}
		}
	}

	if p.writes() == 0 && in.mayAct && in.ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		rollingUpdate(in, infos, &p)
	}
	p.status = status(in, infos, &p)
	if !in.mayAct {
		p.create, p.delete, p.forceDelete, p.failed = nil, nil, nil, nil
	}
	return p
}

// extraPods are the running pods on one node beyond what may be there: one pod, or
// during a surge update one old and one new. The oldest of each kind stays.
func extraPods(live []*corev1.Pod, hash string, surge bool) []*corev1.Pod {
	if len(live) <= 1 {
		return nil
	}
	sortPods(live)
	var extra []*corev1.Pod
	keptNew, keptOld := false, false
	for _, pod := range live {
		switch {
		case !surge && !keptNew && !keptOld:
			keptNew = true
		case surge && isUpdated(pod, hash) && !keptNew:
			keptNew = true
		case surge && !isUpdated(pod, hash) && !keptOld:
			keptOld = true
		default:
			extra = append(extra, pod)
		}
	}
	return extra
}

// sortPods orders pods oldest first (running before pending on a tie).
func sortPods(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		if (a.Status.Phase == corev1.PodRunning) != (b.Status.Phase == corev1.PodRunning) {
			return a.Status.Phase == corev1.PodRunning
		}
		return a.Name < b.Name
	})
}

func desiredCount(infos []nodeInfo) int {
	n := 0
	for _, ni := range infos {
		if ni.shouldRun {
			n++
		}
	}
	return n
}

func maxSurge(ds *appsv1.DaemonSet, desired int) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ru == nil || ru.MaxSurge == nil {
		return 0
	}
	v, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true)
	if err != nil {
		return 0
	}
	return v
}

func maxUnavailable(ds *appsv1.DaemonSet, desired int) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	v := 1
	if ru != nil && ru.MaxUnavailable != nil {
		if x, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, desired, true); err == nil {
			v = x
		}
	}
	if v == 0 && maxSurge(ds, desired) == 0 {
		v = 1
	}
	return v
}

// podsOnNode splits the live pods of one node into the updated and the old one;
// ok is false when there are several of a kind (cleanup comes first).
func podsOnNode(ni nodeInfo, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, pod := range ni.pods {
		if pod.DeletionTimestamp != nil || podutil.IsFinished(pod) {
			continue
		}
		if isUpdated(pod, hash) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = pod
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = pod
		}
	}
	return newPod, oldPod, true
}

// rollingUpdate replaces old pods node by node. Without surge an old pod is deleted
// first and the normal loop makes the new one, keeping at most maxUnavailable nodes
// without an available pod. With surge the new pod is started next to the old one,
// at most maxSurge at a time, and the old one goes once the new one is available.
func rollingUpdate(in input, infos []nodeInfo, p *plan) {
	ds := in.ds
	desired := desiredCount(infos)
	surgeMax, unavailMax := maxSurge(ds, desired), maxUnavailable(ds, desired)
	available := func(pod *corev1.Pod) bool {
		if podutil.IsAvailable(pod, ds.Spec.MinReadySeconds, in.now) {
			return true
		}
		p.after(podutil.AvailableIn(pod, ds.Spec.MinReadySeconds, in.now))
		return false
	}
	if surgeMax == 0 {
		unavailable := 0
		var mustReplace, candidates []*corev1.Pod
		for _, ni := range infos {
			if !ni.shouldRun {
				continue
			}
			newPod, oldPod, ok := podsOnNode(ni, in.hash)
			switch {
			case !ok || (newPod == nil && oldPod == nil) || (newPod != nil && oldPod != nil):
				unavailable++
			case newPod != nil:
				if !available(newPod) {
					unavailable++
				}
			case !available(oldPod):
				// Already unavailable: replacing it costs nothing more.
				mustReplace = append(mustReplace, oldPod)
				unavailable++
			default:
				candidates = append(candidates, oldPod)
			}
		}
		room := unavailMax - unavailable
		if room < 0 {
			room = 0
		}
		if room > len(candidates) {
			room = len(candidates)
		}
		p.delete = append(p.delete, mustReplace...)
		p.delete = append(p.delete, candidates[:room]...)
		return
	}
	surging := 0
	var mustSurge, candidates []string
	for _, ni := range infos {
		if !ni.shouldRun {
			continue
		}
		newPod, oldPod, ok := podsOnNode(ni, in.hash)
		switch {
		case !ok:
			surging++
		case oldPod == nil:
		case newPod == nil && !available(oldPod):
			mustSurge = append(mustSurge, ni.node.Name)
		case newPod == nil:
			candidates = append(candidates, ni.node.Name)
		case available(newPod):
			p.delete = append(p.delete, oldPod)
		default:
			surging++
		}
	}
	room := surgeMax - surging
	if room < 0 {
		room = 0
	}
	if room > len(candidates) {
		room = len(candidates)
	}
	p.create = append(p.create, mustSurge...)
	p.create = append(p.create, candidates[:room]...)
}

// status counts the set's nodes and pods.
func status(in input, infos []nodeInfo, p *plan) appsv1.DaemonSetStatus {
	ds := in.ds
	st := appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, CollisionCount: ds.Status.CollisionCount}
	for _, ni := range infos {
		var live []*corev1.Pod
		for _, pod := range ni.pods {
			if pod.DeletionTimestamp == nil {
				live = append(live, pod)
			}
		}
		if !ni.shouldRun {
			if len(live) > 0 {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if len(live) == 0 {
			continue
		}
		st.CurrentNumberScheduled++
		ready, avail, updated := false, false, false
		for _, pod := range live {
			if podutil.IsReady(pod) {
				ready = true
				if podutil.IsAvailable(pod, ds.Spec.MinReadySeconds, in.now) {
					avail = true
				} else {
					p.after(podutil.AvailableIn(pod, ds.Spec.MinReadySeconds, in.now))
				}
			}
			if isUpdated(pod, in.hash) {
				updated = true
			}
		}
		if ready {
			st.NumberReady++
		}
		if avail {
			st.NumberAvailable++
		}
		if updated {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	if st.NumberUnavailable < 0 {
		st.NumberUnavailable = 0
	}
	return st
}

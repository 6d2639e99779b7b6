package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// How a pod reads in `kubectl get pods`.

// podRow returns the cells of a pod: Name, Ready, Status, Restarts, Age, IP, Node,
// Nominated Node, Readiness Gates.
func podRow(p *corev1.Pod) []interface{} {
	s := summarizePod(p)
	restarts := fmt.Sprint(s.restarts)
	if s.restarts > 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, Age(s.lastRestart))
	}
	ip := ""
	if len(p.Status.PodIPs) > 0 {
		ip = p.Status.PodIPs[0].IP
	}
	return []interface{}{
		p.Name,
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.status,
		restarts,
		Age(p.CreationTimestamp),
		extNone(ip),
		extNone(p.Spec.NodeName),
		extNone(p.Status.NominatedNodeName),
		readinessGatesCell(p),
	}
}

type podSummary struct {
	status       string
	ready, total int
	restarts     int32
	lastRestart  metav1.Time
}

// restartCounter sums restarts and remembers the latest one.
type restartCounter struct {
	n    int32
	last metav1.Time
}

func (r *restartCounter) add(cs corev1.ContainerStatus) {
	r.n += cs.RestartCount
	if t := cs.LastTerminationState.Terminated; t != nil && r.last.Before(&t.FinishedAt) {
		r.last = t.FinishedAt
	}
}

// summarizePod works out the Ready, Status and Restarts cells. The status is the
// most telling thing about the pod: the phase, overridden by its reason, then by
// an init container that is not done, then by a main container waiting or ended.
func summarizePod(p *corev1.Pod) podSummary {
	s := podSummary{status: string(p.Status.Phase), total: len(p.Spec.Containers)}
	if p.Status.Reason != "" {
		s.status = p.Status.Reason
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.status = corev1.PodReasonSchedulingGated
		}
	}

	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			s.total++
		}
	}

	var all, sidecarRestarts restartCounter
	initStuck := false
	for i, cs := range p.Status.InitContainerStatuses {
		all.add(cs)
		if sidecars[cs.Name] {
			sidecarRestarts.add(cs)
		}
		term, wait := cs.State.Terminated, cs.State.Waiting
		switch {
		case term != nil && term.ExitCode == 0:
			// Done.
		case sidecars[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				s.ready++
			}
		case term != nil:
			s.status = "Init:" + terminatedReason(term)
			initStuck = true
		case wait != nil && wait.Reason != "" && wait.Reason != "PodInitializing":
			s.status = "Init:" + wait.Reason
			initStuck = true
		default:
			s.status = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
			initStuck = true
		}
		if initStuck {
			// Containers after the one holding things up have not run yet.
			break
		}
	}

	if !initStuck || podConditionTrue(p, corev1.PodInitialized) {
		// Only restartable init containers' restarts still count once the pod runs.
		counter := sidecarRestarts
		running := false
		// The first container in the list has the last word, as kubectl shows it.
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := p.Status.ContainerStatuses[i]
			counter.add(cs)
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				s.status = cs.State.Waiting.Reason
			case cs.State.Terminated != nil:
				s.status = terminatedReason(cs.State.Terminated)
			case cs.Ready && cs.State.Running != nil:
				running = true
				s.ready++
			}
		}
		all = counter
		if s.status == "Completed" && running {
			if podConditionTrue(p, corev1.PodReady) {
				s.status = "Running"
			} else {
				s.status = "NotReady"
			}
		}
	}

	if p.DeletionTimestamp != nil {
		switch {
		case p.Status.Reason == "NodeLost":
			s.status = "Unknown"
		case p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed:
			s.status = "Terminating"
		}
	}
	s.restarts, s.lastRestart = all.n, all.last
	return s
}

// terminatedReason is the reason a container ended, else its signal or exit code.
func terminatedReason(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	default:
		return fmt.Sprintf("ExitCode:%d", t.ExitCode)
	}
}

func podConditionTrue(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func readinessGatesCell(p *corev1.Pod) string {
	if len(p.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	n := 0
	for _, g := range p.Spec.ReadinessGates {
		if podConditionTrue(p, g.ConditionType) {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(p.Spec.ReadinessGates))
}

package kubelet

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const runtimeRunning = runtimeapi.ContainerState_CONTAINER_RUNNING

// waitInfo says why a container is not running (ContainerCreating,
// ErrImagePull, CrashLoopBackOff, ...).
type waitInfo struct {
	Reason, Message string
}

// statusInput is everything a pod's status is computed from.
type statusInput struct {
	pod *corev1.Pod
	rs  *podRuntime
	// waiting holds the reason each container is not running, if known.
	waiting map[string]waitInfo
	// probe answers readiness and startup for a running container.
	probe func(pod *corev1.Pod, c *corev1.Container, id string) (ready, started bool)
	// message reads a finished container's termination message.
	message    func(c *corev1.Container, rec *containerRecord) string
	hostIP     string
	runtime    string // container id prefix, like containerd
	now        metav1.Time
	podFailure *waitInfo // the pod as a whole cannot start (volumes, sandbox)
}

// computeStatus derives a pod's status from the runtime's view. It is a pure
// function of its input, so every rule of phases and conditions is tested
// without a runtime.
func computeStatus(in statusInput) corev1.PodStatus {
	pod := in.pod
	old := pod.Status
	st := corev1.PodStatus{
		HostIP:                in.hostIP,
		QOSClass:              qosClass(pod),
		StartTime:             old.StartTime,
		NominatedNodeName:     old.NominatedNodeName,
		ResourceClaimStatuses: old.ResourceClaimStatuses,
		Resize:                old.Resize,
	}
	if in.hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: in.hostIP}}
	}
	if st.StartTime == nil {
		t := in.now
		st.StartTime = &t
	}
	sb := in.rs.newestSandbox()
	sandboxReady := sb != nil && sb.State == runtimeapi.PodSandboxState_SANDBOX_READY
	if pod.Spec.HostNetwork {
		st.PodIP = in.hostIP
	} else if in.rs.sandboxIP != "" {
		st.PodIP = in.rs.sandboxIP
	} else if !sandboxReady || isTerminalPhase(old.Phase) {
		// A stopped pod keeps reporting the address it had.
		st.PodIP = old.PodIP
	}
	if st.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}

	initDone := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := in.containerStatus(c, true, initDone)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			initDone = false
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		st.ContainerStatuses = append(st.ContainerStatuses, in.containerStatus(c, false, initDone))
	}
	sort.SliceStable(st.ContainerStatuses, func(i, j int) bool { return st.ContainerStatuses[i].Name < st.ContainerStatuses[j].Name })
	st.EphemeralContainerStatuses = in.ephemeralStatuses()

	st.Phase = podPhase(pod, st.InitContainerStatuses, st.ContainerStatuses)
	if isTerminalPhase(old.Phase) {
		st.Phase = old.Phase
		st.Reason, st.Message = old.Reason, old.Message
	}

	// Conditions, keeping transition times of those that did not change.
	conds := []corev1.PodCondition{}
	set := func(t corev1.PodConditionType, ok bool, reason, msg string) {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg, LastTransitionTime: in.now}
		if ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
		}
		for _, oc := range old.Conditions {
			if oc.Type == t && oc.Status == c.Status {
				c.LastTransitionTime = oc.LastTransitionTime
				c.LastProbeTime = oc.LastProbeTime
			}
		}
		conds = append(conds, c)
	}
	set(corev1.PodReadyToStartContainers, sandboxReady && (pod.Spec.HostNetwork || in.rs.sandboxIP != ""), "", "")
	var incompleteInit []string
	for _, cs := range st.InitContainerStatuses {
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			incompleteInit = append(incompleteInit, cs.Name)
		}
	}
	if len(incompleteInit) == 0 {
		set(corev1.PodInitialized, true, "", "")
	} else {
		set(corev1.PodInitialized, false, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incompleteInit, " ")))
	}
	var unready []string
	for _, cs := range st.ContainerStatuses {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	terminal := isTerminalPhase(st.Phase)
	switch {
	case terminal:
		set(corev1.ContainersReady, false, "PodCompleted", "")
	case len(unready) == 0:
		set(corev1.ContainersReady, true, "", "")
	default:
		set(corev1.ContainersReady, false, "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " ")))
	}
	var gatesUnready []string
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, oc := range old.Conditions {
			if oc.Type == g.ConditionType && oc.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			gatesUnready = append(gatesUnready, string(g.ConditionType))
		}
	}
	switch {
	case terminal:
		set(corev1.PodReady, false, "PodCompleted", "")
	case len(unready) > 0:
		set(corev1.PodReady, false, "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " ")))
	case len(gatesUnready) > 0:
		set(corev1.PodReady, false, "ReadinessGatesNotReady", fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", gatesUnready[0]))
	default:
		set(corev1.PodReady, true, "", "")
	}
	// Conditions others own (PodScheduled, readiness gates, disruption) stay.
	for _, oc := range old.Conditions {
		if !ownCondition(oc.Type) {
			conds = append(conds, oc)
		}
	}
	order := map[corev1.PodConditionType]int{corev1.PodReadyToStartContainers: 0, corev1.PodInitialized: 1, corev1.PodReady: 2, corev1.ContainersReady: 3, corev1.PodScheduled: 4}
	sort.SliceStable(conds, func(i, j int) bool {
		oi, ok1 := order[conds[i].Type]
		oj, ok2 := order[conds[j].Type]
		if !ok1 {
			oi = 10
		}
		if !ok2 {
			oj = 10
		}
		return oi < oj
	})
	st.Conditions = conds
	return st
}

// ownCondition reports whether the node agent owns a pod condition.
func ownCondition(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady:
		return true
	}
	return false
}

func isTerminalPhase(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

// containerStatus reports one container. initDone tells a regular container
// whether it may have started yet.
func (in statusInput) containerStatus(c *corev1.Container, isInit, initDone bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: normalizeImage(c.Image)}
	for _, m := range c.VolumeMounts {
		vm := corev1.VolumeMountStatus{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly}
		if m.ReadOnly {
			d := corev1.RecursiveReadOnlyDisabled
			vm.RecursiveReadOnly = &d
		}
		cs.VolumeMounts = append(cs.VolumeMounts, vm)
	}
	rs := in.rs
	cur := rs.latest(c.Name)
	prev := rs.previous(c.Name, cur)
	if cur != nil {
		cs.RestartCount = int32(cur.Attempt)
	} else if prev != nil {
		cs.RestartCount = int32(prev.Attempt) + 1
		if prev.State == runtimeRunning {
			cs.RestartCount = int32(prev.Attempt)
		}
	}
	if prev != nil && prev.State == runtimeapi.ContainerState_CONTAINER_EXITED {
		cs.LastTerminationState = corev1.ContainerState{Terminated: in.terminated(c, prev)}
	}
	wait, hasWait := in.waiting[c.Name]
	switch {
	case cur == nil:
		switch {
		case hasWait:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: wait.Reason, Message: wait.Message}
		case !isInit && !initDone:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		if cur == nil && prev != nil && prev.State == runtimeapi.ContainerState_CONTAINER_EXITED && !hasWait && in.podFailure == nil && isTerminalPhase(in.pod.Status.Phase) {
			cs.State = corev1.ContainerState{Terminated: in.terminated(c, prev)}
			cs.LastTerminationState = corev1.ContainerState{}
		}
		if in.podFailure != nil && !hasWait {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: in.podFailure.Reason, Message: in.podFailure.Message}
		}
	default:
		cs.ContainerID = in.runtime + "://" + cur.ID
		if cur.Status != nil {
			cs.ImageID = cur.Status.ImageRef
		}
		switch cur.State {
		case runtimeRunning:
			started := cur.Status.GetStartedAt()
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(unixNano(started))}
			ready, startedOK := true, true
			if in.probe != nil {
				ready, startedOK = in.probe(in.pod, c, cur.ID)
			}
			cs.Started = &startedOK
			cs.Ready = ready && startedOK && !isInit
			if isInit {
				f := false
				cs.Started = &f
			}
		case runtimeapi.ContainerState_CONTAINER_EXITED:
			term := in.terminated(c, cur)
			if hasWait {
				cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: wait.Reason, Message: wait.Message}
				cs.LastTerminationState = corev1.ContainerState{Terminated: term}
			} else {
				cs.State.Terminated = term
			}
			f := false
			cs.Started = &f
		default:
			reason := "ContainerCreating"
			if hasWait {
				reason = wait.Reason
			}
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: wait.Message}
			f := false
			cs.Started = &f
		}
	}
	if isInit {
		// Init containers report started only while running (never ready).
		cs.Ready = cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0
	}
	return cs
}

// terminated reports a finished container.
func (in statusInput) terminated(c *corev1.Container, rec *containerRecord) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{ContainerID: in.runtime + "://" + rec.ID}
	if s := rec.Status; s != nil {
		t.ExitCode = s.ExitCode
		t.Reason = s.Reason
		t.StartedAt = metav1.NewTime(unixNano(s.StartedAt))
		t.FinishedAt = metav1.NewTime(unixNano(s.FinishedAt))
		if s.StartedAt == 0 {
			t.StartedAt = metav1.Time{}
		}
	}
	if t.Reason == "" {
		t.Reason = "Completed"
		if t.ExitCode != 0 {
			t.Reason = "Error"
		}
	}
	if in.message != nil {
		t.Message = in.message(c, rec)
	}
	return t
}

// podPhase follows the container states: Pending until every init container
// succeeded and every container has started, Running while any runs (or will
// be restarted), then Succeeded or Failed by exit codes and restart policy.
func podPhase(pod *corev1.Pod, inits, containers []corev1.ContainerStatus) corev1.PodPhase {
	policy := pod.Spec.RestartPolicy
	if policy == "" {
		policy = corev1.RestartPolicyAlways
	}
	for _, s := range inits {
		t := s.State.Terminated
		if t == nil && s.State.Waiting != nil {
			t = s.LastTerminationState.Terminated
			if t != nil && t.ExitCode == 0 {
				t = nil
			}
		}
		if t != nil && t.ExitCode != 0 && policy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
	}
	for _, s := range inits {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			return corev1.PodPending
		}
	}
	var running, waiting, stopped, succeeded, failed int
	for _, s := range containers {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			} else {
				failed++
			}
		case s.State.Waiting != nil:
			if lt := s.LastTerminationState.Terminated; lt != nil {
				stopped++
				if lt.ExitCode == 0 {
					succeeded++
				} else {
					failed++
				}
			} else {
				waiting++
			}
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0 && stopped == len(containers):
		switch policy {
		case corev1.RestartPolicyAlways:
			return corev1.PodRunning
		case corev1.RestartPolicyOnFailure:
			if failed == 0 {
				return corev1.PodSucceeded
			}
			return corev1.PodRunning
		default:
			if failed > 0 {
				return corev1.PodFailed
			}
			return corev1.PodSucceeded
		}
	}
	return corev1.PodPending
}

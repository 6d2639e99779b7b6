package hollow

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations that change how a hollow node plays a pod (tests of the controllers
// use them to make pods run longer or fail).
const (
	// LifetimeAnnotation overrides how long a pod with restartPolicy Never or
	// OnFailure runs before it ends (a Go duration, e.g. "30s").
	LifetimeAnnotation = "hollow.tug.io/lifetime"
	// ExitCodeAnnotation is the exit code such a pod's containers end with
	// (default 0: Succeeded; anything else: Failed).
	ExitCodeAnnotation = "hollow.tug.io/exit-code"
)

// action is what a hollow node does next with a pod.
type action int

const (
	actNone   action = iota
	actStart         // report it running
	actFinish        // report it ended
	actDelete        // it is being deleted: stop it and remove it
)

func (a action) String() string {
	return [...]string{"none", "start", "finish", "delete"}[a]
}

// decide is the whole life of a hollow pod: a pure function of the pod and the
// time. wait, when positive, is how long until the pod needs another look.
func decide(pod *corev1.Pod, now time.Time, defaultLifetime time.Duration) (act action, wait time.Duration) {
	if pod.DeletionTimestamp != nil {
		return actDelete, 0
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return actNone, 0
	}
	if pod.Status.Phase != corev1.PodRunning || pod.Status.StartTime == nil || !podReady(pod) {
		// Not started yet, or its readiness was taken away while the node was
		// silent: report it running (again).
		return actStart, 0
	}
	if len(pod.Status.EphemeralContainerStatuses) < len(pod.Spec.EphemeralContainers) {
		// kubectl debug added a container: report it running too.
		return actStart, 0
	}
	if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == "" {
		return actNone, 0
	}
	end := pod.Status.StartTime.Add(lifetimeOf(pod, defaultLifetime))
	if now.Before(end) {
		return actNone, end.Sub(now)
	}
	return actFinish, 0
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func lifetimeOf(pod *corev1.Pod, def time.Duration) time.Duration {
	if v, ok := pod.Annotations[LifetimeAnnotation]; ok {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			return d
		}
	}
	return def
}

func exitCodeOf(pod *corev1.Pod) int32 {
	if v, ok := pod.Annotations[ExitCodeAnnotation]; ok {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			return int32(n)
		}
	}
	return 0
}

// containerID names a hollow container.
func containerID(pod *corev1.Pod, name string) string {
	return fmt.Sprintf("hollow://%s/%s", pod.UID, name)
}

func setCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			if st.Conditions[i].Status == c.Status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

// runningStatus is the status of a pod whose containers all started at now (or
// at its start time, when it was reported running before): init containers
// completed, sidecars and containers running and ready.
func runningStatus(pod *corev1.Pod, hostIP, podIP string, now time.Time) corev1.PodStatus {
	changed := metav1.NewTime(now)
	t := changed
	if pod.Status.StartTime != nil && pod.Status.Phase == corev1.PodRunning {
		t = *pod.Status.StartTime
	}
	st := *pod.Status.DeepCopy()
	st.Phase = corev1.PodRunning
	st.Reason, st.Message = "", ""
	st.HostIP = hostIP
	st.HostIPs = []corev1.HostIP{{IP: hostIP}}
	if podIP != "" {
		st.PodIP = podIP
		st.PodIPs = []corev1.PodIP{{IP: podIP}}
	}
	st.StartTime = &t
	for _, ty := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled} {
		setCondition(&st, corev1.PodCondition{Type: ty, Status: corev1.ConditionTrue, LastTransitionTime: changed})
	}
	st.InitContainerStatuses = nil
	for _, c := range pod.Spec.InitContainers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(pod, c.Name)}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			started := true
			cs.Ready, cs.Started = true, &started
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: t}
		} else {
			started := false
			cs.Ready, cs.Started = true, &started
			cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: t, FinishedAt: t, ContainerID: cs.ContainerID}
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		started := true
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(pod, c.Name),
			Ready: true, Started: &started, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t}},
		})
	}
	// Ephemeral containers run from when they were added (never ready, as on a
	// real node); those reported before keep their state.
	old := st.EphemeralContainerStatuses
	st.EphemeralContainerStatuses = nil
	for _, ec := range pod.Spec.EphemeralContainers {
		cs := corev1.ContainerStatus{
			Name: ec.Name, Image: ec.Image, ImageID: imageID(ec.Image), ContainerID: containerID(pod, ec.Name),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: changed}},
		}
		for _, o := range old {
			if o.Name == ec.Name {
				cs = o
			}
		}
		st.EphemeralContainerStatuses = append(st.EphemeralContainerStatuses, cs)
	}
	return st
}

// finishedStatus is the status of a running pod whose containers all exited with
// code at now: Succeeded for 0, Failed otherwise.
func finishedStatus(pod *corev1.Pod, code int32, now time.Time) corev1.PodStatus {
	t := metav1.NewTime(now)
	st := *pod.Status.DeepCopy()
	phase, reason := corev1.PodSucceeded, "Completed"
	if code != 0 {
		phase, reason = corev1.PodFailed, "Error"
	}
	st.Phase = phase
	for _, ty := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
		setCondition(&st, corev1.PodCondition{Type: ty, Status: corev1.ConditionFalse, Reason: "PodCompleted", LastTransitionTime: t})
	}
	setCondition(&st, corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionFalse, LastTransitionTime: t})
	end := func(cs *corev1.ContainerStatus) {
		started := metav1.Time{}
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		} else if cs.State.Terminated != nil {
			return // an init container that completed earlier
		}
		f := false
		cs.Ready, cs.Started = false, &f
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: t, ContainerID: cs.ContainerID,
		}}
	}
	for i := range st.InitContainerStatuses {
		end(&st.InitContainerStatuses[i])
	}
	for i := range st.ContainerStatuses {
		end(&st.ContainerStatuses[i])
	}
	for i := range st.EphemeralContainerStatuses {
		end(&st.EphemeralContainerStatuses[i])
	}
	return st
}

// imageID is a stable made-up digest reference for an image.
func imageID(image string) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(image); i++ {
		h ^= uint64(image[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("%s@sha256:%016x%016x%016x%016x", image, h, h^0x9e3779b97f4a7c15, h*31, h*131)
}

package kubelet

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Ephemeral containers (kubectl debug) join a pod that already runs. Each is
// started once in the pod's sandbox and never restarted: one that exited, or
// that ran in a sandbox since replaced, stays as it ended. They start whatever
// the state of the init containers, since a debugger is most wanted when a pod
// is stuck. With a target container, the debugger sees that container's
// processes (it joins the target's PID namespace).

// asContainer views an ephemeral container as a Container: the two types have
// the same fields, so the pointer refers to the pod's own spec.
func asContainer(ec *corev1.EphemeralContainer) *corev1.Container {
	return (*corev1.Container)(&ec.EphemeralContainerCommon)
}

// startEphemeral starts the ephemeral containers that never ran, with start
// (runPod's), and returns when to look again (0: on the next change).
func (w *podWorker) startEphemeral(ctx context.Context, pod *corev1.Pod, rs *podRuntime, start func(c *corev1.Container, isInit bool) time.Duration) time.Duration {
	var next time.Duration
	sooner := func(d time.Duration) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	sb := rs.newestSandbox()
	for i := range pod.Spec.EphemeralContainers {
		ec := &pod.Spec.EphemeralContainers[i]
		c := asContainer(ec)
		if rec := rs.previous(c.Name, nil); rec != nil {
			// Created but never started (the agent stopped in between): start
			// it now. Anything else has run and is left alone.
			if rec.State == runtimeapi.ContainerState_CONTAINER_CREATED && sb != nil && rec.SandboxID == sb.Id {
				sooner(w.startExisting(ctx, pod, c, rec))
			}
			continue
		}
		if t := ec.TargetContainerName; t != "" && sharesTargetPID(pod) {
			if tr := rs.latest(t); tr == nil || tr.State != runtimeRunning {
				w.waiting[c.Name] = waitInfo{Reason: "ContainerCreating", Message: fmt.Sprintf("waiting for target container %q to run", t)}
				sooner(time.Second)
				continue
			}
		}
		sooner(start(c, false))
	}
	return next
}

// sharesTargetPID reports whether an ephemeral container of the pod joins its
// target's PID namespace: only when each container has its own (with a shared
// process namespace or the host's, it already sees the target's processes).
func sharesTargetPID(pod *corev1.Pod) bool {
	return namespaceOptions(pod).Pid == runtimeapi.NamespaceMode_CONTAINER
}

// joinTarget points an ephemeral container's runtime config at its target
// container's PID namespace. Other containers are left as they are.
func joinTarget(pod *corev1.Pod, name string, rs *podRuntime, cfg *runtimeapi.ContainerConfig) {
	target := ""
	for _, ec := range pod.Spec.EphemeralContainers {
		if ec.Name == name {
			target = ec.TargetContainerName
		}
	}
	if target == "" || !sharesTargetPID(pod) || cfg.Linux == nil || cfg.Linux.SecurityContext == nil {
		return
	}
	tr := rs.latest(target)
	if tr == nil {
		return
	}
	ns := cfg.Linux.SecurityContext.NamespaceOptions
	if ns == nil {
		ns = namespaceOptions(pod)
		cfg.Linux.SecurityContext.NamespaceOptions = ns
	}
	ns.Pid = runtimeapi.NamespaceMode_TARGET
	ns.TargetId = tr.ID
}

// ephemeralStatuses reports the pod's ephemeral containers. They are never
// ready and never restarted; one that ran in an earlier sandbox is reported as
// it ended there.
func (in statusInput) ephemeralStatuses() []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for i := range in.pod.Spec.EphemeralContainers {
		cs := in.containerStatus(asContainer(&in.pod.Spec.EphemeralContainers[i]), false, true)
		if t := cs.LastTerminationState.Terminated; t != nil && cs.State.Waiting != nil {
			cs.State, cs.LastTerminationState = corev1.ContainerState{Terminated: t}, corev1.ContainerState{}
			cs.ContainerID = t.ContainerID
		}
		cs.Ready, cs.Started, cs.RestartCount = false, nil, 0
		out = append(out, cs)
	}
	return out
}

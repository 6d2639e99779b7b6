package kubelet

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// withDebugger adds an ephemeral container (as kubectl debug does) to a copy of pod.
func withDebugger(pod *corev1.Pod, name, target string) *corev1.Pod {
	p := pod.DeepCopy()
	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: name, Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sh"},
			Stdin: true, TTY: true, TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		},
		TargetContainerName: target,
	})
	return p
}

func ephemeralStatus(t *testing.T, st corev1.PodStatus, name string) corev1.ContainerStatus {
	t.Helper()
	for _, cs := range st.EphemeralContainerStatuses {
		if cs.Name == name {
			return cs
		}
	}
	t.Fatalf("no status for ephemeral container %s in %+v", name, st.EphemeralContainerStatuses)
	return corev1.ContainerStatus{}
}

// A running pod that gains an ephemeral container starts it once in its
// sandbox, sharing the target's process namespace, and never restarts it.
func TestEphemeralContainerRunsOnce(t *testing.T) {
	for _, policy := range []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyNever} {
		for _, code := range []int32{0, 3} {
			t.Run(string(policy)+"/"+string(rune('0'+code)), func(t *testing.T) {
				n := newTestNode(t)
				pod := testPod("web", func(p *corev1.Pod) {
					p.Spec.RestartPolicy = policy
					p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
				})
				n.sync(t, pod)
				target := n.rt.byName("c")
				sandbox := target.c.PodSandboxId
				n.rt.takeCalls()

				dbg := withDebugger(pod, "debugger", "c")
				n.sync(t, dbg)
				calls := n.rt.takeCalls()
				if !hasCall(calls, "CreateContainer debugger/0") || !hasCall(calls, "StartContainer debugger") || hasCall(calls, "RunPodSandbox") ||
					hasCall(calls, "StopContainer") || hasCall(calls, "CreateContainer c") {
					t.Fatalf("calls %v: want only the debugger created and started", calls)
				}
				fc := n.rt.byName("debugger")
				cfg := fc.cfg
				ns := cfg.Linux.SecurityContext.NamespaceOptions
				if fc.c.PodSandboxId != sandbox || ns.Pid != runtimeapi.NamespaceMode_TARGET || ns.TargetId != target.c.Id || ns.Network != runtimeapi.NamespaceMode_POD {
					t.Errorf("debugger in sandbox %s (want %s) with namespaces %+v, want pid TARGET of %s", fc.c.PodSandboxId, sandbox, ns, target.c.Id)
				}
				if !cfg.Stdin || !cfg.Tty || cfg.Labels[labelContainerName] != "debugger" || cfg.Linux.Resources.MemoryLimitInBytes != 0 || cfg.Linux.Resources.CpuQuota != 0 {
					t.Errorf("debugger config: stdin %v tty %v labels %v resources %+v", cfg.Stdin, cfg.Tty, cfg.Labels, cfg.Linux.Resources)
				}
				if target.cfg.Linux.SecurityContext.NamespaceOptions.Pid != runtimeapi.NamespaceMode_CONTAINER {
					t.Error("the target's own namespaces changed")
				}

				st := n.status(t, pod.UID)
				es := ephemeralStatus(t, st, "debugger")
				if es.State.Running == nil || es.ContainerID != "containerd://"+fc.c.Id || es.Image != "docker.io/library/busybox:latest" ||
					es.ImageID != "sha256:bb" || es.Ready || es.Started != nil || es.RestartCount != 0 {
					t.Errorf("running debugger status %+v", es)
				}
				if st.Phase != corev1.PodRunning || len(st.ContainerStatuses) != 1 || !st.ContainerStatuses[0].Ready {
					t.Errorf("the debugger changed the pod's own status: phase %s containers %+v", st.Phase, st.ContainerStatuses)
				}

				n.rt.exit(fc.c.Id, code, "")
				n.clock.Step(20 * time.Second) // past any back-off
				for i := 0; i < 3; i++ {
					n.sync(t, dbg)
				}
				if calls := n.rt.takeCalls(); hasCall(calls, "CreateContainer") || hasCall(calls, "StartContainer") {
					t.Fatalf("calls %v after the debugger exited: it must not be restarted", calls)
				}
				st = n.status(t, pod.UID)
				es = ephemeralStatus(t, st, "debugger")
				if es.State.Terminated == nil || es.State.Terminated.ExitCode != code || es.RestartCount != 0 || es.ContainerID != "containerd://"+fc.c.Id {
					t.Errorf("exited debugger status %+v", es)
				}
				if st.Phase != corev1.PodRunning {
					t.Errorf("a finished debugger ended the pod: phase %s", st.Phase)
				}
			})
		}
	}
}

// An agent that starts again (a fresh worker and runtime cache over the same
// runtime) adopts ephemeral containers, running or exited, and starts none of
// them again.
func TestEphemeralContainerAdoptedAfterRestart(t *testing.T) {
	n := newTestNode(t)
	pod := withDebugger(withDebugger(testPod("web", nil), "running", ""), "done", "")
	n.sync(t, pod)
	n.rt.exit(n.rt.byName("done").c.Id, 0, "")
	n.rt.takeCalls()

	n.k.mu.Lock()
	delete(n.k.workers, pod.UID)
	n.k.mu.Unlock()
	n.k.cache = newRuntimeCache()
	n.k.status.forget(pod.UID)
	n.sync(t, pod)
	if calls := n.rt.takeCalls(); hasCall(calls, "CreateContainer") || hasCall(calls, "StartContainer") || hasCall(calls, "StopContainer") {
		t.Fatalf("calls %v: the new worker must adopt what runs", calls)
	}
	st := n.status(t, pod.UID)
	if es := ephemeralStatus(t, st, "running"); es.State.Running == nil {
		t.Errorf("running debugger: %+v", es)
	}
	if es := ephemeralStatus(t, st, "done"); es.State.Terminated == nil || es.State.Terminated.Reason != "Completed" {
		t.Errorf("finished debugger: %+v", es)
	}
}

// Ephemeral containers start while init containers still run (debugging a
// stuck pod), and one created but never started is started.
func TestEphemeralContainerDuringInit(t *testing.T) {
	n := newTestNode(t)
	pod := testPod("stuck", func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "wait", Image: "busybox"}}
	})
	n.sync(t, pod)
	n.rt.takeCalls()
	dbg := withDebugger(pod, "debugger", "wait")
	n.sync(t, dbg)
	calls := n.rt.takeCalls()
	if !hasCall(calls, "StartContainer debugger") || hasCall(calls, "CreateContainer c") {
		t.Fatalf("calls %v: want the debugger started while the init container runs", calls)
	}
	if ns := n.rt.byName("debugger").cfg.Linux.SecurityContext.NamespaceOptions; ns.TargetId != n.rt.byName("wait").c.Id {
		t.Errorf("debugger namespaces %+v: want the init container's", ns)
	}
	if st := n.status(t, pod.UID); st.Phase != corev1.PodPending {
		t.Errorf("phase %s while initializing", st.Phase)
	}

	// Created by an agent that stopped before starting it.
	late := withDebugger(dbg, "late", "")
	cfg, err := n.k.containerConfig(late, asContainer(&late.Spec.EphemeralContainers[1]), 0, false, "sha256:bb", nil, nil, "10.244.0.7")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.rt.CreateContainer(context.Background(), n.rt.byName("wait").c.PodSandboxId, cfg, nil); err != nil {
		t.Fatal(err)
	}
	n.rt.takeCalls()
	n.sync(t, late)
	calls = n.rt.takeCalls()
	if !hasCall(calls, "StartContainer late") || hasCall(calls, "CreateContainer") {
		t.Fatalf("calls %v: want the created debugger started, nothing new created", calls)
	}
}

// A debugger whose target has not started waits for it (and says so); in a pod
// that shares one process namespace it joins that and needs no target.
func TestEphemeralContainerTargets(t *testing.T) {
	t.Run("target not running yet", func(t *testing.T) {
		n := newTestNode(t)
		pod := testPod("web", func(p *corev1.Pod) { p.Spec.InitContainers = []corev1.Container{{Name: "wait", Image: "busybox"}} })
		n.sync(t, pod)
		dbg := withDebugger(pod, "debugger", "c")
		n.rt.takeCalls()
		next := n.sync(t, dbg)
		if hasCall(n.rt.takeCalls(), "CreateContainer debugger") {
			t.Fatal("debugger started before its target")
		}
		if next <= 0 {
			t.Errorf("next sync %s: want a retry", next)
		}
		es := ephemeralStatus(t, n.status(t, pod.UID), "debugger")
		if w := es.State.Waiting; w == nil || w.Reason != "ContainerCreating" || !strings.Contains(w.Message, `"c"`) {
			t.Errorf("waiting debugger status %+v", es)
		}
		n.rt.exit(n.rt.byName("wait").c.Id, 0, "")
		n.sync(t, dbg) // starts c
		n.sync(t, dbg) // c runs: the debugger joins it
		if fc := n.rt.byName("debugger"); fc == nil || fc.cfg.Linux.SecurityContext.NamespaceOptions.TargetId != n.rt.byName("c").c.Id {
			t.Fatal("debugger not started once its target ran")
		}
	})
	t.Run("shared process namespace", func(t *testing.T) {
		n := newTestNode(t)
		share := true
		pod := testPod("web", func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = &share })
		n.sync(t, pod)
		n.sync(t, withDebugger(pod, "debugger", "c"))
		ns := n.rt.byName("debugger").cfg.Linux.SecurityContext.NamespaceOptions
		if ns.Pid != runtimeapi.NamespaceMode_POD || ns.TargetId != "" {
			t.Errorf("namespaces %+v: want the pod's shared PID namespace", ns)
		}
	})
}

// A sandbox that is replaced takes the debugger with it; the debugger is not
// started again in the new sandbox and keeps reporting how it ended.
func TestEphemeralContainerNotRestartedWithNewSandbox(t *testing.T) {
	n := newTestNode(t)
	pod := withDebugger(testPod("web", nil), "debugger", "")
	n.sync(t, pod)
	first := n.rt.byName("debugger").c.Id
	// The sandbox died (with its containers).
	_ = n.rt.StopPodSandbox(context.Background(), n.rt.byName("c").c.PodSandboxId)
	n.rt.exit(first, 137, "")
	n.rt.exit(n.rt.byName("c").c.Id, 137, "")
	n.rt.takeCalls()
	n.sync(t, pod)
	calls := n.rt.takeCalls()
	if !hasCall(calls, "RunPodSandbox") || !hasCall(calls, "CreateContainer c/1") || hasCall(calls, "CreateContainer debugger") {
		t.Fatalf("calls %v: want a new sandbox and c again, not the debugger", calls)
	}
	es := ephemeralStatus(t, n.status(t, pod.UID), "debugger")
	if es.State.Terminated == nil || es.State.Terminated.ExitCode != 137 || es.ContainerID != "containerd://"+first {
		t.Errorf("debugger status after a new sandbox %+v", es)
	}
}

// Events about an ephemeral container point at it in the pod's spec.
func TestRefForEphemeralContainer(t *testing.T) {
	pod := withDebugger(testPod("web", nil), "debugger", "")
	ref := refFor(pod, findContainer(pod, "debugger"))
	if ref.FieldPath != "spec.ephemeralContainers{debugger}" {
		t.Errorf("fieldPath %q", ref.FieldPath)
	}
}

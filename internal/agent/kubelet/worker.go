package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"tug/internal/agent/cri"
)

// podWorker owns one pod: only it changes the pod's containers, so decisions
// never race. It syncs whenever something about the pod changes (the API
// object, a runtime event, a probe result) or a timer it set runs out.
type podWorker struct {
	k   *Kubelet
	uid types.UID

	mu      sync.Mutex
	pod     *corev1.Pod
	removed bool
	// static pods report status through their mirror pod.
	static bool

	wake chan struct{}
	// waiting says why containers are not running, by container name.
	waiting map[string]waitInfo
	// podFailure says why the pod as a whole cannot start.
	podFailure *waitInfo
	// warned remembers the last warning event per reason, so a failure that
	// repeats every sync is reported once.
	warned map[string]string
	// deleteRequested marks that the final delete was sent.
	deleteRequested bool
	// sandboxStopped marks a finished pod's sandbox as released.
	sandboxStopped bool
}

func newPodWorker(k *Kubelet, pod *corev1.Pod) *podWorker {
	return &podWorker{k: k, uid: pod.UID, pod: pod, wake: make(chan struct{}, 1), waiting: map[string]waitInfo{}, warned: map[string]string{}}
}

func (w *podWorker) update(pod *corev1.Pod, removed bool) {
	w.mu.Lock()
	if pod != nil {
		w.pod = pod
	}
	w.removed = w.removed || removed
	w.mu.Unlock()
	w.kick()
}

func (w *podWorker) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) run() {
	k := w.k
	ctx := k.ctx
	select {
	case <-k.started:
	case <-ctx.Done():
		return
	}
	timer := k.clock.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C():
		}
		next, done := w.sync(ctx)
		if done {
			k.workerDone(w.uid)
			return
		}
		timer.Stop()
		if next > 0 {
			timer.Reset(next)
		}
	}
}

func (w *podWorker) snapshot() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod.DeepCopy(), w.removed
}

// sync brings the pod's containers to what the pod asks for, then reports
// status. It returns when to sync again (0: only on the next change) and
// whether the pod is gone for good.
func (w *podWorker) sync(ctx context.Context) (time.Duration, bool) {
	k := w.k
	pod, removed := w.snapshot()
	rs, err := podState(ctx, k.rt, k.cache, w.uid)
	if err != nil {
		slog.Warn("read pod state from the runtime", "pod", podKey(pod), "err", err)
		return 2 * time.Second, false
	}
	k.noteContainers(w.uid, rs)
	for _, c := range rs.containers {
		if c.State == runtimeRunning && k.exitPending(c.ID) {
			// The exit event outran the runtime's own bookkeeping.
			return 20 * time.Millisecond, false
		}
		if c.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			k.clearExit(c.ID)
		}
	}

	if removed {
		w.terminate(ctx, pod, rs, gracePeriod(pod))
		if err := k.removePodFromRuntime(ctx, w.uid, 0); err != nil {
			slog.Warn("remove pod's containers", "pod", podKey(pod), "err", err)
			return 2 * time.Second, false
		}
		if err := teardownVolumes(k.podDirs(w.uid)); err != nil {
			slog.Warn("remove pod volumes", "pod", podKey(pod), "err", err)
		}
		_ = RemoveCgroups(k.podCgroup(pod.UID), false)
		k.probes.removePod(w.uid)
		k.backoff.ResetPrefix(string(w.uid) + "/")
		k.status.forget(w.uid)
		slog.Debug("pod removed", "pod", podKey(pod))
		return 0, true
	}

	if pod.DeletionTimestamp != nil {
		grace := gracePeriod(pod)
		if pod.DeletionGracePeriodSeconds != nil {
			grace = *pod.DeletionGracePeriodSeconds
		}
		w.terminate(ctx, pod, rs, grace)
		if rs2, err := podState(ctx, k.rt, k.cache, w.uid); err == nil {
			rs = rs2
		}
		if anyRunning(rs) {
			return time.Second, false
		}
		w.publish(pod, rs)
		if !w.static && !w.deleteRequested {
			// Everything stopped: the API object may go now.
			zero := int64(0)
			uid := pod.UID
			dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := k.client.CoreV1().Pods(pod.Namespace).Delete(dctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
			cancel()
			if err != nil && !isNotFound(err) {
				slog.Warn("delete terminated pod", "pod", podKey(pod), "err", err)
				return 2 * time.Second, false
			}
			w.deleteRequested = true
		}
		return 0, false
	}

	if isTerminalPhase(pod.Status.Phase) {
		// A finished pod keeps its exited containers (for logs) until deleted,
		// but gives back its address.
		w.terminate(ctx, pod, rs, gracePeriod(pod))
		if !w.sandboxStopped {
			for _, sb := range rs.sandboxes {
				if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
					_ = k.rt.StopPodSandbox(ctx, sb.Id)
				}
			}
			w.sandboxStopped = true
		}
		k.probes.removePod(w.uid)
		return 0, false
	}

	t0 := k.clock.Now()
	requeue, changed := w.runPod(ctx, pod, rs)
	if changed {
		slog.Debug("pod synced", "pod", podKey(pod), "took", k.clock.Since(t0))
		if rs2, err := podState(ctx, k.rt, k.cache, w.uid); err == nil {
			rs = rs2
			k.noteContainers(w.uid, rs)
		}
	}
	k.probes.syncPod(pod, rs)
	st := w.publish(pod, rs)
	if isTerminalPhase(st.Phase) {
		// Finished: release what the pod holds now, not on the next change.
		w.mu.Lock()
		w.pod.Status.Phase = st.Phase
		w.mu.Unlock()
		return time.Millisecond, false
	}
	return requeue, false
}

func anyRunning(rs *podRuntime) bool {
	for _, c := range rs.containers {
		if c.State == runtimeRunning || c.State == runtimeapi.ContainerState_CONTAINER_CREATED {
			return true
		}
	}
	return false
}

// publish computes the pod's status and hands it to the status manager.
func (w *podWorker) publish(pod *corev1.Pod, rs *podRuntime) corev1.PodStatus {
	k := w.k
	in := statusInput{
		pod: w.statusBase(pod), rs: rs, waiting: w.waiting, podFailure: w.podFailure,
		probe:   k.probes.results,
		message: k.terminationMessage,
		hostIP:  k.hostIP(),
		runtime: k.runtimeName(),
		now:     metav1.NewTime(k.clock.Now()),
	}
	st := computeStatus(in)
	ns, name, uid := pod.Namespace, pod.Name, pod.UID
	if w.static {
		m := k.static.mirrorFor(pod)
		if m == nil {
			return st
		}
		uid = m.UID
	}
	k.status.set(ns, name, uid, st)
	return st
}

// statusBase is the pod as the status computation should see it: for static
// pods, the mirror's status holds what was last reported.
func (w *podWorker) statusBase(pod *corev1.Pod) *corev1.Pod {
	if w.static {
		if m := w.k.static.mirrorFor(pod); m != nil {
			p := pod.DeepCopy()
			p.Status = *m.Status.DeepCopy()
			return p
		}
	}
	// What this agent wrote last is newer than what the informer may have
	// delivered yet; conditions others own still come from the API object.
	if st, ok := w.k.status.lastWritten(pod.UID); ok {
		p := pod.DeepCopy()
		p.Status = *st.DeepCopy()
		p.Status.Conditions = nil
		for _, c := range st.Conditions {
			if ownCondition(c.Type) {
				p.Status.Conditions = append(p.Status.Conditions, c)
			}
		}
		for _, c := range pod.Status.Conditions {
			if !ownCondition(c.Type) {
				p.Status.Conditions = append(p.Status.Conditions, c)
			}
		}
		if isTerminalPhase(pod.Status.Phase) {
			p.Status.Phase = pod.Status.Phase
		}
		return p
	}
	return pod
}

// terminate stops every running container of the pod, running preStop hooks,
// within the grace period.
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod, rs *podRuntime, grace int64) {
	var wg sync.WaitGroup
	for _, c := range rs.containers {
		if c.State != runtimeRunning && c.State != runtimeapi.ContainerState_CONTAINER_CREATED {
			continue
		}
		wg.Add(1)
		go func(rec *containerRecord) {
			defer wg.Done()
			spec := findContainer(pod, rec.Name)
			w.k.killContainer(ctx, pod, spec, rec, grace, "")
		}(c)
	}
	wg.Wait()
}

// gracePeriod is the pod's termination grace period in seconds.
func gracePeriod(pod *corev1.Pod) int64 {
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// runPod makes the runtime match the pod: volumes, sandbox, init containers in
// order, then containers. It reports when to look again and whether it changed
// anything.
func (w *podWorker) runPod(ctx context.Context, pod *corev1.Pod, rs *podRuntime) (time.Duration, bool) {
	k := w.k
	changed := false
	vctx, vcancel := context.WithTimeout(ctx, 30*time.Second)
	paths, err := setupVolumes(vctx, pod, k.podDirs(pod.UID), k.volumeSources())
	vcancel()
	if err != nil {
		w.podFailure = &waitInfo{Reason: "ContainerCreating"}
		w.warnOnce(pod, "", corev1.EventTypeWarning, "FailedMount", err.Error())
		return 5 * time.Second, false
	}
	w.podFailure = nil
	sb := rs.newestSandbox()
	if sb == nil || sb.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		if sb != nil {
			// The sandbox died: its containers go with it and the pod starts over
			// in a new one (containers' restart counts carry on).
			slog.Info("pod sandbox is not ready; recreating", "pod", podKey(pod))
			w.terminate(ctx, pod, rs, 0)
			_ = k.rt.StopPodSandbox(ctx, sb.Id)
			k.recorder.Eventf(pod, corev1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
		}
		key := string(pod.UID) + "/sandbox"
		if sb != nil {
			if left := k.backoff.Remaining(key, unixNano(sb.CreatedAt)); left > 0 {
				return left, changed
			}
		}
		attempt := uint32(len(rs.sandboxes))
		cfg := k.sandboxConfig(pod, attempt)
		if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
			return 2 * time.Second, false
		}
		tsb := k.clock.Now()
		id, err := k.rt.RunPodSandbox(ctx, cfg)
		slog.Debug("sandbox started", "pod", podKey(pod), "took", k.clock.Since(tsb))
		if err != nil {
			k.backoff.Next(key)
			w.podFailure = &waitInfo{Reason: "ContainerCreating"}
			w.warnOnce(pod, "", corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: "+err.Error())
			return 2 * time.Second, true
		}
		if sb != nil {
			k.backoff.Next(key)
		}
		changed = true
		k.mu.Lock()
		k.containerPod[id] = pod.UID
		k.mu.Unlock()
		rs2, err := podState(ctx, k.rt, k.cache, w.uid)
		if err != nil {
			return time.Second, true
		}
		rs = rs2
		sb = rs.newestSandbox()
		if sb == nil {
			return time.Second, true
		}
	}
	sbCfg := k.sandboxConfig(pod, sb.Metadata.GetAttempt())
	// The downward API and the hosts file see the pod's addresses.
	pod.Status.PodIP = rs.sandboxIP
	if rs.sandboxIP != "" {
		pod.Status.PodIPs = []corev1.PodIP{{IP: rs.sandboxIP}}
	}
	pod.Status.HostIP = k.hostIP()
	pod.Status.HostIPs = []corev1.HostIP{{IP: pod.Status.HostIP}}
	if pod.Spec.HostNetwork {
		pod.Status.PodIP = pod.Status.HostIP
	}
	start := func(c *corev1.Container, isInit bool) time.Duration {
		changed = true
		if err := w.startContainer(ctx, pod, c, isInit, rs, sb.Id, sbCfg, paths); err != nil {
			if errors.Is(err, errBackoff) {
				// Look again soon: ErrImagePull turns into ImagePullBackOff, and
				// the back-off's end is computed on the next sync.
				return time.Second
			}
			return 2 * time.Second
		}
		return 0
	}
	policy := pod.Spec.RestartPolicy
	if policy == "" {
		policy = corev1.RestartPolicyAlways
	}
	ephemeralNext := w.startEphemeral(ctx, pod, rs, start)

	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cur := rs.latest(c.Name)
		switch {
		case cur == nil:
			return start(c, true), changed
		case cur.State == runtimeapi.ContainerState_CONTAINER_CREATED:
			return w.startExisting(ctx, pod, c, cur), true
		case cur.State != runtimeapi.ContainerState_CONTAINER_EXITED:
			return ephemeralNext, changed
		case cur.Status.GetExitCode() == 0:
			continue
		case policy == corev1.RestartPolicyNever:
			return ephemeralNext, changed
		default:
			if left := w.crashBackoff(pod, c, cur); left > 0 {
				return left, changed
			}
			return start(c, true), changed
		}
	}

	requeue := time.Duration(0)
	sooner := func(d time.Duration) {
		if d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	sooner(ephemeralNext)
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cur := rs.latest(c.Name)
		switch {
		case cur == nil:
			sooner(start(c, false))
		case cur.State == runtimeRunning:
			delete(w.waiting, c.Name)
			if h := cur.Annotations[annoContainerHash]; h != "" && h != containerHash(c) {
				k.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Container %s definition changed, will be restarted", c.Name)
				k.killContainer(ctx, pod, c, cur, gracePeriod(pod), "")
				changed = true
				sooner(10 * time.Millisecond)
				continue
			}
			if why := k.probes.mustRestart(pod.UID, c.Name, cur.ID); why != "" {
				k.recorder.Eventf(refFor(pod, c), corev1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", c.Name, why)
				k.probes.resetContainer(pod.UID, c.Name)
				k.killContainer(ctx, pod, c, cur, gracePeriod(pod), "")
				changed = true
				sooner(10 * time.Millisecond)
			}
		case cur.State == runtimeapi.ContainerState_CONTAINER_CREATED:
			sooner(w.startExisting(ctx, pod, c, cur))
			changed = true
		case cur.State == runtimeapi.ContainerState_CONTAINER_EXITED:
			if !shouldRestart(policy, cur.Status.GetExitCode()) {
				delete(w.waiting, c.Name)
				continue
			}
			if left := w.crashBackoff(pod, c, cur); left > 0 {
				sooner(left)
				continue
			}
			sooner(start(c, false))
		default:
			sooner(time.Second)
		}
	}
	w.collectGarbage(ctx, rs)
	return requeue, changed
}

func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// crashBackoff tells how long a finished container must wait before it is
// started again, and says so in its status (CrashLoopBackOff).
func (w *podWorker) crashBackoff(pod *corev1.Pod, c *corev1.Container, cur *containerRecord) time.Duration {
	k := w.k
	key := backoffKey(pod.UID, c)
	left := k.backoff.Remaining(key, unixNano(cur.Status.GetFinishedAt()))
	if left <= 0 {
		return 0
	}
	delay := k.backoff.Delay(key)
	msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.Name, pod.Name, pod.Namespace, pod.UID)
	if w.waiting[c.Name].Reason != "CrashLoopBackOff" || w.waiting[c.Name].Message != msg {
		k.recorder.Eventf(refFor(pod, c), corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
	}
	w.waiting[c.Name] = waitInfo{Reason: "CrashLoopBackOff", Message: msg}
	return left
}

func backoffKey(uid types.UID, c *corev1.Container) string {
	return string(uid) + "/" + c.Name + "/" + containerHash(c)
}

var errBackoff = errors.New("in back-off")

// startContainer pulls (as the policy says), creates and starts one container,
// then runs its postStart hook.
func (w *podWorker) startContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, isInit bool, rs *podRuntime, sandboxID string, sbCfg *runtimeapi.PodSandboxConfig, paths map[string]string) error {
	k := w.k
	ref := refFor(pod, c)
	imageRef, err := k.ensureImage(ctx, w, pod, c, sbCfg)
	if err != nil {
		return err
	}
	env, err := containerEnv(pod, c, envSources{configMap: k.configMap, secret: k.secret, services: k.serviceLinks(pod), allocatable: k.allocatable()})
	if err != nil {
		w.waiting[c.Name] = waitInfo{Reason: "CreateContainerConfigError", Message: err.Error()}
		w.warnOnce(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return err
	}
	attempt := rs.nextAttempt(c.Name)
	cfg, err := k.containerConfig(pod, c, attempt, isInit, imageRef, env, paths, rs.sandboxIP)
	if err != nil {
		w.waiting[c.Name] = waitInfo{Reason: "CreateContainerConfigError", Message: err.Error()}
		w.warnOnce(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return err
	}
	joinTarget(pod, c.Name, rs, cfg)
	tc := k.clock.Now()
	id, err := k.rt.CreateContainer(ctx, sandboxID, cfg, sbCfg)
	slog.Debug("container created", "pod", podKey(pod), "container", c.Name, "took", k.clock.Since(tc))
	if err != nil {
		w.waiting[c.Name] = waitInfo{Reason: "CreateContainerError", Message: err.Error()}
		w.warnOnce(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: "+err.Error())
		return err
	}
	k.mu.Lock()
	k.containerPod[id] = pod.UID
	k.mu.Unlock()
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Created", "Created container %s", c.Name)
	if attempt > 0 {
		k.backoff.Next(backoffKey(pod.UID, c))
	}
	tc = k.clock.Now()
	err = k.rt.StartContainer(ctx, id)
	slog.Debug("container started", "pod", podKey(pod), "container", c.Name, "took", k.clock.Since(tc))
	if err != nil {
		w.waiting[c.Name] = waitInfo{Reason: "RunContainerError", Message: err.Error()}
		k.recorder.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		k.backoff.Next(backoffKey(pod.UID, c))
		return err
	}
	delete(w.waiting, c.Name)
	delete(w.warned, c.Name)
	k.recorder.Eventf(ref, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		if msg, err := k.runHook(ctx, pod, c, id, rs.sandboxIP, c.Lifecycle.PostStart, gracePeriod(pod)); err != nil {
			k.recorder.Eventf(ref, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %s", msg)
			rec := &containerRecord{ID: id, Name: c.Name, State: runtimeRunning}
			k.killContainer(ctx, pod, c, rec, gracePeriod(pod), "FailedPostStartHook")
		}
	}
	return nil
}

// startExisting starts a container that was created but never started (an
// agent stopped between the two).
func (w *podWorker) startExisting(ctx context.Context, pod *corev1.Pod, c *corev1.Container, cur *containerRecord) time.Duration {
	if err := w.k.rt.StartContainer(ctx, cur.ID); err != nil {
		_ = w.k.rt.RemoveContainer(ctx, cur.ID)
		return 100 * time.Millisecond
	}
	w.k.recorder.Eventf(refFor(pod, c), corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	return 0
}

// collectGarbage removes exited containers beyond the newest two of each name
// (the current one and the one `logs --previous` shows).
func (w *podWorker) collectGarbage(ctx context.Context, rs *podRuntime) {
	seen := map[string]int{}
	for _, c := range rs.containers {
		seen[c.Name]++
		if seen[c.Name] > 2 && c.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			if err := w.k.rt.RemoveContainer(ctx, c.ID); err == nil || cri.IsNotFound(err) {
				w.k.cache.forget(c.ID)
			}
		}
	}
	// Sandboxes other than the newest have no use once stopped.
	for i, sb := range rs.sandboxes {
		if i == 0 || sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			continue
		}
		inUse := false
		for _, c := range rs.containers {
			if c.SandboxID == sb.Id && seen[c.Name] <= 2 {
				inUse = true
			}
		}
		if !inUse {
			_ = w.k.rt.RemovePodSandbox(ctx, sb.Id)
		}
	}
}

// warnOnce records a warning event unless the same one was the last for key.
func (w *podWorker) warnOnce(pod *corev1.Pod, container, eventType, reason, msg string) {
	key := container + "/" + reason
	if w.warned[key] == msg {
		return
	}
	w.warned[key] = msg
	var obj = refFor(pod, findContainer(pod, container))
	w.k.recorder.Event(obj, eventType, reason, msg)
}

// killContainer runs the preStop hook, then stops the container, giving it what
// is left of the grace period before the runtime kills it.
func (k *Kubelet) killContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, rec *containerRecord, grace int64, reason string) {
	if c != nil {
		k.recorder.Eventf(refFor(pod, c), corev1.EventTypeNormal, "Killing", "Stopping container %s", c.Name)
	}
	start := k.clock.Now()
	if c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && rec.State == runtimeRunning && grace > 0 {
		ip := ""
		if st, err := k.rt.PodSandboxStatus(ctx, rec.SandboxID); err == nil {
			ip = st.GetNetwork().GetIp()
		}
		hctx, cancel := context.WithTimeout(ctx, time.Duration(grace)*time.Second)
		if msg, err := k.runHook(hctx, pod, c, rec.ID, ip, c.Lifecycle.PreStop, grace); err != nil {
			k.recorder.Eventf(refFor(pod, c), corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %s", msg)
		}
		cancel()
		used := int64(k.clock.Since(start) / time.Second)
		// The container always gets a moment to take SIGTERM.
		grace = max(grace-used, 2)
	}
	if err := k.rt.StopContainer(ctx, rec.ID, grace); err != nil && !cri.IsNotFound(err) {
		slog.Warn("stop container", "pod", podKey(pod), "container", rec.Name, "err", err)
	}
	k.cache.forget(rec.ID)
}

// refFor is the object events about a container point at.
func refFor(pod *corev1.Pod, c *corev1.Container) *corev1.ObjectReference {
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, ResourceVersion: pod.ResourceVersion}
	if c == nil {
		return ref
	}
	for _, ic := range pod.Spec.InitContainers {
		if ic.Name == c.Name {
			ref.FieldPath = fmt.Sprintf("spec.initContainers{%s}", c.Name)
			return ref
		}
	}
	for _, ec := range pod.Spec.EphemeralContainers {
		if ec.Name == c.Name {
			ref.FieldPath = fmt.Sprintf("spec.ephemeralContainers{%s}", c.Name)
			return ref
		}
	}
	ref.FieldPath = fmt.Sprintf("spec.containers{%s}", c.Name)
	return ref
}

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// terminationMessage reads what a finished container left in its termination
// message file, or the end of its log when it asked for that on failure.
func (k *Kubelet) terminationMessage(c *corev1.Container, rec *containerRecord) string {
	if rec.Status != nil && rec.Status.Message != "" {
		return rec.Status.Message
	}
	uid := types.UID(rec.Status.GetLabels()[labelPodUID])
	if uid == "" {
		return ""
	}
	b, _ := os.ReadFile(k.podDirs(uid).terminationLog(rec.Name, rec.Attempt))
	if len(b) > 4096 {
		b = b[:4096]
	}
	if len(b) == 0 && c != nil && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && rec.Status.GetExitCode() != 0 {
		return tailLog(rec.Status.GetLogPath(), 80, 2048)
	}
	return string(b)
}

// tailLog returns the last lines of a CRI log file, message text only.
func tailLog(path string, lines, maxBytes int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	var out strings.Builder
	for _, l := range all {
		// timestamp stream tag message
		parts := strings.SplitN(l, " ", 4)
		if len(parts) == 4 {
			out.WriteString(parts[3])
			if parts[2] == "F" {
				out.WriteByte('\n')
			}
		}
	}
	s := out.String()
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
	}
	return s
}

func (k *Kubelet) hostIP() string {
	if k.cfg.NodeIP == nil {
		return ""
	}
	return k.cfg.NodeIP.String()
}

// runtimeName is the prefix of container ids in status (containerd://...).
func (k *Kubelet) runtimeName() string {
	if i := strings.Index(k.cfg.RuntimeVersion, "://"); i > 0 {
		return k.cfg.RuntimeVersion[:i]
	}
	return "containerd"
}

func (k *Kubelet) volumeSources() volumeSources {
	return volumeSources{
		configMap:   k.configMap,
		secret:      k.secret,
		token:       k.requestToken,
		allocatable: k.allocatable(),
	}
}

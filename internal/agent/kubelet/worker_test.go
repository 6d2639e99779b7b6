package kubelet

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

type testNode struct {
	k      *Kubelet
	rt     *fakeRuntime
	clock  *clocktesting.FakeClock
	client *fake.Clientset
}

func newTestNode(t *testing.T, objs ...*corev1.Pod) *testNode {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	rt := newFakeRuntime(clk.Now)
	client := fake.NewSimpleClientset()
	for _, p := range objs {
		_ = client.Tracker().Add(p)
	}
	k, err := New(Config{
		NodeName: "n1", Client: client, Runtime: rt, RootDir: t.TempDir(), NodeIP: net.ParseIP("10.200.0.2"),
		Clock: clk, RuntimeVersion: "containerd://1.6.20", CgroupRoot: "/tug-unit-test/n1",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	k.ctx = ctx
	k.memCap.Store(8 << 30)
	close(k.started)
	return &testNode{k: k, rt: rt, clock: clk, client: client}
}

// sync runs one sync of the pod's worker (made on first use).
func (n *testNode) sync(t *testing.T, pod *corev1.Pod) time.Duration {
	t.Helper()
	n.k.mu.Lock()
	w, ok := n.k.workers[pod.UID]
	if !ok {
		w = newPodWorker(n.k, pod)
		n.k.workers[pod.UID] = w
	}
	n.k.mu.Unlock()
	w.update(pod, false)
	next, _ := w.sync(n.k.ctx)
	return next
}

// status is the last status the worker published for the pod.
func (n *testNode) status(t *testing.T, uid types.UID) corev1.PodStatus {
	t.Helper()
	n.k.status.mu.Lock()
	defer n.k.status.mu.Unlock()
	e, ok := n.k.status.pending[uid]
	if !ok {
		t.Fatalf("no status published for %s", uid)
	}
	return e.status
}

func testPod(name string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			NodeName:      "n1",
			RestartPolicy: corev1.RestartPolicyAlways,
			Containers:    []corev1.Container{{Name: "c", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePath: "/dev/termination-log"}},
		},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func hasCall(calls []string, prefix string) bool {
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func TestWorkerStartsPod(t *testing.T) {
	n := newTestNode(t)
	pod := testPod("web", nil)
	n.sync(t, pod)
	calls := n.rt.takeCalls()
	for _, want := range []string{"RunPodSandbox web", "CreateContainer c/0", "StartContainer c"} {
		if !hasCall(calls, want) {
			t.Errorf("calls %v lack %q", calls, want)
		}
	}
	st := n.status(t, pod.UID)
	if st.Phase != corev1.PodRunning || st.PodIP != "10.244.0.7" || st.HostIP != "10.200.0.2" || st.QOSClass != corev1.PodQOSBestEffort {
		t.Fatalf("status %+v", st)
	}
	cs := st.ContainerStatuses[0]
	if !cs.Ready || cs.State.Running == nil || !strings.HasPrefix(cs.ContainerID, "containerd://") || cs.Image != "docker.io/library/busybox:latest" {
		t.Errorf("container status %+v", cs)
	}
	// A second sync changes nothing: nothing is ever started twice.
	n.sync(t, pod)
	if calls := n.rt.takeCalls(); hasCall(calls, "CreateContainer") || hasCall(calls, "RunPodSandbox") {
		t.Errorf("second sync started things again: %v", calls)
	}
}

func TestWorkerAdoptsRunningContainers(t *testing.T) {
	n := newTestNode(t)
	pod := testPod("kept", nil)
	// What an earlier agent left: a sandbox and a running container.
	cfg := n.k.sandboxConfig(pod, 0)
	sb, _ := n.rt.RunPodSandbox(context.Background(), cfg)
	cc, err := n.k.containerConfig(pod, &pod.Spec.Containers[0], 0, false, "sha256:bb", nil, nil, "10.244.0.7")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := n.rt.CreateContainer(context.Background(), sb, cc, cfg)
	_ = n.rt.StartContainer(context.Background(), id)
	n.rt.takeCalls()
	n.sync(t, pod)
	if calls := n.rt.takeCalls(); hasCall(calls, "CreateContainer") || hasCall(calls, "RunPodSandbox") || hasCall(calls, "StopContainer") {
		t.Fatalf("adopting pod touched the runtime: %v", calls)
	}
	if st := n.status(t, pod.UID); st.ContainerStatuses[0].ContainerID != "containerd://"+id || st.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("status %+v", st.ContainerStatuses[0])
	}
}

func TestWorkerCrashLoopBackOff(t *testing.T) {
	n := newTestNode(t)
	pod := testPod("crash", nil)
	n.sync(t, pod)
	// First exit: restarted at once.
	n.rt.exit(n.rt.byName("c").c.Id, 1, "")
	n.sync(t, pod)
	if !hasCall(n.rt.takeCalls(), "CreateContainer c/1") {
		t.Fatal("first restart should be immediate")
	}
	// Second exit: back-off 10s.
	n.clock.Step(time.Second)
	n.rt.exit(n.rt.byName("c").c.Id, 1, "")
	next := n.sync(t, pod)
	if hasCall(n.rt.takeCalls(), "CreateContainer") {
		t.Fatal("restarted during back-off")
	}
	st := n.status(t, pod.UID)
	cs := st.ContainerStatuses[0]
	if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || !strings.Contains(cs.State.Waiting.Message, "back-off 10s") {
		t.Fatalf("state %+v", cs.State)
	}
	if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 || cs.RestartCount != 1 || st.Phase != corev1.PodRunning {
		t.Errorf("status %+v phase %s", cs, st.Phase)
	}
	if next <= 0 || next > 10*time.Second {
		t.Errorf("next sync in %s, want within the back-off", next)
	}
	n.clock.Step(10 * time.Second)
	n.sync(t, pod)
	if !hasCall(n.rt.takeCalls(), "CreateContainer c/2") {
		t.Fatal("not restarted after the back-off")
	}
	// Third exit: the delay doubles.
	n.clock.Step(time.Second)
	n.rt.exit(n.rt.byName("c").c.Id, 1, "")
	n.sync(t, pod)
	if w := n.status(t, pod.UID).ContainerStatuses[0].State.Waiting; w == nil || !strings.Contains(w.Message, "back-off 20s") {
		t.Fatalf("waiting %+v, want back-off 20s", w)
	}
	// Only the current and the previous container are kept.
	if c := n.rt.count("c"); c > 2 {
		t.Errorf("%d containers kept", c)
	}
}

func TestWorkerRestartPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy    corev1.RestartPolicy
		code      int32
		restarted bool
		phase     corev1.PodPhase
	}{
		{corev1.RestartPolicyNever, 1, false, corev1.PodFailed},
		{corev1.RestartPolicyNever, 0, false, corev1.PodSucceeded},
		{corev1.RestartPolicyOnFailure, 0, false, corev1.PodSucceeded},
		{corev1.RestartPolicyOnFailure, 2, true, corev1.PodRunning},
		{corev1.RestartPolicyAlways, 0, true, corev1.PodRunning},
	} {
		t.Run(string(tc.policy)+"/"+string(rune('0'+tc.code)), func(t *testing.T) {
			n := newTestNode(t)
			pod := testPod("p", func(p *corev1.Pod) { p.Spec.RestartPolicy = tc.policy })
			n.sync(t, pod)
			n.rt.exit(n.rt.byName("c").c.Id, tc.code, "")
			n.sync(t, pod)
			if got := hasCall(n.rt.takeCalls(), "CreateContainer c/1"); got != tc.restarted {
				t.Errorf("restarted %v, want %v", got, tc.restarted)
			}
			if st := n.status(t, pod.UID); st.Phase != tc.phase {
				t.Errorf("phase %s, want %s", st.Phase, tc.phase)
			}
		})
	}
}

func TestWorkerOOMKilled(t *testing.T) {
	n := newTestNode(t)
	pod := testPod("hog", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever })
	n.sync(t, pod)
	n.rt.exit(n.rt.byName("c").c.Id, 137, "OOMKilled")
	n.sync(t, pod)
	term := n.status(t, pod.UID).ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Fatalf("terminated %+v", term)
	}
}

func TestWorkerInitContainersInOrder(t *testing.T) {
	n := newTestNode(t)
	pod := testPod("init", func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "one", Image: "busybox"}, {Name: "two", Image: "busybox"}}
	})
	n.sync(t, pod)
	calls := n.rt.takeCalls()
	if !hasCall(calls, "CreateContainer one/0") || hasCall(calls, "CreateContainer two") || hasCall(calls, "CreateContainer c") {
		t.Fatalf("first sync: %v", calls)
	}
	st := n.status(t, pod.UID)
	if st.Phase != corev1.PodPending || st.ContainerStatuses[0].State.Waiting.Reason != "PodInitializing" {
		t.Errorf("while initializing: phase %s state %+v", st.Phase, st.ContainerStatuses[0].State)
	}
	n.rt.exit(n.rt.byName("one").c.Id, 0, "")
	n.sync(t, pod)
	calls = n.rt.takeCalls()
	if !hasCall(calls, "CreateContainer two/0") || hasCall(calls, "CreateContainer c") {
		t.Fatalf("second sync: %v", calls)
	}
	n.rt.exit(n.rt.byName("two").c.Id, 0, "")
	n.sync(t, pod)
	if !hasCall(n.rt.takeCalls(), "CreateContainer c/0") {
		t.Fatal("main container not started after the init containers")
	}
	st = n.status(t, pod.UID)
	if st.Phase != corev1.PodRunning {
		t.Errorf("phase %s", st.Phase)
	}
	for _, c := range st.Conditions {
		if c.Type == corev1.PodInitialized && c.Status != corev1.ConditionTrue {
			t.Errorf("Initialized %s", c.Status)
		}
	}
}

func TestWorkerGracefulDeletion(t *testing.T) {
	pod := testPod("bye", func(p *corev1.Pod) {
		p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"stop-me"}}}}
	})
	n := newTestNode(t, pod)
	n.sync(t, pod)
	n.rt.takeCalls()
	deleting := pod.DeepCopy()
	now := metav1.NewTime(n.clock.Now())
	grace := int64(7)
	deleting.DeletionTimestamp, deleting.DeletionGracePeriodSeconds = &now, &grace
	n.sync(t, deleting)
	calls := n.rt.takeCalls()
	if !hasCall(calls, "ExecSync stop-me") || !hasCall(calls, "StopContainer c grace=7") {
		t.Fatalf("calls %v: want the preStop hook, then a stop with the grace period", calls)
	}
	deleted := false
	for _, a := range n.client.Actions() {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
			deleted = true
		}
	}
	if !deleted {
		t.Error("the pod was not deleted from the API once its containers stopped")
	}
	// The informer's delete: everything goes.
	n.k.mu.Lock()
	w := n.k.workers[pod.UID]
	n.k.mu.Unlock()
	w.update(deleting, true)
	if _, done := w.sync(n.k.ctx); !done {
		t.Fatal("worker not finished after removal")
	}
	if c := n.rt.count("c"); c != 0 {
		t.Errorf("%d containers left", c)
	}
}

func TestWorkerLivenessFailureRestarts(t *testing.T) {
	n := newTestNode(t)
	pod := testPod("sick", func(p *corev1.Pod) {
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}}
	})
	n.sync(t, pod)
	id := n.rt.byName("c").c.Id
	// The probe worker crossed its failure threshold.
	n.k.probes.mu.Lock()
	key := probeKey{pod.UID, "c", probeLiveness}
	if w := n.k.probes.workers[key]; w != nil {
		close(w.stop)
	}
	n.k.probes.workers[key] = &probeWorker{key: key, containerID: id, stop: make(chan struct{}), failed: true}
	n.k.probes.mu.Unlock()
	n.rt.takeCalls()
	n.sync(t, pod)
	if !hasCall(n.rt.takeCalls(), "StopContainer c") {
		t.Fatal("container with a failed liveness probe not stopped")
	}
	n.sync(t, pod)
	if !hasCall(n.rt.takeCalls(), "CreateContainer c/1") {
		t.Fatal("container not restarted after its liveness failure")
	}
	n.k.probes.stopAll()
}

func TestWorkerImagePullBackOff(t *testing.T) {
	n := newTestNode(t)
	pod := testPod("noimg", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry.invalid/x:1" })
	n.sync(t, pod)
	w := n.status(t, pod.UID).ContainerStatuses[0].State.Waiting
	if w == nil || w.Reason != "ErrImagePull" || !strings.Contains(w.Message, "registry.invalid/x:1") {
		t.Fatalf("first: %+v", w)
	}
	n.rt.takeCalls()
	n.clock.Step(time.Second)
	n.sync(t, pod)
	if w := n.status(t, pod.UID).ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ImagePullBackOff" {
		t.Fatalf("then: %+v", w)
	}
	if hasCall(n.rt.takeCalls(), "PullImage") {
		t.Error("pulled again during the back-off")
	}
	n.clock.Step(15 * time.Second)
	n.sync(t, pod)
	if !hasCall(n.rt.takeCalls(), "PullImage") {
		t.Error("no new pull after the back-off")
	}
}

func TestWorkerPullPolicyAlwaysOffline(t *testing.T) {
	n := newTestNode(t)
	n.rt.pullErr = errUnreachable{}
	pod := testPod("offline", func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = corev1.PullAlways })
	n.sync(t, pod)
	calls := n.rt.takeCalls()
	if !hasCall(calls, "PullImage busybox") || !hasCall(calls, "StartContainer c") {
		t.Fatalf("calls %v: an unreachable registry should fall back to the image on the node", calls)
	}
}

type errUnreachable struct{}

func (errUnreachable) Error() string {
	return "dial udp 10.0.0.53:53: connect: network is unreachable"
}

func TestNodeStatusFollowsRuntime(t *testing.T) {
	n := newTestNode(t)
	st := n.k.nodeStatus(corev1.NodeStatus{}, nil)
	ready := func(s corev1.NodeStatus) corev1.NodeCondition {
		for _, c := range s.Conditions {
			if c.Type == corev1.NodeReady {
				return c
			}
		}
		t.Fatal("no Ready condition")
		return corev1.NodeCondition{}
	}
	if r := ready(st); r.Status != corev1.ConditionTrue || r.Reason != "KubeletReady" {
		t.Fatalf("ready %+v", r)
	}
	if len(st.Conditions) != 4 || st.DaemonEndpoints.KubeletEndpoint.Port != 10250 || st.NodeInfo.KubeletVersion != "v1.32.4" || st.NodeInfo.ContainerRuntimeVersion != "containerd://1.6.20" {
		t.Errorf("status %+v", st)
	}
	capMem, allocMem := st.Capacity[corev1.ResourceMemory], st.Allocatable[corev1.ResourceMemory]
	if capMem.Value()-allocMem.Value() != 100<<20 {
		t.Errorf("allocatable memory %s of %s: want 100Mi kept back", allocMem.String(), capMem.String())
	}
	if st.Addresses[0].Address != "10.200.0.2" || st.Addresses[0].Type != corev1.NodeInternalIP {
		t.Errorf("addresses %+v", st.Addresses)
	}
	n.rt.down = true
	err := n.k.runtimeHealth(context.Background())
	if err == nil {
		t.Fatal("runtime down not noticed")
	}
	down := n.k.nodeStatus(st, err)
	if r := ready(down); r.Status != corev1.ConditionFalse || !strings.Contains(r.Message, "container runtime is down") {
		t.Errorf("ready while down %+v", r)
	}
}

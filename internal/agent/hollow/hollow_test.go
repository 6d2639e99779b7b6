package hollow

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func pod(mut func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
		Spec: corev1.PodSpec{NodeName: "n0", RestartPolicy: corev1.RestartPolicyAlways,
			Containers: []corev1.Container{{Name: "a", Image: "busybox"}, {Name: "b", Image: "nginx"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}},
	}
	if mut != nil {
		mut(p)
	}
	return p
}

func running(p *corev1.Pod, at time.Time) {
	p.Status = runningStatus(p, "100.64.0.1", "10.244.0.2", at)
}

func TestDecide(t *testing.T) {
	del := metav1.NewTime(t0)
	cases := []struct {
		name string
		pod  *corev1.Pod
		now  time.Time
		act  action
		wait time.Duration
	}{
		{"pending starts", pod(nil), t0, actStart, 0},
		{"running service stays", pod(func(p *corev1.Pod) { running(p, t0) }), t0.Add(time.Hour), actNone, 0},
		{"job pod runs its lifetime", pod(func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever; running(p, t0) }), t0.Add(2 * time.Second), actNone, 3 * time.Second},
		{"job pod ends", pod(func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure; running(p, t0) }), t0.Add(5 * time.Second), actFinish, 0},
		{"lifetime annotation", pod(func(p *corev1.Pod) {
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			p.Annotations = map[string]string{LifetimeAnnotation: "1m"}
			running(p, t0)
		}), t0.Add(10 * time.Second), actNone, 50 * time.Second},
		{"bad lifetime annotation uses the default", pod(func(p *corev1.Pod) {
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			p.Annotations = map[string]string{LifetimeAnnotation: "soon"}
			running(p, t0)
		}), t0.Add(6 * time.Second), actFinish, 0},
		{"finished stays", pod(func(p *corev1.Pod) { running(p, t0); p.Status = finishedStatus(p, 0, t0) }), t0.Add(time.Hour), actNone, 0},
		{"deleting goes", pod(func(p *corev1.Pod) { running(p, t0); p.DeletionTimestamp = &del }), t0, actDelete, 0},
		{"deleting pending goes", pod(func(p *corev1.Pod) { p.DeletionTimestamp = &del }), t0, actDelete, 0},
		{"debug container added: report it", pod(func(p *corev1.Pod) {
			running(p, t0)
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "busybox"}}}
		}), t0.Add(time.Minute), actStart, 0},
		{"debug container reported: stays", pod(func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "busybox"}}}
			running(p, t0)
		}), t0.Add(time.Minute), actNone, 0},
		{"readiness taken away: report again", pod(func(p *corev1.Pod) {
			running(p, t0)
			for i := range p.Status.Conditions {
				if p.Status.Conditions[i].Type == corev1.PodReady {
					p.Status.Conditions[i].Status = corev1.ConditionFalse
				}
			}
		}), t0.Add(time.Minute), actStart, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			act, wait := decide(tc.pod, tc.now, 5*time.Second)
			if act != tc.act || wait != tc.wait {
				t.Fatalf("decide = %v, %v; want %v, %v", act, wait, tc.act, tc.wait)
			}
		})
	}
}

func condStatus(st corev1.PodStatus, ty corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == ty {
			return c.Status
		}
	}
	return ""
}

func TestRunningAndFinishedStatus(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	p := pod(func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}, {Name: "sidecar", Image: "envoy", RestartPolicy: &always}}
	})
	st := runningStatus(p, "100.64.0.1", "10.244.0.7", t0)
	if st.Phase != corev1.PodRunning || st.PodIP != "10.244.0.7" || st.PodIPs[0].IP != "10.244.0.7" || st.HostIP != "100.64.0.1" || !st.StartTime.Time.Equal(t0) || st.QOSClass != corev1.PodQOSBestEffort {
		t.Fatalf("running status: %+v", st)
	}
	for _, ty := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady, corev1.PodInitialized, corev1.PodScheduled, corev1.PodReadyToStartContainers} {
		if condStatus(st, ty) != corev1.ConditionTrue {
			t.Fatalf("condition %s = %q", ty, condStatus(st, ty))
		}
	}
	if len(st.ContainerStatuses) != 2 || st.ContainerStatuses[1].Name != "b" || st.ContainerStatuses[1].State.Running == nil || !st.ContainerStatuses[1].Ready ||
		!strings.HasPrefix(st.ContainerStatuses[0].ImageID, "busybox@sha256:") || st.ContainerStatuses[0].ContainerID == "" {
		t.Fatalf("container statuses: %+v", st.ContainerStatuses)
	}
	if ic := st.InitContainerStatuses; len(ic) != 2 || ic[0].State.Terminated == nil || ic[0].State.Terminated.Reason != "Completed" || ic[1].State.Running == nil {
		t.Fatalf("init container statuses: %+v", ic)
	}

	// Reported again later (after a silent spell): start times stay, transitions move.
	p.Status = st
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			p.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	again := runningStatus(p, "100.64.0.1", "10.244.0.7", t0.Add(time.Hour))
	if !again.StartTime.Time.Equal(t0) || !again.ContainerStatuses[0].State.Running.StartedAt.Time.Equal(t0) {
		t.Fatal("start times changed on a repeated report")
	}
	for _, c := range again.Conditions {
		if c.Type == corev1.PodReady && !c.LastTransitionTime.Time.Equal(t0.Add(time.Hour)) {
			t.Fatalf("Ready transition time %v", c.LastTransitionTime)
		}
		if c.Type == corev1.PodInitialized && !c.LastTransitionTime.Time.Equal(t0) {
			t.Fatalf("Initialized transition time moved: %v", c.LastTransitionTime)
		}
	}

	p.Status = st
	done := finishedStatus(p, 0, t0.Add(5*time.Second))
	if done.Phase != corev1.PodSucceeded || condStatus(done, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("succeeded: %+v", done)
	}
	term := done.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 0 || term.Reason != "Completed" || !term.StartedAt.Time.Equal(t0) || !term.FinishedAt.Time.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("terminated state: %+v", term)
	}
	if done.InitContainerStatuses[0].State.Terminated.FinishedAt.Time != t0 {
		t.Fatal("a completed init container was ended again")
	}
	failed := finishedStatus(p, 3, t0)
	if failed.Phase != corev1.PodFailed || failed.ContainerStatuses[1].State.Terminated.ExitCode != 3 || failed.ContainerStatuses[1].State.Terminated.Reason != "Error" {
		t.Fatalf("failed: %+v", failed)
	}
}

func TestPodIPs(t *testing.T) {
	a, err := newPodIPs("10.244.3.0/29")
	if err != nil {
		t.Fatal(err)
	}
	a.Reserve("old", "10.244.3.3")
	a.Reserve("bad", "10.244.4.3") // outside: ignored
	var got []string
	for _, uid := range []string{"a", "b", "c", "d"} {
		ip, err := a.Get(uid)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip)
	}
	// .0 network, .1 gateway, .7 broadcast, .3 held: .2 .4 .5 .6 remain.
	if strings.Join(got, " ") != "10.244.3.2 10.244.3.4 10.244.3.5 10.244.3.6" {
		t.Fatalf("addresses: %v", got)
	}
	if again, _ := a.Get("b"); again != "10.244.3.4" {
		t.Fatalf("a pod asking again got %s", again)
	}
	if _, err := a.Get("e"); err == nil {
		t.Fatal("full range hands out an address")
	}
	a.Release("c")
	if ip, _ := a.Get("e"); ip != "10.244.3.5" {
		t.Fatalf("released address not reused: %s", ip)
	}
	if _, err := newPodIPs("10.0.0.0/31"); err == nil {
		t.Fatal("a /31 accepted")
	}
	if ip := nodeAddress("n1"); !strings.HasPrefix(ip, "100.") || ip != nodeAddress("n1") || ip == nodeAddress("n2") {
		t.Fatalf("node addresses: %s %s", ip, nodeAddress("n2"))
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestRunner(t *testing.T) {
	client := fake.NewSimpleClientset()
	clk := clocktesting.NewFakeClock(t0)
	dir := t.TempDir()
	var specs []NodeSpec
	for _, n := range []string{"n0", "n1"} {
		specs = append(specs, NodeSpec{Name: n, Core: client.CoreV1(), Coordination: client.CoordinationV1(), SilenceFile: filepath.Join(dir, n)})
	}
	started := make(chan struct{})
	r, err := New(Config{Nodes: specs, Watch: client, Clock: clk, Labels: map[string]string{"pool": "a"}, Started: func() { close(started) }, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("runner did not start")
	}
	nodes := client.CoreV1().Nodes()
	leases := client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	pods := client.CoreV1().Pods("ns")

	n0, err := nodes.Get(ctx, "n0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n0.Labels[corev1.LabelHostname] != "n0" || n0.Labels[HollowLabel] != "true" || n0.Labels["pool"] != "a" || n0.Labels[corev1.LabelOSStable] != "linux" {
		t.Fatalf("labels: %v", n0.Labels)
	}
	if q := n0.Status.Allocatable[corev1.ResourcePods]; q.Value() != 110 || !reportsReady(n0) || n0.Status.NodeInfo.KubeletVersion == "" || len(n0.Status.Addresses) != 2 {
		t.Fatalf("status: %+v", n0.Status)
	}
	waitFor(t, "leases", func() bool {
		l, err := leases.Get(ctx, "n1", metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime != nil && *l.Spec.HolderIdentity == "n1"
	})

	// A pod waits for its node's pod CIDR, then runs with an address from it.
	if _, err := pods.Create(ctx, pod(nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n0.Spec.PodCIDR = "10.244.7.0/24"
	if _, err := nodes.Update(ctx, n0, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod running", func() bool {
		p, _ := pods.Get(ctx, "p", metav1.GetOptions{})
		return p != nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP == "10.244.7.2"
	})

	// A pod that does not restart succeeds after its lifetime; one with an exit
	// code fails.
	for _, pp := range []*corev1.Pod{
		pod(func(p *corev1.Pod) { p.Name, p.UID, p.Spec.RestartPolicy = "job", "u2", corev1.RestartPolicyNever }),
		pod(func(p *corev1.Pod) {
			p.Name, p.UID, p.Spec.RestartPolicy = "bad", "u3", corev1.RestartPolicyOnFailure
			p.Annotations = map[string]string{ExitCodeAnnotation: "2"}
		}),
	} {
		if _, err := pods.Create(ctx, pp, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "job pods running", func() bool {
		a, _ := pods.Get(ctx, "job", metav1.GetOptions{})
		b, _ := pods.Get(ctx, "bad", metav1.GetOptions{})
		return a.Status.Phase == corev1.PodRunning && b.Status.Phase == corev1.PodRunning
	})
	// The clock moves a second at a time until they end (their timers may be
	// set a moment after the status is visible).
	stepped := time.Now()
	waitFor(t, "job pods ended", func() bool {
		a, _ := pods.Get(ctx, "job", metav1.GetOptions{})
		b, _ := pods.Get(ctx, "bad", metav1.GetOptions{})
		if a.Status.Phase == corev1.PodSucceeded && b.Status.Phase == corev1.PodFailed {
			return true
		}
		if (a.Status.Phase == corev1.PodSucceeded || b.Status.Phase == corev1.PodFailed) && clk.Since(t0) < 5*time.Second {
			t.Fatal("a pod ended before its lifetime")
		}
		if time.Since(stepped) > 50*time.Millisecond {
			clk.Step(time.Second)
			stepped = time.Now()
		}
		return false
	})

	// A pod being deleted is removed at once (grace 0).
	p, _ := pods.Get(ctx, "p", metav1.GetOptions{})
	now := metav1.NewTime(clk.Now())
	p.DeletionTimestamp = &now
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod removed", func() bool { _, err := pods.Get(ctx, "p", metav1.GetOptions{}); return err != nil })
	var grace *int64
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && d.GetName() == "p" {
			grace = d.GetDeleteOptions().GracePeriodSeconds
		}
	}
	if grace == nil || *grace != 0 {
		t.Fatalf("pod deleted with grace %v, want 0", grace)
	}

	// A silenced node stops renewing its lease; the other goes on.
	if err := os.WriteFile(filepath.Join(dir, "n0"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	renewed := func(name string) time.Time {
		l, _ := leases.Get(ctx, name, metav1.GetOptions{})
		return l.Spec.RenewTime.Time
	}
	for i := 0; i < 3; i++ {
		clk.Step(10 * time.Second)
		want := clk.Now()
		waitFor(t, "n1 renewal", func() bool { return renewed("n1").Equal(want) })
	}
	waitFor(t, "n0 silent", func() bool { return r.nodes["n0"].silent.Load() })
	silentSince := renewed("n0")
	clk.Step(10 * time.Second)
	want := clk.Now()
	waitFor(t, "n1 renewal", func() bool { return renewed("n1").Equal(want) })
	if got := renewed("n0"); !got.Equal(silentSince) {
		t.Fatalf("silent node renewed its lease at %v", got)
	}
	// Speaking again, it renews.
	os.Remove(filepath.Join(dir, "n0"))
	clk.Step(10 * time.Second)
	want = clk.Now()
	waitFor(t, "n0 renewal", func() bool { return renewed("n0").Equal(want) })
}

// A debug container added to a running hollow pod is reported running from
// when it was added (never ready); the pod's own start times stay, and it ends
// with the pod.
func TestEphemeralContainerStatus(t *testing.T) {
	p := pod(nil)
	running(p, t0)
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "busybox:1.36"}}}
	later := t0.Add(time.Minute)
	st := runningStatus(p, "100.64.0.1", "10.244.0.2", later)
	if len(st.EphemeralContainerStatuses) != 1 {
		t.Fatalf("ephemeral statuses: %+v", st.EphemeralContainerStatuses)
	}
	es := st.EphemeralContainerStatuses[0]
	if es.Name != "debugger" || es.State.Running == nil || !es.State.Running.StartedAt.Time.Equal(later) || es.Ready ||
		es.ContainerID == "" || !strings.HasPrefix(es.ImageID, "busybox:1.36@sha256:") {
		t.Fatalf("ephemeral status: %+v", es)
	}
	if !st.StartTime.Time.Equal(t0) || !st.ContainerStatuses[0].State.Running.StartedAt.Time.Equal(t0) {
		t.Fatal("adding a debug container moved the pod's start times")
	}
	// A second debug container keeps the first one's start.
	p.Status = st
	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger-2", Image: "busybox"}})
	st2 := runningStatus(p, "100.64.0.1", "10.244.0.2", later.Add(time.Minute))
	if len(st2.EphemeralContainerStatuses) != 2 || !st2.EphemeralContainerStatuses[0].State.Running.StartedAt.Time.Equal(later) ||
		!st2.EphemeralContainerStatuses[1].State.Running.StartedAt.Time.Equal(later.Add(time.Minute)) {
		t.Fatalf("ephemeral statuses after a second debug container: %+v", st2.EphemeralContainerStatuses)
	}
	p.Status = st2
	done := finishedStatus(p, 0, later.Add(2*time.Minute))
	if term := done.EphemeralContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 0 || !term.StartedAt.Time.Equal(later) {
		t.Fatalf("ephemeral status of a finished pod: %+v", done.EphemeralContainerStatuses[0])
	}
}

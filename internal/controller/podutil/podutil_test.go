package podutil

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	testclock "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func readyPod(name string, since time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{NodeName: "n"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(since)},
		}},
	}
}

func TestAvailability(t *testing.T) {
	cases := []struct {
		name     string
		pod      *corev1.Pod
		minReady int32
		want     bool
		wait     time.Duration
	}{
		{"ready, no minReadySeconds", readyPod("a", t0), 0, true, 0},
		{"ready long enough", readyPod("a", t0.Add(-10*time.Second)), 10, true, 0},
		{"ready too recently", readyPod("a", t0.Add(-4*time.Second)), 10, false, 6 * time.Second},
		{"not ready", &corev1.Pod{}, 0, false, 0},
	}
	for _, tc := range cases {
		if got := IsAvailable(tc.pod, tc.minReady, t0); got != tc.want {
			t.Errorf("%s: available = %v", tc.name, got)
		}
		if got := AvailableIn(tc.pod, tc.minReady, t0); got != tc.wait {
			t.Errorf("%s: available in %v, want %v", tc.name, got, tc.wait)
		}
	}
}

func TestSortForDeletion(t *testing.T) {
	unscheduled := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "unscheduled"}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	pending := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pending"}, Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	notReady := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "not-ready"}, Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	cheap := readyPod("cheap", t0.Add(-time.Hour))
	cheap.Annotations = map[string]string{DeletionCostAnnotation: "-5"}
	newReady := readyPod("new-ready", t0.Add(-time.Minute))
	oldReady := readyPod("old-ready", t0.Add(-time.Hour))
	restarts := readyPod("restarts", t0.Add(-time.Hour))
	restarts.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: 3}}
	pods := []*corev1.Pod{oldReady, restarts, newReady, cheap, notReady, pending, unscheduled}
	SortForDeletion(pods)
	var got []string
	for _, p := range pods {
		got = append(got, p.Name)
	}
	want := []string{"unscheduled", "pending", "not-ready", "cheap", "new-ready", "restarts", "old-ready"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("order\n got %v\nwant %v", got, want)
	}
}

func TestExpectations(t *testing.T) {
	clk := testclock.NewFakeClock(t0)
	e := NewExpectations(clk)
	if !e.Satisfied("k") {
		t.Fatal("nothing recorded: satisfied")
	}
	e.ExpectCreations("k", 2)
	e.CreationObserved("k")
	if e.Satisfied("k") {
		t.Fatal("one create pending")
	}
	e.CreationObserved("k")
	if !e.Satisfied("k") {
		t.Fatal("all creates seen")
	}
	e.ExpectDeletions("k", []types.UID{"a", "b"})
	e.DeletionObserved("k", "a")
	e.DeletionObserved("k", "a")
	if adds, dels := e.Pending("k"); e.Satisfied("k") || adds != 0 || dels != 1 {
		t.Fatalf("pending %d/%d", adds, dels)
	}
	clk.Step(ExpectationsTimeout + time.Second)
	if !e.Satisfied("k") {
		t.Fatal("expired expectations must not block")
	}
	e.Forget("k")
	if adds, dels := e.Pending("k"); adds != 0 || dels != 0 {
		t.Fatal("forgotten")
	}
}

func TestSlowStartBatch(t *testing.T) {
	cases := []struct {
		count, failAt  int
		wantOK, wantTr int
	}{
		{count: 10, failAt: -1, wantOK: 10, wantTr: 10},
		{count: 10, failAt: 0, wantOK: 0, wantTr: 1}, // the first batch of 1 fails
		{count: 10, failAt: 4, wantOK: 6, wantTr: 7}, // batches 1,2,4: the third holds the failure
		{count: 0, failAt: -1, wantOK: 0, wantTr: 0},
	}
	for _, tc := range cases {
		var tried atomic.Int32
		ok, err := SlowStartBatch(tc.count, 1, func(i int) error {
			tried.Add(1)
			if i == tc.failAt {
				return errors.New("refused")
			}
			return nil
		})
		if ok != tc.wantOK || int(tried.Load()) != tc.wantTr || (err != nil) != (tc.failAt >= 0) {
			t.Errorf("count %d fail at %d: ok %d tried %d err %v", tc.count, tc.failAt, ok, tried.Load(), err)
		}
	}
}

func TestTemplateHash(t *testing.T) {
	a := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"x": "1", "y": "2"}}}
	b := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"y": "2", "x": "1"}}}
	if TemplateHash(a, nil) != TemplateHash(b, nil) {
		t.Error("map order changed the hash")
	}
	one := int32(1)
	if TemplateHash(a, nil) == TemplateHash(a, &one) {
		t.Error("collision count ignored")
	}
	// Pinned: a change of the hash function would roll out every Deployment again.
	if h := TemplateHash(a, nil); h != TemplateHash(a.DeepCopy(), nil) || len(h) != HashLength {
		t.Errorf("hash %q", h)
	}
}

func TestFromTemplate(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"a": "b"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
	owner := &metav1.ObjectMeta{Name: "web", UID: "u"}
	ref := NewControllerRef(owner, corev1.SchemeGroupVersion.WithKind("ReplicationController"))
	p := FromTemplate(tmpl, "ns", "web", ref)
	if p.GenerateName != "web-" || p.Namespace != "ns" || p.Labels["app"] != "web" || p.Annotations["a"] != "b" || !IsControlledBy(p, "u") {
		t.Errorf("pod %+v", p.ObjectMeta)
	}
	p.Labels["app"] = "changed"
	p.Spec.Containers[0].Image = "changed"
	if tmpl.Labels["app"] != "web" || tmpl.Spec.Containers[0].Image != "i" {
		t.Error("the template was modified through the pod")
	}
}

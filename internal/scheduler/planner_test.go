package scheduler

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

func newTestPlanner(objs ...*corev1.Pod) (*APIPlanner, *fake.Clientset, *record.FakeRecorder) {
	cs := fake.NewSimpleClientset()
	for _, p := range objs {
		_ = cs.Tracker().Add(p)
	}
	rec := record.NewFakeRecorder(10)
	return &APIPlanner{Client: cs, Recorder: rec, Clock: clocktesting.NewFakeClock(time.Unix(5000, 0))}, cs, rec
}

func TestPlannerBind(t *testing.T) {
	p := pod("p", 100, 0)
	pl, cs, rec := newTestPlanner(p)
	if err := pl.Bind(context.Background(), p, "node-1"); err != nil {
		t.Fatal(err)
	}
	var bound *corev1.Binding
	for _, a := range cs.Actions() {
		if c, ok := a.(k8stesting.CreateAction); ok && a.GetSubresource() == "binding" {
			bound, _ = c.GetObject().(*corev1.Binding)
		}
	}
	if bound == nil || bound.Target.Name != "node-1" || bound.Name != "p" || bound.UID != p.UID {
		t.Fatalf("binding sent: %+v", bound)
	}
	if ev := <-rec.Events; ev != "Normal Scheduled Successfully assigned ns/p to node-1" {
		t.Fatalf("event %q", ev)
	}
}

func TestPlannerUnschedulable(t *testing.T) {
	p := pod("p", 100, 0)
	pl, cs, rec := newTestPlanner(p)
	msg := "0/1 nodes are available: 1 Insufficient cpu."
	if err := pl.Unschedulable(context.Background(), p, msg); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Pods("ns").Get(context.Background(), "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Conditions) != 1 {
		t.Fatalf("conditions = %+v", got.Status.Conditions)
	}
	c := got.Status.Conditions[0]
	if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse || c.Reason != "Unschedulable" || c.Message != msg {
		t.Fatalf("condition = %+v", c)
	}
	if ev := <-rec.Events; ev != "Warning FailedScheduling "+msg {
		t.Fatalf("event %q", ev)
	}
	// The same message again: an event, but no second status write.
	before := len(cs.Actions())
	if err := pl.Unschedulable(context.Background(), got, msg); err != nil {
		t.Fatal(err)
	}
	if n := len(cs.Actions()) - before; n != 0 {
		t.Fatalf("%d API calls for an unchanged condition", n)
	}
	<-rec.Events
}

func TestPlannerPreempt(t *testing.T) {
	vip := pod("vip", 100, 0)
	victim := pod("low", 100, 0, on("node-1"))
	pl, cs, rec := newTestPlanner(vip, victim)
	if err := pl.Preempt(context.Background(), vip, "node-1", []*corev1.Pod{victim}); err != nil {
		t.Fatal(err)
	}
	got, _ := cs.CoreV1().Pods("ns").Get(context.Background(), "vip", metav1.GetOptions{})
	if got.Status.NominatedNodeName != "node-1" {
		t.Fatalf("nominatedNodeName = %q", got.Status.NominatedNodeName)
	}
	if _, err := cs.CoreV1().Pods("ns").Get(context.Background(), "low", metav1.GetOptions{}); err == nil {
		t.Fatal("victim not deleted")
	}
	var sawCondition bool
	for _, a := range cs.Actions() {
		if pa, ok := a.(k8stesting.PatchAction); ok && pa.GetName() == "low" && strings.Contains(string(pa.GetPatch()), "DisruptionTarget") {
			sawCondition = true
		}
	}
	if !sawCondition {
		t.Fatal("victim not marked with the DisruptionTarget condition")
	}
	if ev := <-rec.Events; ev != "Normal Preempted Preempted by pod ns/vip on node node-1" {
		t.Fatalf("event %q", ev)
	}
}

package daemonset

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"tug/internal/controller"
	"tug/internal/controller/history"
)

type harness struct {
	t   *testing.T
	cs  *fake.Clientset
	c   *Controller
	rec *record.FakeRecorder
	ctx context.Context
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	cs := fake.NewSimpleClientset(objs...)
	// The fake API does not generate names or UIDs; do it as the server would.
	var n atomic.Int32
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			i := n.Add(1)
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, i)
			p.UID = types.UID(p.Name)
		}
		return false, nil, nil
	})
	rec := record.NewFakeRecorder(1000)
	cctx := controller.NewTestContext(cs, clocktesting.NewFakeClock(now), controller.Options{}, rec)
	c, err := New(cctx)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cctx.Informers.Start(ctx.Done())
	cctx.Informers.WaitForCacheSync(ctx.Done())
	return &harness{t: t, cs: cs, c: c, rec: rec, ctx: ctx}
}

func (h *harness) sync() []string {
	h.t.Helper()
	h.cs.ClearActions()
	if err := h.c.reconcile(h.ctx, "ns/d"); err != nil {
		h.t.Fatalf("reconcile: %v", err)
	}
	var out []string
	for _, a := range h.cs.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
			continue
		}
		res := a.GetResource().Resource
		if a.GetSubresource() != "" {
			res += "/" + a.GetSubresource()
		}
		out = append(out, a.GetVerb()+" "+res)
	}
	return out
}

// waitPods waits until the informer holds n pods.
func (h *harness) waitPods(n int) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if len(h.c.pods.List()) == n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("informer has %d pods, want %d", len(h.c.pods.List()), n)
}

func (h *harness) waitNode(name string, present bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n, _ := h.c.nodes.Get(name); (n != nil) == present {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("node %s present=%v not seen", name, present)
}

func count(writes []string, w string) int {
	n := 0
	for _, x := range writes {
		if x == w {
			n++
		}
	}
	return n
}

func TestCreatesOnePodPerNodeOnce(t *testing.T) {
	h := newHarness(t, daemonSet(), node("a"), node("b"))
	w := h.sync()
	if count(w, "create pods") != 2 || count(w, "create controllerrevisions") != 1 || count(w, "update daemonsets/status") != 1 {
		t.Fatalf("writes %v", w)
	}
	// Before the informer shows the pods the expectations hold the controller back;
	// afterwards there is nothing to do. Either way: no second pod per node.
	w = h.sync()
	if count(w, "create pods") != 0 {
		t.Fatalf("second sync created pods: %v", w)
	}
	h.waitPods(2)
	if w = h.sync(); count(w, "create pods") != 0 {
		t.Fatalf("third sync created pods: %v", w)
	}
	pods, _ := h.cs.CoreV1().Pods("ns").List(h.ctx, metav1.ListOptions{})
	targets := map[string]bool{}
	for _, p := range pods.Items {
		targets[targetNode(&p)] = true
		if p.Spec.NodeName != "" {
			t.Fatalf("pod %s bound by the controller; the scheduler binds it", p.Name)
		}
		rev := p.Labels[history.HashLabel]
		if _, err := h.cs.AppsV1().ControllerRevisions("ns").Get(h.ctx, history.Name("d", rev), metav1.GetOptions{}); err != nil {
			t.Fatalf("pod revision %q: %v", rev, err)
		}
	}
	if !targets["a"] || !targets["b"] {
		t.Fatalf("pods target %v", targets)
	}
	ds, _ := h.cs.AppsV1().DaemonSets("ns").Get(h.ctx, "d", metav1.GetOptions{})
	if ds.Status.DesiredNumberScheduled != 2 || ds.Status.ObservedGeneration != 2 {
		t.Fatalf("status %+v", ds.Status)
	}
	e := <-h.rec.Events
	if !strings.HasPrefix(e, "Normal SuccessfulCreate Created pod: d-") {
		t.Fatalf("event %q", e)
	}
}

func TestFollowsNodes(t *testing.T) {
	h := newHarness(t, daemonSet(), node("a"))
	h.sync()
	h.waitPods(1)
	// A node joins.
	if _, err := h.cs.CoreV1().Nodes().Create(h.ctx, node("b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitNode("b", true)
	if w := h.sync(); count(w, "create pods") != 1 {
		t.Fatalf("node joined: writes %v", w)
	}
	h.waitPods(2)
	// A node leaves: its pod is removed at once (no agent will finish it).
	var grace *int64
	h.cs.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		grace = a.(k8stesting.DeleteAction).GetDeleteOptions().GracePeriodSeconds
		return false, nil, nil
	})
	if err := h.cs.CoreV1().Nodes().Delete(h.ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitNode("a", false)
	if w := h.sync(); count(w, "delete pods") != 1 {
		t.Fatalf("node left: writes %v", w)
	}
	if grace == nil || *grace != 0 {
		t.Fatalf("pod of a deleted node deleted with grace %v, want 0", grace)
	}
	h.waitPods(1)
}

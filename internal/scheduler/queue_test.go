package scheduler

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func newTestQueue() (*Queue, *clocktesting.FakeClock) {
	clk := clocktesting.NewFakeClock(time.Unix(10000, 0))
	return NewQueue(clk, 0, 0), clk
}

// popName pops without blocking: it fails the test if nothing is active.
func popName(t *testing.T, q *Queue) (string, *QueuedPod) {
	t.Helper()
	if a, _, _ := q.Lengths(); a == 0 {
		t.Fatal("nothing active to pop")
	}
	p := q.Pop()
	return p.Pod.Name, p
}

func TestQueueOrder(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(pod("low-old", 0, 0, priority(1)))
	clk.Step(time.Second)
	q.Add(pod("high", 0, 0, priority(100)))
	clk.Step(time.Second)
	q.Add(pod("low-new", 0, 0, priority(1)))
	q.Add(pod("none", 0, 0))
	var got []string
	for i := 0; i < 4; i++ {
		n, _ := popName(t, q)
		got = append(got, n)
	}
	want := []string{"high", "low-old", "low-new", "none"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order = %v, want %v", got, want)
		}
	}
}

func TestQueueBackoff(t *testing.T) {
	tests := []struct {
		attempts int
		want     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {20, 10 * time.Second}}
	q, _ := newTestQueue()
	for _, tt := range tests {
		if got := q.backoffDuration(&QueuedPod{Attempts: tt.attempts}); got != tt.want {
			t.Errorf("backoff after %d attempts = %s, want %s", tt.attempts, got, tt.want)
		}
	}
}

func TestQueueUnschedulableWaitsForAChange(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(pod("p", 0, 0))
	_, p := popName(t, q)
	q.Requeue(p, true)
	if a, b, u := q.Lengths(); a != 0 || b != 0 || u != 1 {
		t.Fatalf("lengths = %d/%d/%d, want 0/0/1", a, b, u)
	}
	// Time alone (short of the unschedulable timeout) does not bring it back.
	clk.Step(time.Minute)
	q.Flush()
	if a, _, u := q.Lengths(); a != 0 || u != 1 {
		t.Fatalf("pod left the unschedulable set without a change")
	}
	// A cluster change does.
	q.MoveAll()
	if a, _, _ := q.Lengths(); a != 1 {
		t.Fatalf("pod not active after a cluster change")
	}
}

func TestQueueMoveDuringBackoff(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(pod("p", 0, 0))
	_, p := popName(t, q)
	q.Requeue(p, true)
	q.MoveAll() // immediately: still inside the 1s backoff
	if a, b, _ := q.Lengths(); a != 0 || b != 1 {
		t.Fatalf("lengths = %d/%d, want backoff", a, b)
	}
	clk.Step(500 * time.Millisecond)
	q.Flush()
	if a, _, _ := q.Lengths(); a != 0 {
		t.Fatal("left backoff early")
	}
	clk.Step(600 * time.Millisecond)
	q.Flush()
	if a, _, _ := q.Lengths(); a != 1 {
		t.Fatal("not active after its backoff")
	}
}

func TestQueueChangeDuringAttemptGoesToBackoff(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(pod("p", 0, 0))
	_, p := popName(t, q)
	q.MoveAll() // a node appeared while the pod was being scheduled
	q.Requeue(p, true)
	if _, b, u := q.Lengths(); b != 1 || u != 0 {
		t.Fatalf("backoff/unschedulable = %d/%d, want 1/0", b, u)
	}
	clk.Step(time.Second)
	q.Flush()
	if a, _, _ := q.Lengths(); a != 1 {
		t.Fatal("not retried after backoff")
	}
}

func TestQueueUnschedulableTimeout(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(pod("p", 0, 0))
	_, p := popName(t, q)
	q.Requeue(p, true)
	clk.Step(DefaultMaxUnschedulable)
	q.Flush()
	if a, _, u := q.Lengths(); a != 1 || u != 0 {
		t.Fatalf("active/unschedulable = %d/%d after the timeout", a, u)
	}
}

func TestQueueUpdates(t *testing.T) {
	q, _ := newTestQueue()
	orig := pod("p", 0, 0)
	q.Add(orig)
	_, p := popName(t, q)
	q.Requeue(p, true)

	// A status-only update (our own condition patch) changes nothing.
	st := orig.DeepCopy()
	st.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
	q.Update(st)
	if _, _, u := q.Lengths(); u != 1 {
		t.Fatal("status update moved the pod")
	}
	// A label change may make it fit: it is tried again (after its backoff).
	lab := st.DeepCopy()
	lab.Labels["tier"] = "x"
	q.Update(lab)
	if a, b, u := q.Lengths(); a+b != 1 || u != 0 {
		t.Fatalf("lengths %d/%d/%d after a relevant update", a, b, u)
	}
	// Deleting removes it wherever it is.
	q.Delete(orig.UID)
	if a, b, u := q.Lengths(); a+b+u != 0 || q.Has(orig.UID) {
		t.Fatal("deleted pod still queued")
	}
}

func TestQueueDeleteWhileInFlight(t *testing.T) {
	q, _ := newTestQueue()
	orig := pod("p", 0, 0)
	q.Add(orig)
	_, p := popName(t, q)
	q.Delete(orig.UID)
	q.Requeue(p, true)
	if q.Has(orig.UID) {
		t.Fatal("a pod deleted during its attempt came back")
	}
}

func TestQueueUpdateWhileInFlight(t *testing.T) {
	q, _ := newTestQueue()
	orig := pod("p", 100, 0)
	q.Add(orig)
	_, p := popName(t, q)
	upd := orig.DeepCopy()
	upd.Labels["v"] = "2"
	upd.ObjectMeta.Annotations = map[string]string{"x": "y"}
	q.Update(upd)
	if p.Pod != orig {
		t.Fatal("the pod under scheduling was replaced during the attempt")
	}
	q.Requeue(p, true)
	if p.Pod.Labels["v"] != "2" {
		t.Fatal("the newer version was not kept after the attempt")
	}
	if _, b, _ := q.Lengths(); b != 1 {
		t.Fatal("a pod changed during its attempt should retry after backoff")
	}
}

func TestQueuePopBlocksUntilAdd(t *testing.T) {
	q, _ := newTestQueue()
	got := make(chan string, 1)
	go func() {
		if p := q.Pop(); p != nil {
			got <- p.Pod.Name
		}
	}()
	time.Sleep(10 * time.Millisecond)
	q.Add(pod("late", 0, 0, func(p *corev1.Pod) { p.CreationTimestamp = metav1.Now() }))
	select {
	case n := <-got:
		if n != "late" {
			t.Fatalf("popped %s", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Pop did not wake up")
	}
	q.Close()
	if q.Pop() != nil {
		t.Fatal("Pop after Close returned a pod")
	}
}

package scheduler

import (
	"container/heap"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Queue defaults: failed pods wait 1s, doubling per attempt up to 10s, and pods
// parked as unschedulable are retried at least every 5 minutes even if nothing
// in the cluster seems to change for them.
const (
	DefaultInitialBackoff   = time.Second
	DefaultMaxBackoff       = 10 * time.Second
	DefaultMaxUnschedulable = 5 * time.Minute
)

// QueuedPod is a pod waiting to be scheduled.
type QueuedPod struct {
	*PodInfo
	// Attempts counts scheduling attempts so far.
	Attempts int
	// Enqueued is when the pod first entered the queue (ties within a priority
	// go to the oldest).
	Enqueued time.Time
	// lastFailure is when the latest attempt failed; the backoff runs from it.
	lastFailure time.Time
	where       place
	index       int   // in its heap
	cycle       int64 // scheduling cycle of its current attempt
	deleted     bool  // deleted while being scheduled
	// updated is a newer version of a pod that arrived while it was being
	// scheduled; it replaces PodInfo when the attempt ends.
	updated *PodInfo
}

type place int

const (
	inActive place = iota
	inBackoff
	inUnschedulable
	inFlight
)

// Queue orders pending pods: an active heap (highest priority, then oldest), a
// backoff heap (pods that failed recently, ordered by when their wait ends) and
// a set of unschedulable pods that wait for a change in the cluster. Time comes
// from an injected clock.
type Queue struct {
	clock                                        clock.Clock
	initialBackoff, maxBackoff, maxUnschedulable time.Duration

	mu      sync.Mutex
	cond    *sync.Cond
	active  podHeap
	backoff podHeap
	pods    map[types.UID]*QueuedPod
	unsched map[types.UID]*QueuedPod
	closed  bool
	// cycle counts Pops; moveCycle is the cycle at the last cluster change, so a
	// pod that fails in a cycle that a change overtook goes to backoff rather
	// than waiting for another change.
	cycle, moveCycle int64
}

// NewQueue returns an empty queue; zero durations take the defaults.
func NewQueue(clk clock.Clock, initialBackoff, maxBackoff time.Duration) *Queue {
	if initialBackoff == 0 {
		initialBackoff = DefaultInitialBackoff
	}
	if maxBackoff == 0 {
		maxBackoff = DefaultMaxBackoff
	}
	q := &Queue{
		clock: clk, initialBackoff: initialBackoff, maxBackoff: maxBackoff, maxUnschedulable: DefaultMaxUnschedulable,
		pods: map[types.UID]*QueuedPod{}, unsched: map[types.UID]*QueuedPod{}, moveCycle: -1,
	}
	q.active.less = func(a, b *QueuedPod) bool {
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.Enqueued.Before(b.Enqueued)
	}
	q.backoff.less = func(a, b *QueuedPod) bool { return q.backoffEnd(a).Before(q.backoffEnd(b)) }
	q.cond = sync.NewCond(&q.mu)
	return q
}

// backoffDuration is how long a pod waits after its latest failure.
func (q *Queue) backoffDuration(p *QueuedPod) time.Duration {
	d := q.initialBackoff
	for i := 1; i < p.Attempts; i++ {
		d *= 2
		if d >= q.maxBackoff {
			return q.maxBackoff
		}
	}
	return d
}

func (q *Queue) backoffEnd(p *QueuedPod) time.Time { return p.lastFailure.Add(q.backoffDuration(p)) }

func (q *Queue) backingOff(p *QueuedPod) bool {
	return p.Attempts > 0 && q.clock.Now().Before(q.backoffEnd(p))
}

// Add queues a new pending pod (or updates one already queued).
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p := q.pods[pod.UID]; p != nil {
		q.updateLocked(p, pod)
		return
	}
	p := &QueuedPod{PodInfo: NewPodInfo(pod), Enqueued: q.clock.Now()}
	q.pods[pod.UID] = p
	q.toActive(p)
}

// Update replaces a queued pod. An unschedulable pod whose scheduling-relevant
// fields changed is tried again.
func (q *Queue) Update(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := q.pods[pod.UID]
	if p == nil {
		p = &QueuedPod{PodInfo: NewPodInfo(pod), Enqueued: q.clock.Now()}
		q.pods[pod.UID] = p
		q.toActive(p)
		return
	}
	q.updateLocked(p, pod)
}

func (q *Queue) updateLocked(p *QueuedPod, pod *corev1.Pod) {
	cur := p.PodInfo
	if p.updated != nil {
		cur = p.updated
	}
	changed := !labels.Equals(cur.Pod.Labels, pod.Labels) || !podSpecSchedulingEqual(&cur.Pod.Spec, &pod.Spec)
	var info *PodInfo
	if changed {
		info = NewPodInfo(pod)
	} else {
		c := *cur
		c.Pod = pod
		info = &c
	}
	if p.where == inFlight {
		// The scheduler is reading PodInfo now; the new version waits.
		p.updated = info
	} else {
		p.PodInfo = info
	}
	switch p.where {
	case inActive:
		heap.Fix(&q.active, p.index)
	case inBackoff:
		heap.Fix(&q.backoff, p.index)
	case inUnschedulable:
		if changed {
			q.moveLocked(p)
		}
	case inFlight:
		if changed {
			// The attempt under way saw the old pod: let a failure retry soon.
			q.moveCycle = q.cycle
		}
	}
}

// Delete drops a pod from the queue.
func (q *Queue) Delete(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := q.pods[uid]
	if p == nil {
		return
	}
	switch p.where {
	case inActive:
		heap.Remove(&q.active, p.index)
	case inBackoff:
		heap.Remove(&q.backoff, p.index)
	case inFlight:
		p.deleted = true
	}
	delete(q.pods, uid)
	delete(q.unsched, uid)
}

// Pop waits for the next pod to schedule; it returns nil once the queue is
// closed.
func (q *Queue) Pop() *QueuedPod {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil
	}
	p := heap.Pop(&q.active).(*QueuedPod)
	q.cycle++
	p.cycle = q.cycle
	p.where = inFlight
	p.Attempts++
	return p
}

// Done ends an attempt that placed the pod (it left the queue for good).
func (q *Queue) Done(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p := q.pods[uid]; p != nil && p.where == inFlight {
		delete(q.pods, uid)
	}
}

// Requeue ends a failed attempt. Unschedulable pods wait for a cluster change
// (or at most the unschedulable timeout); other failures, and pods whose attempt
// overlapped a change, wait out their backoff.
func (q *Queue) Requeue(p *QueuedPod, unschedulable bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p.deleted || q.pods[p.Pod.UID] != p {
		return
	}
	if p.updated != nil {
		p.PodInfo, p.updated = p.updated, nil
	}
	p.lastFailure = q.clock.Now()
	if !unschedulable || q.moveCycle >= p.cycle {
		q.toBackoff(p)
		return
	}
	p.where = inUnschedulable
	q.unsched[p.Pod.UID] = p
}

// Retry puts back a pod whose binding failed, to be tried after its backoff
// (unless a newer version was queued meanwhile).
func (q *Queue) Retry(p *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pods[p.Pod.UID] != nil {
		return
	}
	q.pods[p.Pod.UID] = p
	p.lastFailure = q.clock.Now()
	q.toBackoff(p)
}

// MoveAll retries every unschedulable pod (a node was added or changed, or a pod
// went away): each goes to the active queue, or to backoff if its wait is not
// over.
func (q *Queue) MoveAll() { q.Move(nil) }

// Move retries the unschedulable pods for which match returns true (all if nil).
func (q *Queue) Move(match func(*PodInfo) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range q.unsched {
		if match == nil || match(p.PodInfo) {
			q.moveLocked(p)
		}
	}
	q.moveCycle = q.cycle
}

func (q *Queue) moveLocked(p *QueuedPod) {
	delete(q.unsched, p.Pod.UID)
	if q.backingOff(p) {
		q.toBackoff(p)
	} else {
		q.toActive(p)
	}
}

func (q *Queue) toActive(p *QueuedPod) {
	p.where = inActive
	heap.Push(&q.active, p)
	q.cond.Signal()
}

func (q *Queue) toBackoff(p *QueuedPod) {
	p.where = inBackoff
	heap.Push(&q.backoff, p)
}

// Flush moves pods whose backoff is over to the active queue, and unschedulable
// pods that waited longer than the unschedulable timeout back to trying.
func (q *Queue) Flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for q.backoff.Len() > 0 && !now.Before(q.backoffEnd(q.backoff.items[0])) {
		p := heap.Pop(&q.backoff).(*QueuedPod)
		q.toActive(p)
	}
	for _, p := range q.unsched {
		if now.Sub(p.lastFailure) >= q.maxUnschedulable {
			q.moveLocked(p)
		}
	}
}

// Run flushes the queue periodically until stop is closed, then closes it.
func (q *Queue) Run(stop <-chan struct{}, clk clock.WithTicker, every time.Duration) {
	t := clk.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			q.Close()
			return
		case <-t.C():
			q.Flush()
		}
	}
}

// Close wakes Pop callers and makes them return nil.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// Lengths returns the number of pods active, backing off and unschedulable.
func (q *Queue) Lengths() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unsched)
}

// Has reports whether the pod is queued (in any state, or being scheduled).
func (q *Queue) Has(uid types.UID) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pods[uid] != nil
}

// podHeap is a binary heap of queued pods that records each pod's index.
type podHeap struct {
	items []*QueuedPod
	less  func(a, b *QueuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	p := x.(*QueuedPod)
	p.index = len(h.items)
	h.items = append(h.items, p)
}
func (h *podHeap) Pop() any {
	n := len(h.items)
	p := h.items[n-1]
	h.items[n-1] = nil
	h.items = h.items[:n-1]
	return p
}

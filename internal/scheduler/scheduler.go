package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Name is the scheduler's name: pods with this spec.schedulerName (or none) are
// ours, and events report it as their source.
const Name = corev1.DefaultSchedulerName

// Planner carries decisions out. The API-server planner binds through
// pods/binding, patches pod status and deletes victims; a test harness records
// the calls instead.
type Planner interface {
	// Bind assigns the pod to the node (and reports the Scheduled event).
	Bind(ctx context.Context, pod *corev1.Pod, node string) error
	// Unschedulable reports that no node fits: a FailedScheduling event and the
	// pod's PodScheduled condition set to False with the message.
	Unschedulable(ctx context.Context, pod *corev1.Pod, message string) error
	// Preempt nominates the node for the pod and evicts the victims.
	Preempt(ctx context.Context, pod *corev1.Pod, node string, victims []*corev1.Pod) error
}

// Scheduler is the loop: pop a pod, decide under the cache's read lock, assume
// the pod on its node, and hand the binding to a pool of workers so the next
// decision does not wait for the API server.
type Scheduler struct {
	Queue   *Queue
	Cache   *Cache
	Algo    *Algorithm
	planner Planner
	clock   clock.WithTicker
	metrics *metrics

	work    chan func(context.Context)
	workers int
	wg      sync.WaitGroup
}

// Options configure a Scheduler.
type Options struct {
	Planner Planner
	Clock   clock.WithTicker
	// Workers is the number of goroutines that talk to the API server
	// (bindings, status patches); 0 runs those calls inline, which tests use.
	Workers int
	// Seed for tie-breaking (0: time based).
	Seed int64
	// PercentageOfNodesToScore, see Algorithm.
	PercentageOfNodesToScore int32
	// InitialBackoff and MaxBackoff default to 1s and 10s.
	InitialBackoff, MaxBackoff time.Duration
}

// New builds a scheduler over an empty cache and queue.
func New(o Options) *Scheduler {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	algo := NewAlgorithm(o.Seed)
	algo.PercentageOfNodesToScore = o.PercentageOfNodesToScore
	s := &Scheduler{
		Queue:   NewQueue(o.Clock, o.InitialBackoff, o.MaxBackoff),
		Cache:   NewCache(),
		Algo:    algo,
		planner: o.Planner,
		clock:   o.Clock,
		workers: o.Workers,
		metrics: globalMetrics(),
	}
	if o.Workers > 0 {
		s.work = make(chan func(context.Context), 4*o.Workers)
	}
	return s
}

// Run schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	for i := 0; i < s.workers; i++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for f := range s.work {
				f(ctx)
			}
		}()
	}
	go s.Queue.Run(ctx.Done(), s.clock, 200*time.Millisecond)
	go s.reportPending(ctx)
	for s.ScheduleOne(ctx) {
	}
	if s.work != nil {
		close(s.work)
	}
	s.wg.Wait()
}

// reportPending publishes the queue lengths every second.
func (s *Scheduler) reportPending(ctx context.Context) {
	t := s.clock.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			a, b, u := s.Queue.Lengths()
			s.metrics.pending.WithLabelValues("active").Set(float64(a))
			s.metrics.pending.WithLabelValues("backoff").Set(float64(b))
			s.metrics.pending.WithLabelValues("unschedulable").Set(float64(u))
		}
	}
}

// do runs an API call on the worker pool, or inline without one.
func (s *Scheduler) do(ctx context.Context, f func(context.Context)) {
	if s.work == nil {
		f(ctx)
		return
	}
	select {
	case s.work <- f:
	case <-ctx.Done():
	}
}

// responsible reports whether a pod is ours to place.
func responsible(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && (pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == Name) &&
		!terminal(pod) && len(pod.Spec.SchedulingGates) == 0
}

// ScheduleOne takes one pod from the queue and acts on it; it returns false when
// the queue is closed.
func (s *Scheduler) ScheduleOne(ctx context.Context) bool {
	qp := s.Queue.Pop()
	if qp == nil {
		return false
	}
	pod := qp.Pod
	if pod.DeletionTimestamp != nil || !responsible(pod) || s.Cache.IsAssigned(pod.UID) {
		s.Queue.Done(pod.UID)
		return true
	}
	start := s.clock.Now()
	var (
		node string
		err  error
		plan *Preemption
	)
	s.Cache.View(func(snap *Snapshot) {
		node, err = s.Algo.Schedule(snap, qp.PodInfo)
		if fe, ok := err.(*FitError); ok {
			plan, fe.PreemptionMessage = s.Algo.Preempt(snap, qp.PodInfo, fe)
		}
	})
	s.metrics.attemptDuration.Observe(s.clock.Since(start).Seconds())
	if err != nil {
		s.metrics.attempts.WithLabelValues("unschedulable").Inc()
		msg := err.Error()
		slog.Debug("pod does not fit", "pod", qp.Key(), "reason", msg)
		if plan != nil {
			s.preempt(ctx, qp, plan)
		}
		s.Queue.Requeue(qp, true)
		s.do(ctx, func(ctx context.Context) {
			if err := s.planner.Unschedulable(ctx, pod, msg); err != nil && !apierrors.IsNotFound(err) {
				slog.Warn("could not record unschedulable pod", "pod", qp.Key(), "err", err)
			}
		})
		return true
	}
	s.metrics.attempts.WithLabelValues("scheduled").Inc()
	s.Cache.Assume(qp.PodInfo, node)
	if pod.Status.NominatedNodeName != "" {
		s.Cache.Unnominate(pod.UID)
	}
	s.Queue.Done(pod.UID)
	s.do(ctx, func(ctx context.Context) { s.bind(ctx, qp, node) })
	return true
}

func (s *Scheduler) bind(ctx context.Context, qp *QueuedPod, node string) {
	err := s.planner.Bind(ctx, qp.Pod, node)
	if err == nil {
		s.metrics.bindings.Inc()
		return
	}
	s.Cache.Forget(qp.Pod.UID)
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || ctx.Err() != nil {
		// Gone, being deleted, or bound by someone else: the watch tells the rest.
		return
	}
	slog.Warn("binding failed", "pod", qp.Key(), "node", node, "err", err)
	s.metrics.attempts.WithLabelValues("error").Inc()
	s.Queue.Retry(qp)
}

// preempt nominates the node and evicts the victims, in the background.
func (s *Scheduler) preempt(ctx context.Context, qp *QueuedPod, plan *Preemption) {
	s.metrics.preemptions.Inc()
	victims := make([]*corev1.Pod, len(plan.Victims))
	uids := make([]types.UID, len(plan.Victims))
	for i, v := range plan.Victims {
		victims[i], uids[i] = v.Pod, v.Pod.UID
	}
	s.Cache.Nominate(qp.PodInfo, plan.Node, uids)
	slog.Info("preempting", "pod", qp.Key(), "node", plan.Node, "victims", len(victims))
	s.do(ctx, func(ctx context.Context) {
		if err := s.planner.Preempt(ctx, qp.Pod, plan.Node, victims); err != nil {
			// Keep no room for it: the next attempt decides afresh.
			s.Cache.Unnominate(qp.Pod.UID)
			slog.Warn("preemption failed", "pod", qp.Key(), "node", plan.Node, "err", err)
		}
	})
}

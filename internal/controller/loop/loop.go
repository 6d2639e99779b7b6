// Package loop is the work loop every controller shares: a rate-limited queue of
// object keys and workers that call a level-based reconcile for each key, retrying
// with backoff when it fails.
package loop

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Reconcile brings one object (by its namespace/name key) to its desired state. It
// must be idempotent: it may run again for the same key at any time.
type Reconcile func(ctx context.Context, key string) error

// Queue is a named rate-limited queue of keys.
type Queue struct {
	Name string
	q    workqueue.TypedRateLimitingInterface[string]
	// MaxRetries is how many failures in a row a key gets before it is dropped until
	// its next change (0: never dropped).
	MaxRetries int
}

// New makes a queue whose delays use clk.
func New(name string, clk clock.WithTicker) *Queue {
	return &Queue{Name: name, q: workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name, Clock: clk},
	)}
}

// Add queues a key now.
func (q *Queue) Add(key string) { q.q.Add(key) }

// AddAfter queues a key after d.
func (q *Queue) AddAfter(key string, d time.Duration) { q.q.AddAfter(key, d) }

// AddObject queues the key of an object (namespace/name); tombstones are unwrapped.
func (q *Queue) AddObject(obj interface{}) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		slog.Warn("cannot queue object", "queue", q.Name, "err", err)
		return
	}
	q.q.Add(key)
}

// Len is the number of keys waiting.
func (q *Queue) Len() int { return q.q.Len() }

// Handler queues the object on every add, update and delete.
func (q *Queue) Handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    q.AddObject,
		UpdateFunc: func(_, n interface{}) { q.AddObject(n) },
		DeleteFunc: q.AddObject,
	}
}

// Run waits for the caches, then runs workers until ctx ends, then shuts the queue
// down and waits for the workers.
func (q *Queue) Run(ctx context.Context, workers int, reconcile Reconcile, synced ...cache.InformerSynced) {
	defer q.q.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q.ProcessNext(ctx, reconcile) {
			}
		}()
	}
	<-ctx.Done()
	q.q.ShutDown()
	wg.Wait()
}

// ProcessNext handles one key; false once the queue is shut down. Tests call it
// directly to step a controller.
func (q *Queue) ProcessNext(ctx context.Context, reconcile Reconcile) bool {
	key, quit := q.q.Get()
	if quit {
		return false
	}
	defer q.q.Done(key)
	err := reconcile(ctx, key)
	if err == nil {
		q.q.Forget(key)
		return true
	}
	if q.MaxRetries > 0 && q.q.NumRequeues(key) >= q.MaxRetries {
		slog.Warn("giving up on key after repeated failures", "queue", q.Name, "key", key, "err", err)
		q.q.Forget(key)
		return true
	}
	slog.Debug("reconcile failed, will retry", "queue", q.Name, "key", key, "err", err)
	q.q.AddRateLimited(key)
	return true
}

// Drain runs reconcile for every queued key (including keys queued meanwhile) until
// the queue is empty or max keys were handled; it returns the keys handled in order.
// Meant for unit tests, where no workers run.
func (q *Queue) Drain(ctx context.Context, reconcile Reconcile, max int) []string {
	var done []string
	for q.q.Len() > 0 && len(done) < max {
		key, _ := q.q.Get()
		err := reconcile(ctx, key)
		q.q.Done(key)
		if err == nil {
			q.q.Forget(key)
		}
		done = append(done, key)
	}
	return done
}

// ShutDown stops the queue (tests).
func (q *Queue) ShutDown() { q.q.ShutDown() }

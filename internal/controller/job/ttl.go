package job

import (
	"context"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"tug/internal/controller"
	"tug/internal/controller/loop"
)

// TTL deletes finished jobs whose ttlSecondsAfterFinished has passed. The deletion
// is in the foreground: the job stays (with a deletion timestamp) until the garbage
// collector has removed its pods.
type TTL struct {
	client  kubernetes.Interface
	clock   clock.PassiveClock
	jobs    batchlisters.JobLister
	synced  cache.InformerSynced
	queue   *loop.Queue
	workers int
}

// NewTTL wires the TTL controller to the shared job informer.
func NewTTL(c *controller.Context) *TTL {
	inf := c.Informers.Batch().V1().Jobs()
	t := &TTL{client: c.Client, clock: c.Clock, jobs: inf.Lister(), synced: inf.Informer().HasSynced,
		queue: loop.New("ttl-after-finished", c.Clock), workers: c.Options.Workers}
	add := func(obj interface{}) {
		if j, ok := obj.(*batchv1.Job); ok && j.Spec.TTLSecondsAfterFinished != nil && j.DeletionTimestamp == nil && finished(j) {
			t.queue.AddObject(j)
		}
	}
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    add,
		UpdateFunc: func(_, cur interface{}) { add(cur) },
	})
	return t
}

// Run implements controller.Runner.
func (t *TTL) Run(ctx context.Context) { t.queue.Run(ctx, t.workers, t.reconcile, t.synced) }

// expiry is when a finished job with a TTL may go.
func expiry(j *batchv1.Job) (time.Time, bool) {
	if j.Spec.TTLSecondsAfterFinished == nil || j.DeletionTimestamp != nil {
		return time.Time{}, false
	}
	at, ok := finishTime(j)
	if !ok {
		return time.Time{}, false
	}
	return at.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second), true
}

func (t *TTL) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	j, err := t.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	at, ok := expiry(j)
	if !ok {
		return nil
	}
	if wait := at.Sub(t.clock.Now()); wait > 0 {
		t.queue.AddAfter(key, wait)
		return nil
	}
	// The cache may be behind a user who just changed the TTL: check the job itself.
	fresh, err := t.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	at, ok = expiry(fresh)
	if !ok {
		return nil
	}
	if wait := at.Sub(t.clock.Now()); wait > 0 {
		t.queue.AddAfter(key, wait)
		return nil
	}
	fg := metav1.DeletePropagationForeground
	err = t.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &fg,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID, ResourceVersion: &fresh.ResourceVersion},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err == nil {
		slog.Info("deleted finished job after its TTL", "ns", ns, "job", name)
	}
	return err
}

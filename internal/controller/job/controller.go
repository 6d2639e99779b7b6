// Package job runs Jobs: pods that run to completion, as many at once as
// parallelism allows, until completions pods succeeded (or every index of an
// Indexed job did), replacing failed pods with an exponential back-off until
// backoffLimit failures, and stopping at activeDeadlineSeconds or when suspended.
//
// Every pod carries the batch.kubernetes.io/job-tracking finalizer until it has been
// counted: the pod's UID goes into status.uncountedTerminatedPods first, then the
// finalizer is removed, then the counters move. Each step is written before the
// next, so a restart at any point neither loses a pod nor counts it twice.
//
// The package also holds the TTL-after-finished controller, which deletes finished
// jobs (and, through the garbage collector, their pods) once their TTL has passed.
package job

import (
	"context"
	"fmt"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"tug/internal/controller"
	"tug/internal/controller/loop"
	"tug/internal/controller/podutil"
)

var kind = batchv1.SchemeGroupVersion.WithKind("Job")

func init() {
	controller.Register("job", func(c *controller.Context) (controller.Runner, error) {
		return New(c)
	})
	controller.Register("ttl-after-finished", func(c *controller.Context) (controller.Runner, error) {
		return NewTTL(c), nil
	})
}

// Controller reconciles Jobs.
type Controller struct {
	client   kubernetes.Interface
	clock    clock.PassiveClock
	jobs     batchlisters.JobLister
	pods     cache.Indexer // with podutil.ControllerIndex
	synced   []cache.InformerSynced
	queue    *loop.Queue
	recorder record.EventRecorder
	workers  int
	expect   *podutil.Expectations
	// released remembers pods whose tracking finalizer was removed until the
	// informer shows it gone, so that a stale cache does not count them again.
	released *uidSets
	// quiet remembers pods this controller deleted on purpose (suspension, surplus,
	// success reached): their ending is not a failure.
	quiet    *uidSets
	backoffs *backoffs
}

// New wires the controller to the shared informers.
func New(c *controller.Context) (*Controller, error) {
	jobInf := c.Informers.Batch().V1().Jobs()
	podInf := c.Informers.Core().V1().Pods()
	if err := podutil.AddControllerIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	ctl := &Controller{
		client:   c.Client,
		clock:    c.Clock,
		jobs:     jobInf.Lister(),
		pods:     podInf.Informer().GetIndexer(),
		synced:   []cache.InformerSynced{jobInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:    loop.New("job", c.Clock),
		recorder: c.Recorder("job-controller"),
		workers:  c.Options.Workers,
		expect:   podutil.NewExpectations(c.Clock),
		released: newUIDSets(),
		quiet:    newUIDSets(),
		backoffs: &backoffs{m: map[string]*backoffRecord{}},
	}
	jobInf.Informer().AddEventHandler(ctl.queue.Handler())
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    ctl.podAdded,
		UpdateFunc: ctl.podUpdated,
		DeleteFunc: ctl.podDeleted,
	})
	return ctl, nil
}

// Run implements controller.Runner.
func (c *Controller) Run(ctx context.Context) {
	c.queue.Run(ctx, c.workers, c.reconcile, c.synced...)
}

func ownerKey(pod *corev1.Pod) string {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != kind.Kind || ref.APIVersion != kind.GroupVersion().String() {
		return ""
	}
	return pod.Namespace + "/" + ref.Name
}

func (c *Controller) podAdded(obj interface{}) {
	pod := obj.(*corev1.Pod)
	key := ownerKey(pod)
	if key == "" {
		c.queueMatching(pod)
		return
	}
	c.expect.CreationObserved(key)
	if pod.DeletionTimestamp != nil {
		c.expect.DeletionObserved(key, pod.UID)
	}
	c.queue.Add(key)
}

func (c *Controller) podUpdated(old, cur interface{}) {
	o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
	if o.ResourceVersion == n.ResourceVersion {
		return
	}
	if k := ownerKey(o); k != "" && k != ownerKey(n) {
		c.queue.Add(k)
	}
	key := ownerKey(n)
	if key == "" {
		c.queueMatching(n)
		return
	}
	if n.DeletionTimestamp != nil {
		c.expect.DeletionObserved(key, n.UID)
	}
	if !hasFinalizer(n) {
		c.released.remove(key, n.UID)
	}
	c.queue.Add(key)
}

func (c *Controller) podDeleted(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key := ownerKey(pod)
	if key == "" {
		return
	}
	c.expect.DeletionObserved(key, pod.UID)
	c.released.remove(key, pod.UID)
	c.quiet.remove(key, pod.UID)
	c.queue.Add(key)
}

// queueMatching queues the jobs (with manual selectors) an orphan pod could join.
func (c *Controller) queueMatching(pod *corev1.Pod) {
	if pod.DeletionTimestamp != nil {
		return
	}
	jobs, err := c.jobs.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, j := range jobs {
		sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.queue.Add(j.Namespace + "/" + j.Name)
		}
	}
}

func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	job, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expect.Forget(key)
		c.backoffs.forget(key)
		return c.releaseOrphans(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, job)
	if err != nil {
		return err
	}
	if job.DeletionTimestamp != nil || finished(job) {
		// Nothing is counted any more; let the pods go.
		return c.releaseAll(ctx, key, pods)
	}
	s := &syncer{c: c, key: key, job: job, pods: pods, now: c.clock.Now(), mayAct: c.expect.Satisfied(key)}
	if err := s.run(ctx); err != nil {
		return err
	}
	if s.requeue > 0 {
		c.queue.AddAfter(key, s.requeue)
	}
	return nil
}

func (c *Controller) claimPods(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s: selector: %w", job.Namespace, job.Name, err)
	}
	cl := &podutil.Claimer{
		Owner: job, Kind: kind, Selector: sel,
		Recheck: func(ctx context.Context) (metav1.Object, error) {
			return c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		},
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	return podutil.Claim(ctx, cl, podutil.OwnedOrOrphan[*corev1.Pod](c.pods, job.Namespace, job.UID))
}

// releaseOrphans removes the tracking finalizer from pods of a job that is gone.
func (c *Controller) releaseOrphans(ctx context.Context, ns, name string) error {
	objs, err := c.pods.ByIndex(cache.NamespaceIndex, ns)
	if err != nil {
		return err
	}
	var pods []*corev1.Pod
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.Kind == kind.Kind && ref.Name == name && hasFinalizer(p) {
			pods = append(pods, p)
		}
	}
	return c.releaseAll(ctx, ns+"/"+name, pods)
}

func (c *Controller) releaseAll(ctx context.Context, key string, pods []*corev1.Pod) error {
	var todo []*corev1.Pod
	for _, p := range pods {
		if hasFinalizer(p) && !c.released.has(key, p.UID) {
			todo = append(todo, p)
		}
	}
	_, err := c.removeFinalizers(ctx, key, todo)
	return err
}

// finalizerPatch removes the tracking finalizer (and nothing else).
var finalizerPatch = []byte(fmt.Sprintf(`{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q]}}`, batchv1.JobTrackingFinalizer))

// removeFinalizers releases pods concurrently; it returns the UIDs released (or
// already gone) and the first error.
func (c *Controller) removeFinalizers(ctx context.Context, key string, pods []*corev1.Pod) (map[types.UID]bool, error) {
	done := map[types.UID]bool{}
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, p := range pods {
		wg.Add(1)
		sem <- struct{}{}
		go func(p *corev1.Pod) {
			defer func() { <-sem; wg.Done() }()
			_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, finalizerPatch, metav1.PatchOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err == nil || apierrors.IsNotFound(err) {
				done[p.UID] = true
				if err == nil {
					c.released.add(key, p.UID)
				}
				return
			}
			if first == nil {
				first = fmt.Errorf("job %s: remove tracking finalizer of pod %s: %w", key, p.Name, err)
			}
		}(p)
	}
	wg.Wait()
	return done, first
}

// uidSets is a set of pod UIDs per job key.
type uidSets struct {
	mu sync.Mutex
	m  map[string]map[types.UID]bool
}

func newUIDSets() *uidSets { return &uidSets{m: map[string]map[types.UID]bool{}} }

func (s *uidSets) add(key string, uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[key] == nil {
		s.m[key] = map[types.UID]bool{}
	}
	s.m[key][uid] = true
}

func (s *uidSets) has(key string, uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key][uid]
}

func (s *uidSets) remove(key string, uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if set := s.m[key]; set != nil {
		delete(set, uid)
		if len(set) == 0 {
			delete(s.m, key)
		}
	}
}

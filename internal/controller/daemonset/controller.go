// Package daemonset runs DaemonSets: one pod on every node the pod template fits
// (node selector, required node affinity, taints against tolerations), made when a
// node joins or starts to fit and removed when it leaves or stops fitting. A pod is
// tied to its node by a required node affinity on the node's name, which the
// scheduler honours. Template changes roll out node by node (RollingUpdate with
// maxUnavailable or maxSurge) or when users delete pods (OnDelete); templates are
// kept as ControllerRevisions for `kubectl rollout history/undo ds`.
package daemonset

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"tug/internal/controller"
	"tug/internal/controller/history"
	"tug/internal/controller/loop"
	"tug/internal/controller/podutil"
)

var kind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

func init() {
	controller.Register("daemonset", func(c *controller.Context) (controller.Runner, error) {
		return New(c)
	})
}

// Controller reconciles DaemonSets.
type Controller struct {
	client   kubernetes.Interface
	clock    clock.PassiveClock
	sets     appslisters.DaemonSetLister
	pods     cache.Indexer // with podutil.ControllerIndex
	nodes    corelisters.NodeLister
	revs     appslisters.ControllerRevisionLister
	synced   []cache.InformerSynced
	queue    *loop.Queue
	recorder record.EventRecorder
	workers  int
	expect   *podutil.Expectations
	backoff  *failBackoff
}

// New wires the controller to the shared informers.
func New(c *controller.Context) (*Controller, error) {
	setInf := c.Informers.Apps().V1().DaemonSets()
	podInf := c.Informers.Core().V1().Pods()
	nodeInf := c.Informers.Core().V1().Nodes()
	revInf := c.Informers.Apps().V1().ControllerRevisions()
	if err := podutil.AddControllerIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	ctl := &Controller{
		client:   c.Client,
		clock:    c.Clock,
		sets:     setInf.Lister(),
		pods:     podInf.Informer().GetIndexer(),
		nodes:    nodeInf.Lister(),
		revs:     revInf.Lister(),
		synced:   []cache.InformerSynced{setInf.Informer().HasSynced, podInf.Informer().HasSynced, nodeInf.Informer().HasSynced, revInf.Informer().HasSynced},
		queue:    loop.New("daemonset", c.Clock),
		recorder: c.Recorder("daemonset-controller"),
		workers:  c.Options.Workers,
		expect:   podutil.NewExpectations(c.Clock),
		backoff:  &failBackoff{clock: c.Clock, m: map[string]*backoffEntry{}},
	}
	setInf.Informer().AddEventHandler(ctl.queue.Handler())
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    ctl.podAdded,
		UpdateFunc: ctl.podUpdated,
		DeleteFunc: ctl.podDeleted,
	})
	nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(interface{}) { ctl.queueAll() },
		UpdateFunc: func(old, cur interface{}) {
			o, n := old.(*corev1.Node), cur.(*corev1.Node)
			if !equality.Semantic.DeepEqual(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) {
				ctl.queueAll()
			}
		},
		DeleteFunc: func(interface{}) { ctl.queueAll() },
	})
	revInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj interface{}) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if r, ok := obj.(*appsv1.ControllerRevision); ok {
				if ref := metav1.GetControllerOfNoCopy(r); ref != nil && ref.Kind == kind.Kind {
					ctl.queue.Add(r.Namespace + "/" + ref.Name)
				}
			}
		},
	})
	return ctl, nil
}

// Run implements controller.Runner.
func (c *Controller) Run(ctx context.Context) {
	c.queue.Run(ctx, c.workers, c.reconcile, c.synced...)
}

func (c *Controller) queueAll() {
	sets, err := c.sets.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range sets {
		c.queue.Add(s.Namespace + "/" + s.Name)
	}
}

// ownerKey is the key of the DaemonSet controlling pod, or "".
func ownerKey(pod *corev1.Pod) string {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != kind.Kind || ref.APIVersion != kind.GroupVersion().String() {
		return ""
	}
	return pod.Namespace + "/" + ref.Name
}

// queueMatching queues the sets an orphan pod could belong to.
func (c *Controller) queueMatching(pod *corev1.Pod) {
	sets, err := c.sets.DaemonSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range sets {
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

func (c *Controller) podAdded(obj interface{}) {
	pod := obj.(*corev1.Pod)
	key := ownerKey(pod)
	if key == "" {
		if pod.DeletionTimestamp == nil {
			c.queueMatching(pod)
		}
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
	if ok := ownerKey(o); ok != "" && ok != ownerKey(n) {
		c.queue.Add(ok)
	}
	key := ownerKey(n)
	if key == "" {
		if n.DeletionTimestamp == nil {
			c.queueMatching(n)
		}
		return
	}
	if n.DeletionTimestamp != nil {
		c.expect.DeletionObserved(key, n.UID)
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
	if key := ownerKey(pod); key != "" {
		c.expect.DeletionObserved(key, pod.UID)
		c.queue.Add(key)
	}
}

func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ds, err := c.sets.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expect.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if ds.DeletionTimestamp != nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	// Decide whether we may act before looking at the pods, so that a create seen
	// just after the listing does not count twice.
	mayAct := c.expect.Satisfied(key)
	pods, err := c.claimPods(ctx, ds, sel)
	if err != nil {
		return err
	}
	revs, err := history.Owned(c.revs, ds, labels.Everything())
	if err != nil {
		return err
	}
	data, err := history.TemplatePatch(&ds.Spec.Template)
	if err != nil {
		return err
	}
	var collisions int32
	if ds.Status.CollisionCount != nil {
		collisions = *ds.Status.CollisionCount
	}
	update, revs, err := history.Client{Client: c.client}.Sync(ctx, revs, ds, kind, ds.Spec.Template.Labels, data, &collisions)
	if err != nil {
		return fmt.Errorf("daemonset %s: revision: %w", key, err)
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	hash := update.Labels[history.HashLabel]
	retry := func(string) (bool, time.Duration) { return false, 0 }
	if mayAct {
		retry = func(node string) (bool, time.Duration) { return c.backoff.retry(string(ds.UID) + "/" + node) }
	}
	pl := decide(input{ds: ds, hash: hash, nodes: nodes, pods: pods, now: c.clock.Now(), mayAct: mayAct, retryFailed: retry})

	actErr := c.act(ctx, key, ds, hash, &pl)
	st := pl.status
	st.CollisionCount = &collisions
	if err := c.updateStatus(ctx, ds, st); err != nil {
		return err
	}
	if actErr != nil {
		return actErr
	}
	live := map[string]bool{update.Name: true}
	for _, p := range pods {
		live[history.Name(ds.Name, p.Labels[history.HashLabel])] = true
	}
	limit := int32(10)
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = *ds.Spec.RevisionHistoryLimit
	}
	if err := (history.Client{Client: c.client}).Truncate(ctx, revs, live, limit); err != nil {
		return err
	}
	if pl.requeue > 0 {
		c.queue.AddAfter(key, pl.requeue)
	}
	return nil
}

func (c *Controller) claimPods(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) ([]*corev1.Pod, error) {
	cl := &podutil.Claimer{
		Owner: ds, Kind: kind, Selector: sel,
		Recheck: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		},
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	return podutil.Claim(ctx, cl, podutil.OwnedOrOrphan[*corev1.Pod](c.pods, ds.Namespace, ds.UID))
}

// act carries out a plan, telling the expectations what to wait for.
func (c *Controller) act(ctx context.Context, key string, ds *appsv1.DaemonSet, hash string, pl *plan) error {
	if pl.writes() == 0 {
		return nil
	}
	var uids []types.UID
	for _, p := range append(append([]*corev1.Pod(nil), pl.delete...), pl.forceDelete...) {
		uids = append(uids, p.UID)
	}
	c.expect.Expect(key, len(pl.create), uids)
	for _, p := range pl.failed {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDaemonPod", "Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, p.Spec.NodeName)
	}

	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	del := func(p *corev1.Pod, force bool) {
		opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}}
		if force {
			zero := int64(0)
			opts.GracePeriodSeconds = &zero
		}
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, opts)
		switch {
		case err == nil:
			c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			c.expect.DeletionObserved(key, p.UID)
		default:
			c.expect.DeletionObserved(key, p.UID)
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			fail(fmt.Errorf("daemonset %s: delete pod %s: %w", key, p.Name, err))
		}
	}
	var wg sync.WaitGroup
	for _, p := range pl.delete {
		wg.Add(1)
		go func(p *corev1.Pod) { defer wg.Done(); del(p, false) }(p)
	}
	for _, p := range pl.forceDelete {
		wg.Add(1)
		go func(p *corev1.Pod) { defer wg.Done(); del(p, true) }(p)
	}

	made, err := podutil.SlowStartBatch(len(pl.create), 1, func(i int) error {
		pod := newPod(ds, hash, pl.create[i])
		created, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				// Counted as made; it will never be seen.
				c.expect.CreationObserved(key)
				return nil
			}
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
		return nil
	})
	if missed := len(pl.create) - made; missed > 0 {
		c.expect.CreationsObserved(key, missed)
	}
	if err != nil {
		fail(fmt.Errorf("daemonset %s: create pods: %w", key, err))
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, st appsv1.DaemonSetStatus) error {
	st.Conditions = ds.Status.Conditions
	if equality.Semantic.DeepEqual(ds.Status, st) {
		return nil
	}
	cp := ds.DeepCopy()
	cp.Status = st
	_, err := c.client.AppsV1().DaemonSets(cp.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil
}

// failBackoff spaces out the replacement of daemon pods that keep failing on the
// same node: 1s, 2s, 4s, ... up to 15 minutes.
type failBackoff struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	m     map[string]*backoffEntry
}

type backoffEntry struct {
	delay time.Duration
	next  time.Time
}

const (
	backoffInitial = time.Second
	backoffMax     = 15 * time.Minute
)

func (b *failBackoff) retry(key string) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	for k, e := range b.m {
		if now.Sub(e.next) > 2*backoffMax {
			delete(b.m, k)
		}
	}
	e, ok := b.m[key]
	if !ok {
		b.m[key] = &backoffEntry{delay: backoffInitial, next: now.Add(backoffInitial)}
		return true, 0
	}
	if now.Before(e.next) {
		return false, e.next.Sub(now)
	}
	e.delay *= 2
	if e.delay > backoffMax {
		e.delay = backoffMax
	}
	e.next = now.Add(e.delay)
	return true, 0
}

// Package statefulset runs StatefulSets: pods with stable names <set>-0..N-1 and
// their own PersistentVolumeClaims, created in order (or all at once), removed from
// the highest ordinal down, and updated one by one from the highest ordinal down to
// the partition. Pod templates are kept as ControllerRevisions (package history),
// which `kubectl rollout history/undo sts` read.
package statefulset

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
	"tug/internal/controller/loop"
	"tug/internal/controller/podutil"
)

var kind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

func init() {
	controller.Register("statefulset", func(c *controller.Context) (controller.Runner, error) {
		return New(c)
	})
}

// Controller reconciles StatefulSets.
type Controller struct {
	client   kubernetes.Interface
	clock    clock.PassiveClock
	sets     appslisters.StatefulSetLister
	pods     cache.Indexer // with podutil.ControllerIndex
	claims   corelisters.PersistentVolumeClaimLister
	revs     appslisters.ControllerRevisionLister
	synced   []cache.InformerSynced
	queue    *loop.Queue
	recorder record.EventRecorder
	workers  int
}

// New wires the controller to the shared informers.
func New(c *controller.Context) (*Controller, error) {
	setInf := c.Informers.Apps().V1().StatefulSets()
	podInf := c.Informers.Core().V1().Pods()
	pvcInf := c.Informers.Core().V1().PersistentVolumeClaims()
	revInf := c.Informers.Apps().V1().ControllerRevisions()
	if err := podutil.AddControllerIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	ctl := &Controller{
		client:   c.Client,
		clock:    c.Clock,
		sets:     setInf.Lister(),
		pods:     podInf.Informer().GetIndexer(),
		claims:   pvcInf.Lister(),
		revs:     revInf.Lister(),
		synced:   []cache.InformerSynced{setInf.Informer().HasSynced, podInf.Informer().HasSynced, pvcInf.Informer().HasSynced, revInf.Informer().HasSynced},
		queue:    loop.New("statefulset", c.Clock),
		recorder: c.Recorder("statefulset-controller"),
		workers:  c.Options.Workers,
	}
	setInf.Informer().AddEventHandler(ctl.queue.Handler())
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    ctl.podChanged,
		UpdateFunc: func(old, cur interface{}) { ctl.podChanged(old); ctl.podChanged(cur) },
		DeleteFunc: ctl.podChanged,
	})
	revInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: ctl.ownedChanged,
	})
	return ctl, nil
}

// Run implements controller.Runner.
func (c *Controller) Run(ctx context.Context) {
	c.queue.Run(ctx, c.workers, c.reconcile, c.synced...)
}

// podChanged queues the set that controls the pod, or for an orphan every set whose
// selector matches it (one of them may adopt it).
func (c *Controller) podChanged(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if ref.Kind == kind.Kind && ref.APIVersion == kind.GroupVersion().String() {
			c.queue.Add(pod.Namespace + "/" + ref.Name)
		}
		return
	}
	if pod.DeletionTimestamp != nil {
		return
	}
	sets, err := c.sets.StatefulSets(pod.Namespace).List(labels.Everything())
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

func (c *Controller) ownedChanged(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(m); ref != nil && ref.Kind == kind.Kind {
		c.queue.Add(m.GetNamespace() + "/" + ref.Name)
	}
}

func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	set, err := c.sets.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if set.DeletionTimestamp != nil {
		// The garbage collector removes the pods; nothing to create meanwhile.
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		c.recorder.Eventf(set, corev1.EventTypeWarning, "InvalidSelector", "invalid selector: %v", err)
		return nil
	}
	pods, err := c.claimPods(ctx, set, sel)
	if err != nil {
		return err
	}
	s := &syncer{c: c, set: set, now: c.clock.Now()}
	if err := s.revisions(ctx, sel); err != nil {
		return err
	}
	syncErr := s.run(ctx, pods)
	if err := c.updateStatus(ctx, set, s.status(pods)); err != nil {
		return err
	}
	if syncErr != nil {
		return syncErr
	}
	if err := s.truncateHistory(ctx, pods); err != nil {
		return err
	}
	if s.requeue > 0 {
		c.queue.AddAfter(key, s.requeue)
	}
	return nil
}

// claimPods lists the set's pods: those it controls that match its selector,
// adopting orphans that match and carry a member name (<set>-<ordinal>), and
// releasing controlled pods that no longer match.
func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) ([]*corev1.Pod, error) {
	all := podutil.OwnedOrOrphan[*corev1.Pod](c.pods, set.Namespace, set.UID)
	var candidates []*corev1.Pod
	for _, p := range all {
		if podutil.IsControlledBy(p, set.UID) || ordinalOf(set, p) >= 0 {
			candidates = append(candidates, p)
		}
	}
	cl := &podutil.Claimer{
		Owner: set, Kind: kind, Selector: sel,
		Recheck: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
		},
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	pods, err := podutil.Claim(ctx, cl, candidates)
	if err != nil {
		return nil, err
	}
	out := pods[:0]
	for _, p := range pods {
		if ordinalOf(set, p) >= 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

// updateStatus writes status when it changed.
func (c *Controller) updateStatus(ctx context.Context, set *appsv1.StatefulSet, st appsv1.StatefulSetStatus) error {
	if statusEqual(set.Status, st) {
		return nil
	}
	cp := set.DeepCopy()
	cp.Status = st
	_, err := c.client.AppsV1().StatefulSets(cp.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update status of statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	slog.Debug("statefulset status", "ns", set.Namespace, "statefulset", set.Name, "replicas", st.Replicas, "ready", st.ReadyReplicas, "updated", st.UpdatedReplicas)
	return nil
}

func statusEqual(a, b appsv1.StatefulSetStatus) bool {
	ca, cb := int32(0), int32(0)
	if a.CollisionCount != nil {
		ca = *a.CollisionCount
	}
	if b.CollisionCount != nil {
		cb = *b.CollisionCount
	}
	return a.ObservedGeneration == b.ObservedGeneration && a.Replicas == b.Replicas && a.ReadyReplicas == b.ReadyReplicas &&
		a.CurrentReplicas == b.CurrentReplicas && a.UpdatedReplicas == b.UpdatedReplicas && a.AvailableReplicas == b.AvailableReplicas &&
		a.CurrentRevision == b.CurrentRevision && a.UpdateRevision == b.UpdateRevision && ca == cb && (a.CollisionCount == nil) == (b.CollisionCount == nil)
}

// requeueAt keeps the earliest positive delay.
func requeueAt(cur, d time.Duration) time.Duration {
	if d <= 0 {
		return cur
	}
	if cur == 0 || d < cur {
		return d
	}
	return cur
}

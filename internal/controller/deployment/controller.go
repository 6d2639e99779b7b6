package deployment

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"tug/internal/controller"
	"tug/internal/controller/loop"
	"tug/internal/controller/podutil"
)

func init() {
	controller.Register("deployment", func(c *controller.Context) (controller.Runner, error) { return New(c) })
}

var deploymentKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Controller is the Deployment controller.
type Controller struct {
	client      kubernetes.Interface
	deployments appslisters.DeploymentLister
	rsIndexer   cache.Indexer
	podIndexer  cache.Indexer
	queue       *loop.Queue
	clock       clock.WithTicker
	recorder    record.EventRecorder
	workers     int
	synced      []cache.InformerSynced
}

// New builds the controller over the shared informers.
func New(c *controller.Context) (*Controller, error) {
	dInf := c.Informers.Apps().V1().Deployments()
	rsInf := c.Informers.Apps().V1().ReplicaSets()
	podInf := c.Informers.Core().V1().Pods()
	for _, inf := range []cache.SharedIndexInformer{rsInf.Informer(), podInf.Informer()} {
		if err := podutil.AddControllerIndex(inf); err != nil {
			return nil, err
		}
	}
	dc := &Controller{
		client:      c.Client,
		deployments: dInf.Lister(),
		rsIndexer:   rsInf.Informer().GetIndexer(),
		podIndexer:  podInf.Informer().GetIndexer(),
		queue:       loop.New("deployment", c.Clock),
		clock:       c.Clock,
		recorder:    c.Recorder("deployment-controller"),
		workers:     c.Options.Workers,
		synced:      []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
	}
	if _, err := dInf.Informer().AddEventHandler(dc.queue.Handler()); err != nil {
		return nil, err
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    dc.rsChanged,
		UpdateFunc: func(old, cur interface{}) { dc.rsChanged(old); dc.rsChanged(cur) },
		DeleteFunc: dc.rsChanged,
	}); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: dc.podDeleted}); err != nil {
		return nil, err
	}
	return dc, nil
}

// Run implements controller.Runner.
func (dc *Controller) Run(ctx context.Context) {
	dc.queue.Run(ctx, dc.workers, dc.reconcile, dc.synced...)
}

func unwrap(obj interface{}) interface{} {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

// owner returns the Deployment that controls obj, or nil.
func (dc *Controller) owner(obj metav1.Object) *appsv1.Deployment {
	ref := podutil.ControllerRefOf(obj)
	if ref == nil || ref.Kind != "Deployment" {
		return nil
	}
	d, err := dc.deployments.Deployments(obj.GetNamespace()).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// rsChanged queues the Deployment of a ReplicaSet, or for an orphan every
// Deployment that could adopt it.
func (dc *Controller) rsChanged(obj interface{}) {
	rs, ok := unwrap(obj).(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if podutil.ControllerRefOf(rs) != nil {
		if d := dc.owner(rs); d != nil {
			dc.queue.AddObject(d)
		}
		return
	}
	ds, err := dc.deployments.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range ds {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(rs.Labels)) {
			dc.queue.AddObject(d)
		}
	}
}

// podDeleted wakes a Recreate rollout that waits for the old pods to go.
func (dc *Controller) podDeleted(obj interface{}) {
	pod, ok := unwrap(obj).(*corev1.Pod)
	if !ok {
		return
	}
	ref := podutil.ControllerRefOf(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	o, exists, err := dc.rsIndexer.GetByKey(pod.Namespace + "/" + ref.Name)
	if err != nil || !exists {
		return
	}
	rs := o.(*appsv1.ReplicaSet)
	if rs.UID != ref.UID {
		return
	}
	if d := dc.owner(rs); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		dc.queue.AddObject(d)
	}
}

func isGone(err error) bool { return apierrors.IsNotFound(err) || apierrors.IsConflict(err) }

// claim returns private copies of the ReplicaSets d controls, adopting and releasing.
func (dc *Controller) claim(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	candidates := podutil.OwnedOrOrphan[*appsv1.ReplicaSet](dc.rsIndexer, d.Namespace, d.UID)
	cl := &podutil.Claimer{
		Owner: d, Kind: deploymentKind, Selector: sel,
		Recheck: func(ctx context.Context) (metav1.Object, error) {
			return dc.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		},
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := dc.client.AppsV1().ReplicaSets(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	owned, err := podutil.Claim(ctx, cl, candidates)
	out := make([]*appsv1.ReplicaSet, len(owned))
	for i, rs := range owned {
		out[i] = rs.DeepCopy()
	}
	return out, err
}

// reconcile brings one Deployment one step closer to its spec.
func (dc *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := dc.deployments.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		dc.recorder.Event(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			st := *d.Status.DeepCopy()
			st.ObservedGeneration = d.Generation
			return dc.writeStatus(ctx, d, st)
		}
		return nil
	}
	rss, err := dc.claim(ctx, d)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, old, _ := versions(d, rss)
		return dc.syncStatus(ctx, d, withNew(old, newRS), newRS)
	}
	if err := dc.syncPaused(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused || scalingEvent(d, rss) {
		return dc.resize(ctx, d, rss)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return dc.recreate(ctx, d, rss)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return dc.rolling(ctx, d, rss)
	}
	return fmt.Errorf("deployment %s has unknown strategy %q", key, d.Spec.Strategy.Type)
}

// resize handles a paused Deployment or a change of size: the ReplicaSets are
// scaled, no new version is rolled out.
func (dc *Controller) resize(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := dc.syncVersions(ctx, d, rss, false)
	if err != nil {
		return err
	}
	if err := dc.scale(ctx, d, newRS, old); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := dc.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return dc.syncStatus(ctx, d, withNew(old, newRS), newRS)
}

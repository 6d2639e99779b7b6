// Package disruption keeps the status of PodDisruptionBudgets: how many of the pods
// a budget selects are healthy (Ready), how many must stay healthy (from
// minAvailable or maxUnavailable; percentages are of the pods' controllers' scale),
// and how many may be disrupted now. The eviction subresource spends that
// allowance and notes each evicted pod in status.disruptedPods; the controller
// forgets those notes once the pod is gone or after two minutes.
package disruption

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"tug/internal/controller"
	"tug/internal/controller/loop"
	"tug/internal/controller/podutil"
)

func init() {
	controller.Register("disruption", func(c *controller.Context) (controller.Runner, error) { return New(c) })
}

// DeletionTimeout is how long an evicted pod counts as disrupted when its deletion
// is not seen.
const DeletionTimeout = 2 * time.Minute

// Controller is the disruption controller.
type Controller struct {
	client       kubernetes.Interface
	pdbs         policylisters.PodDisruptionBudgetLister
	pods         corelisters.PodLister
	rcs          corelisters.ReplicationControllerLister
	rss          appslisters.ReplicaSetLister
	deployments  appslisters.DeploymentLister
	statefulSets appslisters.StatefulSetLister
	queue        *loop.Queue
	clock        clock.WithTicker
	recorder     record.EventRecorder
	workers      int
	synced       []cache.InformerSynced
	// scaleOf reads the scale subresource of a controller of another kind.
	scaleOf func(ctx context.Context, ns string, ref *metav1.OwnerReference) (int32, types.UID, error)
}

// New builds the controller.
func New(c *controller.Context) (*Controller, error) {
	f := c.Informers
	pdbInf := f.Policy().V1().PodDisruptionBudgets()
	podInf := f.Core().V1().Pods()
	dc := &Controller{
		client:       c.Client,
		pdbs:         pdbInf.Lister(),
		pods:         podInf.Lister(),
		rcs:          f.Core().V1().ReplicationControllers().Lister(),
		rss:          f.Apps().V1().ReplicaSets().Lister(),
		deployments:  f.Apps().V1().Deployments().Lister(),
		statefulSets: f.Apps().V1().StatefulSets().Lister(),
		queue:        loop.New("disruption", c.Clock),
		clock:        c.Clock,
		recorder:     c.Recorder("controllermanager"),
		workers:      c.Options.Workers,
	}
	dc.scaleOf = dc.readScale
	dc.synced = []cache.InformerSynced{
		pdbInf.Informer().HasSynced, podInf.Informer().HasSynced,
		f.Core().V1().ReplicationControllers().Informer().HasSynced, f.Apps().V1().ReplicaSets().Informer().HasSynced,
		f.Apps().V1().Deployments().Informer().HasSynced, f.Apps().V1().StatefulSets().Informer().HasSynced,
	}
	if _, err := pdbInf.Informer().AddEventHandler(dc.queue.Handler()); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    dc.podChanged,
		UpdateFunc: func(old, cur interface{}) { dc.podChanged(cur) },
		DeleteFunc: dc.podChanged,
	}); err != nil {
		return nil, err
	}
	// A controller's new size changes percentages.
	resized := cache.ResourceEventHandlerFuncs{UpdateFunc: func(old, cur interface{}) {
		if replicasOf(old) != replicasOf(cur) {
			if m, ok := cur.(metav1.Object); ok {
				dc.queueNamespace(m.GetNamespace())
			}
		}
	}}
	for _, inf := range []cache.SharedIndexInformer{
		f.Core().V1().ReplicationControllers().Informer(), f.Apps().V1().ReplicaSets().Informer(),
		f.Apps().V1().Deployments().Informer(), f.Apps().V1().StatefulSets().Informer(),
	} {
		if _, err := inf.AddEventHandler(resized); err != nil {
			return nil, err
		}
	}
	return dc, nil
}

func replicasOf(obj interface{}) int32 {
	var r *int32
	switch o := obj.(type) {
	case *corev1.ReplicationController:
		r = o.Spec.Replicas
	case *appsv1.ReplicaSet:
		r = o.Spec.Replicas
	case *appsv1.Deployment:
		r = o.Spec.Replicas
	case *appsv1.StatefulSet:
		r = o.Spec.Replicas
	}
	if r == nil {
		return 1
	}
	return *r
}

// Run implements controller.Runner.
func (dc *Controller) Run(ctx context.Context) {
	dc.queue.Run(ctx, dc.workers, dc.reconcile, dc.synced...)
}

func (dc *Controller) queueNamespace(ns string) {
	pdbs, _ := dc.pdbs.PodDisruptionBudgets(ns).List(labels.Everything())
	for _, p := range pdbs {
		dc.queue.AddObject(p)
	}
}

// podChanged queues the budgets that select the pod.
func (dc *Controller) podChanged(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	pdbs, _ := dc.pdbs.PodDisruptionBudgets(pod.Namespace).List(labels.Everything())
	for _, p := range pdbs {
		if sel, err := selectorOf(p); err == nil && sel.Matches(labels.Set(pod.Labels)) {
			dc.queue.AddObject(p)
		}
	}
}

// selectorOf: a missing selector selects nothing, an empty one every pod.
func selectorOf(pdb *policyv1.PodDisruptionBudget) (labels.Selector, error) {
	if pdb.Spec.Selector == nil {
		return labels.Nothing(), nil
	}
	return metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
}

// reconcile recomputes one budget's status.
func (dc *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pdb, err := dc.pdbs.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := selectorOf(pdb)
	if err != nil {
		return dc.failed(ctx, pdb, err)
	}
	pods, err := dc.pods.Pods(ns).List(sel)
	if err != nil {
		return err
	}
	if len(pods) == 0 && (pdb.Status.ObservedGeneration < pdb.Generation || pdb.Status.ExpectedPods > 0) {
		dc.recorder.Event(pdb, corev1.EventTypeNormal, "NoPods", "No pods match the selector of this budget")
	}
	expected, desired, err := dc.expectations(ctx, pdb, pods)
	if err != nil {
		dc.recorder.Eventf(pdb, corev1.EventTypeWarning, "CalculateExpectedPodCountFailed", "Failed to calculate the number of expected pods: %v", err)
		return dc.failed(ctx, pdb, err)
	}
	now := dc.clock.Now()
	disrupted, recheck := dc.stillDisrupted(pdb, pods, now)
	var healthy int32
	for _, p := range pods {
		if _, evicted := disrupted[p.Name]; !evicted && p.DeletionTimestamp == nil && podutil.IsReady(p) {
			healthy++
		}
	}
	allowed := healthy - desired
	if allowed < 0 || expected <= 0 {
		allowed = 0
	}
	st := policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: pdb.Generation,
		DisruptedPods:      disrupted,
		DisruptionsAllowed: allowed,
		CurrentHealthy:     healthy,
		DesiredHealthy:     desired,
		ExpectedPods:       expected,
		Conditions:         append([]metav1.Condition(nil), pdb.Status.Conditions...),
	}
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue, Reason: policyv1.SufficientPodsReason, ObservedGeneration: pdb.Generation}
	if allowed <= 0 {
		cond.Status, cond.Reason = metav1.ConditionFalse, policyv1.InsufficientPodsReason
	}
	setCondition(&st.Conditions, cond, now)
	if recheck > 0 {
		dc.queue.AddAfter(key, recheck)
	}
	return dc.writeStatus(ctx, pdb, st)
}

// stillDisrupted keeps the evicted pods that are neither gone nor being deleted,
// for DeletionTimeout; it returns them and when the earliest one expires.
func (dc *Controller) stillDisrupted(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (map[string]metav1.Time, time.Duration) {
	if len(pdb.Status.DisruptedPods) == 0 {
		return nil, 0
	}
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	out := map[string]metav1.Time{}
	var next time.Duration
	for name, at := range pdb.Status.DisruptedPods {
		p := byName[name]
		if p == nil || p.DeletionTimestamp != nil {
			continue
		}
		expires := at.Add(DeletionTimeout)
		if !expires.After(now) {
			continue
		}
		out[name] = at
		if d := expires.Sub(now); next == 0 || d < next {
			next = d
		}
	}
	if len(out) == 0 {
		return nil, 0
	}
	return out, next
}

// expectations returns how many pods the budget expects and how many must be
// healthy.
func (dc *Controller) expectations(ctx context.Context, pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (int32, int32, error) {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		expected, err := dc.expectedScale(ctx, pdb, pods)
		if err != nil {
			return 0, 0, err
		}
		unav, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, max(0, expected-int32(unav)), nil
	case pdb.Spec.MinAvailable != nil:
		if pdb.Spec.MinAvailable.Type == intstr.Int {
			return int32(len(pods)), pdb.Spec.MinAvailable.IntVal, nil
		}
		expected, err := dc.expectedScale(ctx, pdb, pods)
		if err != nil {
			return 0, 0, err
		}
		minAv, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, int32(minAv), nil
	}
	return 0, 0, nil
}

// expectedScale sums the scale of the controllers of the pods (a ReplicaSet of a
// Deployment counts as the Deployment).
func (dc *Controller) expectedScale(ctx context.Context, pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (int32, error) {
	controllers := map[types.UID]bool{}
	counted := map[types.UID]bool{}
	var total int32
	for _, p := range pods {
		ref := podutil.ControllerRefOf(p)
		if ref == nil {
			return 0, fmt.Errorf("pod %s/%s has no controller, so a percentage or maxUnavailable cannot be computed", p.Namespace, p.Name)
		}
		if controllers[ref.UID] {
			continue
		}
		controllers[ref.UID] = true
		n, uid, err := dc.controllerScale(ctx, p.Namespace, ref)
		if err != nil {
			return 0, err
		}
		if !counted[uid] {
			counted[uid] = true
			total += n
		}
	}
	return total, nil
}

// controllerScale returns the scale of a pod's controller and the UID of the object
// that owns that scale.
func (dc *Controller) controllerScale(ctx context.Context, ns string, ref *metav1.OwnerReference) (int32, types.UID, error) {
	gv, _ := schema.ParseGroupVersion(ref.APIVersion)
	notFound := fmt.Errorf("%s %s/%s of a selected pod was not found", ref.Kind, ns, ref.Name)
	switch {
	case gv.Group == "apps" && ref.Kind == "ReplicaSet":
		rs, err := dc.rss.ReplicaSets(ns).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return 0, "", notFound
		}
		if owner := podutil.ControllerRefOf(rs); owner != nil && owner.Kind == "Deployment" {
			if d, err := dc.deployments.Deployments(ns).Get(owner.Name); err == nil && d.UID == owner.UID {
				return replicasOf(d), d.UID, nil
			}
		}
		return replicasOf(rs), rs.UID, nil
	case gv.Group == "" && ref.Kind == "ReplicationController":
		rc, err := dc.rcs.ReplicationControllers(ns).Get(ref.Name)
		if err != nil || rc.UID != ref.UID {
			return 0, "", notFound
		}
		return replicasOf(rc), rc.UID, nil
	case gv.Group == "apps" && ref.Kind == "StatefulSet":
		ss, err := dc.statefulSets.StatefulSets(ns).Get(ref.Name)
		if err != nil || ss.UID != ref.UID {
			return 0, "", notFound
		}
		return replicasOf(ss), ss.UID, nil
	}
	return dc.scaleOf(ctx, ns, ref)
}

// readScale reads the scale subresource of a controller of any other kind.
func (dc *Controller) readScale(ctx context.Context, ns string, ref *metav1.OwnerReference) (int32, types.UID, error) {
	list, err := dc.client.Discovery().ServerResourcesForGroupVersion(ref.APIVersion)
	if err != nil {
		return 0, "", err
	}
	resource := ""
	for _, r := range list.APIResources {
		if r.Kind == ref.Kind && r.Name != "" && !containsSlash(r.Name) {
			resource = r.Name
		}
	}
	if resource == "" {
		return 0, "", fmt.Errorf("%s in %s is not served, so its scale is unknown", ref.Kind, ref.APIVersion)
	}
	prefix := "/apis/" + ref.APIVersion
	if ref.APIVersion == "v1" {
		prefix = "/api/v1"
	}
	var sc autoscalingv1.Scale
	err = dc.client.CoreV1().RESTClient().Get().AbsPath(prefix, "namespaces", ns, resource, ref.Name, "scale").Do(ctx).Into(&sc)
	if err != nil {
		return 0, "", fmt.Errorf("read the scale of %s %s/%s: %w", ref.Kind, ns, ref.Name, err)
	}
	if sc.UID != "" && sc.UID != ref.UID {
		return 0, "", fmt.Errorf("%s %s/%s was replaced", ref.Kind, ns, ref.Name)
	}
	return sc.Spec.Replicas, ref.UID, nil
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

// failed records that the budget's status could not be computed: nothing may be
// disrupted until it can.
func (dc *Controller) failed(ctx context.Context, pdb *policyv1.PodDisruptionBudget, cause error) error {
	st := *pdb.Status.DeepCopy()
	st.DisruptionsAllowed = 0
	setCondition(&st.Conditions, metav1.Condition{
		Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse, Reason: policyv1.SyncFailedReason,
		Message: cause.Error(), ObservedGeneration: pdb.Generation,
	}, dc.clock.Now())
	if err := dc.writeStatus(ctx, pdb, st); err != nil {
		return err
	}
	return cause
}

func (dc *Controller) writeStatus(ctx context.Context, pdb *policyv1.PodDisruptionBudget, st policyv1.PodDisruptionBudgetStatus) error {
	if equality.Semantic.DeepEqual(pdb.Status, st) {
		return nil
	}
	c := pdb.DeepCopy()
	c.Status = st
	_, err := dc.client.PolicyV1().PodDisruptionBudgets(c.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// setCondition replaces a condition, keeping its transition time if its status did
// not change.
func setCondition(conds *[]metav1.Condition, c metav1.Condition, now time.Time) {
	c.LastTransitionTime = metav1.NewTime(now)
	for i := range *conds {
		old := (*conds)[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		(*conds)[i] = c
		return
	}
	*conds = append(*conds, c)
}

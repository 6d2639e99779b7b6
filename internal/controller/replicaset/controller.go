package replicaset

import (
	"context"
	"fmt"
	"log/slog"
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
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"tug/internal/controller"
	"tug/internal/controller/loop"
	"tug/internal/controller/podutil"
)

func init() {
	controller.Register("replicaset", func(c *controller.Context) (controller.Runner, error) {
		return New(c, newReplicaSets(c.Client, c.Informers))
	})
	controller.Register("replicationcontroller", func(c *controller.Context) (controller.Runner, error) {
		return New(c, newReplicationControllers(c.Client, c.Informers))
	})
}

// BurstReplicas bounds the creates or deletes of one reconcile; the rest follow
// once those are observed.
const BurstReplicas = 500

// Controller runs one kind (ReplicaSet or ReplicationController).
type Controller struct {
	client     kubernetes.Interface
	kind       kind
	pods       corelisters.PodLister
	podIndexer cache.Indexer
	queue      *loop.Queue
	exp        *podutil.Expectations
	clock      clock.WithTicker
	recorder   record.EventRecorder
	workers    int
	synced     []cache.InformerSynced
}

// New builds the controller for one kind over the shared informers.
func New(c *controller.Context, k kind) (*Controller, error) {
	podInf := c.Informers.Core().V1().Pods()
	if err := podutil.AddControllerIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	rc := &Controller{
		client:     c.Client,
		kind:       k,
		pods:       podInf.Lister(),
		podIndexer: podInf.Informer().GetIndexer(),
		queue:      loop.New(k.component(), c.Clock),
		exp:        podutil.NewExpectations(c.Clock),
		clock:      c.Clock,
		recorder:   c.Recorder(k.component()),
		workers:    c.Options.Workers,
		synced:     []cache.InformerSynced{podInf.Informer().HasSynced, k.informer().HasSynced},
	}
	if _, err := k.informer().AddEventHandler(rc.queue.Handler()); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    rc.addPod,
		UpdateFunc: rc.updatePod,
		DeleteFunc: rc.deletePod,
	}); err != nil {
		return nil, err
	}
	return rc, nil
}

// Run implements controller.Runner.
func (rc *Controller) Run(ctx context.Context) {
	rc.queue.Run(ctx, rc.workers, rc.reconcile, rc.synced...)
}

func keyOf(ns, name string) string { return ns + "/" + name }

// ownerOf returns the key of the object of our kind that controls pod, or "".
func (rc *Controller) ownerOf(pod *corev1.Pod, ref *metav1.OwnerReference) string {
	if ref == nil || ref.Kind != rc.kind.gvk().Kind {
		return ""
	}
	rs, err := rc.kind.get(pod.Namespace, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return ""
	}
	return keyOf(rs.Namespace, rs.Name)
}

// queueMatching queues every object of our kind whose selector matches an orphan
// pod, so that one of them adopts it.
func (rc *Controller) queueMatching(pod *corev1.Pod) {
	all, err := rc.kind.list(pod.Namespace)
	if err != nil {
		return
	}
	for _, rs := range all {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		rc.queue.Add(keyOf(rs.Namespace, rs.Name))
	}
}

func (rc *Controller) addPod(obj interface{}) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		rc.deletePod(pod)
		return
	}
	if ref := podutil.ControllerRefOf(pod); ref != nil {
		if key := rc.ownerOf(pod, ref); key != "" {
			rc.exp.CreationObserved(key)
			rc.queue.Add(key)
		}
		return
	}
	rc.queueMatching(pod)
}

func (rc *Controller) updatePod(oldObj, newObj interface{}) {
	old, cur := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !equality.Semantic.DeepEqual(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		rc.deletePod(cur)
		if labelsChanged {
			rc.deletePod(old)
		}
		return
	}
	oldRef, curRef := podutil.ControllerRefOf(old), podutil.ControllerRefOf(cur)
	refChanged := !equality.Semantic.DeepEqual(oldRef, curRef)
	if refChanged && oldRef != nil {
		if key := rc.ownerOf(old, oldRef); key != "" {
			rc.queue.Add(key)
		}
	}
	if curRef != nil {
		key := rc.ownerOf(cur, curRef)
		if key == "" {
			return
		}
		rc.queue.Add(key)
		// A pod that just became ready becomes available minReadySeconds later.
		if !podutil.IsReady(old) && podutil.IsReady(cur) {
			if rs, err := rc.kind.get(cur.Namespace, curRef.Name); err == nil && rs.Spec.MinReadySeconds > 0 {
				rc.queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
			}
		}
		return
	}
	if labelsChanged || refChanged {
		rc.queueMatching(cur)
	}
}

func (rc *Controller) deletePod(obj interface{}) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	if key := rc.ownerOf(pod, podutil.ControllerRefOf(pod)); key != "" {
		rc.exp.DeletionObserved(key, pod.UID)
		rc.queue.Add(key)
	}
}

// reconcile brings one ReplicaSet (or ReplicationController) to spec.replicas pods
// and writes its status.
func (rc *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rs, err := rc.kind.get(ns, name)
	if apierrors.IsNotFound(err) {
		rc.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || sel.Empty() {
		// Validation keeps these out; never treat a bad selector as "everything".
		return nil
	}
	canManage := rc.exp.Satisfied(key) && rs.DeletionTimestamp == nil
	candidates := podutil.FilterActive(podutil.OwnedOrOrphan[*corev1.Pod](rc.podIndexer, ns, rs.UID))
	claimer := &podutil.Claimer{
		Owner: rs, Kind: rc.kind.gvk(), Selector: sel,
		Recheck: func(ctx context.Context) (metav1.Object, error) { return rc.kind.fresh(ctx, ns, name) },
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := rc.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	pods, claimErr := podutil.Claim(ctx, claimer, candidates)
	var manageErr error
	if canManage && claimErr == nil {
		manageErr = rc.manage(ctx, key, rs, pods)
	}
	now := rc.clock.Now()
	st := computeStatus(rs, pods, manageErr, now)
	if !equality.Semantic.DeepEqual(st, rs.Status) {
		err := rc.kind.writeStatus(ctx, rs, st, false)
		if apierrors.IsConflict(err) {
			err = rc.kind.writeStatus(ctx, rs, st, true)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("update status of %s %s: %w", rc.kind.gvk().Kind, key, err)
		}
	}
	if manageErr == nil && claimErr == nil {
		// Pods that are ready but not yet available become so later: look again then.
		var next time.Duration
		for _, p := range pods {
			if d := podutil.AvailableIn(p, rs.Spec.MinReadySeconds, now); d > 0 && (next == 0 || d < next) {
				next = d
			}
		}
		if next > 0 {
			rc.queue.AddAfter(key, next+100*time.Millisecond)
		}
	}
	if claimErr != nil {
		return claimErr
	}
	return manageErr
}

// manage creates or deletes pods so that len(pods) becomes spec.replicas.
func (rc *Controller) manage(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	want := int32(1)
	if rs.Spec.Replicas != nil {
		want = *rs.Spec.Replicas
	}
	diff := len(pods) - int(want)
	switch {
	case diff < 0:
		return rc.createPods(ctx, key, rs, min(-diff, BurstReplicas))
	case diff > 0:
		return rc.deletePods(ctx, key, rs, pods, min(diff, BurstReplicas))
	}
	return nil
}

func (rc *Controller) createPods(ctx context.Context, key string, rs *appsv1.ReplicaSet, n int) error {
	if len(rs.Spec.Template.Labels) == 0 {
		return fmt.Errorf("%s %s has a pod template without labels", rc.kind.gvk().Kind, key)
	}
	rc.exp.ExpectCreations(key, n)
	ref := podutil.NewControllerRef(rs, rc.kind.gvk())
	var mu sync.Mutex
	attempted := 0
	_, err := podutil.SlowStartBatch(n, 1, func(int) error {
		mu.Lock()
		attempted++
		mu.Unlock()
		pod := podutil.FromTemplate(&rs.Spec.Template, rs.Namespace, rs.Name, ref)
		created, err := rc.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			rc.exp.CreationObserved(key)
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				// The namespace is going away with everything in it.
				return err
			}
			rc.recorder.Eventf(rcObject(rs), corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		rc.recorder.Eventf(rcObject(rs), corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
		return nil
	})
	if skipped := n - attempted; skipped > 0 {
		rc.exp.CreationsObserved(key, skipped)
	}
	if err != nil {
		slog.Debug("creating pods failed", "kind", rc.kind.gvk().Kind, "key", key, "err", err)
	}
	return err
}

func (rc *Controller) deletePods(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod, n int) error {
	victims := append([]*corev1.Pod(nil), pods...)
	podutil.SortForDeletion(victims)
	victims = victims[:n]
	uids := make([]types.UID, len(victims))
	for i, p := range victims {
		uids[i] = p.UID
	}
	rc.exp.ExpectDeletions(key, uids)
	var wg sync.WaitGroup
	errs := make(chan error, len(victims))
	for _, p := range victims {
		wg.Add(1)
		go func(p *corev1.Pod) {
			defer wg.Done()
			uid := p.UID
			err := rc.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil {
				rc.exp.DeletionObserved(key, p.UID)
				if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
					return
				}
				rc.recorder.Eventf(rcObject(rs), corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				errs <- err
				return
			}
			rc.recorder.Eventf(rcObject(rs), corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		}(p)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// rcObject is the object events are recorded on. A ReplicationController read as a
// ReplicaSet keeps its own kind in TypeMeta, so its events name it.
func rcObject(rs *appsv1.ReplicaSet) *appsv1.ReplicaSet { return rs }

// computeStatus counts the pods the object owns.
func computeStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := appsv1.ReplicaSetStatus{
		Replicas:           int32(len(pods)),
		ObservedGeneration: rs.Generation,
	}
	tmpl := labels.SelectorFromSet(rs.Spec.Template.Labels)
	for _, p := range pods {
		if tmpl.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if podutil.IsReady(p) {
			st.ReadyReplicas++
			if podutil.IsAvailable(p, rs.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
	}
	var failure *appsv1.ReplicaSetCondition
	for i := range rs.Status.Conditions {
		c := rs.Status.Conditions[i]
		if c.Type == appsv1.ReplicaSetReplicaFailure {
			failure = &c
			continue
		}
		st.Conditions = append(st.Conditions, c)
	}
	if manageErr != nil {
		want := int32(1)
		if rs.Spec.Replicas != nil {
			want = *rs.Spec.Replicas
		}
		reason := "FailedCreate"
		if int32(len(pods)) > want {
			reason = "FailedDelete"
		}
		c := appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: reason, Message: manageErr.Error(), LastTransitionTime: metav1.NewTime(now)}
		if failure != nil && failure.Reason == c.Reason && failure.Message == c.Message {
			c.LastTransitionTime = failure.LastTransitionTime
		}
		st.Conditions = append(st.Conditions, c)
	}
	return st
}

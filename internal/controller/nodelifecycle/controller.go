// Package nodelifecycle watches over nodes: it gives each a pod CIDR, notices a
// node whose Lease stops being renewed and marks it Ready=Unknown, keeps the
// node.kubernetes.io/* taints in line with the node's conditions, and evicts the
// pods of tainted nodes once their tolerations run out, so that their owners
// recreate them elsewhere.
package nodelifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"tug/internal/controller"
	"tug/internal/controller/loop"
)

func init() {
	controller.Register("nodelifecycle", func(c *controller.Context) (controller.Runner, error) {
		return New(c)
	})
}

// Reasons and messages the controller writes.
const (
	reasonUnknown      = "NodeStatusUnknown"
	messageUnknown     = "Kubelet stopped posting node status."
	reasonNeverUpdated = "NodeStatusNeverUpdated"
	messageNever       = "Kubelet never posted node status."
)

var everything = labels.Everything()

// nodeIndex indexes pods by the node they are bound to.
const nodeIndex = "tug-node"

// Controller is the node lifecycle controller.
type Controller struct {
	client   kubernetes.Interface
	clock    clock.WithTicker
	recorder record.EventRecorder
	grace    time.Duration
	period   time.Duration
	workers  int

	nodes      corelisters.NodeLister
	leases     coordinationlisters.LeaseLister
	pods       corelisters.PodLister
	podIndexer cache.Indexer
	synced     []cache.InformerSynced

	cidrs *cidrSet
	// CIDR allocation waits until the ranges of existing nodes are known.
	cidrsReady chan struct{}

	nodeQueue *loop.Queue
	podQueue  *loop.Queue

	mu     sync.Mutex
	health map[string]*health
	// missing remembers when a pod's node was first found gone.
	missing map[string]time.Time
	// noCIDR holds the nodes told that no pod CIDR is left.
	noCIDR map[string]bool
}

// health is what the controller last saw of a node's signs of life.
type health struct {
	// probe is when (by our clock) a sign of life was last seen.
	probe time.Time
	// renew is the lease's renewTime as last seen; heartbeat the Ready
	// condition's lastHeartbeatTime.
	renew     time.Time
	heartbeat time.Time
}

// New builds the controller over the shared informers.
func New(c *controller.Context) (*Controller, error) {
	cidrs, err := newCIDRSet(c.Options.ClusterCIDR)
	if err != nil {
		return nil, err
	}
	grace := c.Options.NodeMonitorGracePeriod
	if grace <= 0 {
		grace = 40 * time.Second
	}
	period := grace / 5
	if period > 5*time.Second {
		period = 5 * time.Second
	}
	if period < 100*time.Millisecond {
		period = 100 * time.Millisecond
	}
	nodeInf := c.Informers.Core().V1().Nodes()
	leaseInf := c.Informers.Coordination().V1().Leases()
	podInf := c.Informers.Core().V1().Pods()
	if err := addNodeIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	nc := &Controller{
		client: c.Client, clock: c.Clock, recorder: c.Recorder("node-controller"),
		grace: grace, period: period, workers: c.Options.Workers,
		nodes: nodeInf.Lister(), leases: leaseInf.Lister(), pods: podInf.Lister(), podIndexer: podInf.Informer().GetIndexer(),
		synced:     []cache.InformerSynced{nodeInf.Informer().HasSynced, leaseInf.Informer().HasSynced, podInf.Informer().HasSynced},
		cidrs:      cidrs,
		cidrsReady: make(chan struct{}),
		nodeQueue:  loop.New("nodelifecycle-nodes", c.Clock),
		podQueue:   loop.New("nodelifecycle-pods", c.Clock),
		health:     map[string]*health{},
		missing:    map[string]time.Time{},
		noCIDR:     map[string]bool{},
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { nc.nodeChanged(nil, o.(*corev1.Node)) },
		UpdateFunc: func(o, n interface{}) { nc.nodeChanged(o.(*corev1.Node), n.(*corev1.Node)) },
		DeleteFunc: nc.nodeDeleted,
	}); err != nil {
		return nil, err
	}
	if _, err := leaseInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    nc.leaseChanged,
		UpdateFunc: func(_, n interface{}) { nc.leaseChanged(n) },
	}); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    nc.podChanged,
		UpdateFunc: func(_, n interface{}) { nc.podChanged(n) },
	}); err != nil {
		return nil, err
	}
	return nc, nil
}

func addNodeIndex(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[nodeIndex]; ok {
		return nil
	}
	err := inf.AddIndexers(cache.Indexers{nodeIndex: func(obj interface{}) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
	if err != nil {
		if _, ok := inf.GetIndexer().GetIndexers()[nodeIndex]; ok {
			return nil
		}
	}
	return err
}

// Run implements controller.Runner.
func (nc *Controller) Run(ctx context.Context) {
	if !cache.WaitForCacheSync(ctx.Done(), nc.synced...) {
		return
	}
	nc.loadCIDRs()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); nc.nodeQueue.Run(ctx, nc.workers, nc.syncNode) }()
	go func() { defer wg.Done(); nc.podQueue.Run(ctx, nc.workers, nc.syncPod) }()
	go func() { defer wg.Done(); nc.monitor(ctx) }()
	wg.Wait()
}

// loadCIDRs records the ranges nodes hold already, so none is given twice after
// a restart; allocation starts only then.
func (nc *Controller) loadCIDRs() {
	nodes, _ := nc.nodes.List(everything)
	for _, n := range nodes {
		if n.Spec.PodCIDR != "" {
			nc.cidrs.Occupy(n.Name, n.Spec.PodCIDR)
		}
	}
	close(nc.cidrsReady)
}

// monitor checks every node's signs of life each period.
func (nc *Controller) monitor(ctx context.Context) {
	t := nc.clock.NewTicker(nc.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		nc.checkHealth(ctx)
	}
}

// checkHealth marks Ready=Unknown every node silent for longer than the grace period.
func (nc *Controller) checkHealth(ctx context.Context) {
	nodes, err := nc.nodes.List(everything)
	if err != nil {
		return
	}
	now := nc.clock.Now()
	for _, n := range nodes {
		h := nc.observe(n.Name, nil, n)
		if now.Sub(h.probe) <= nc.grace {
			continue
		}
		if err := nc.markUnknown(ctx, n); err != nil && ctx.Err() == nil {
			slog.Warn("cannot mark silent node", "node", n.Name, "err", err)
		}
	}
}

// observe updates a node's health record from its lease or node object and
// returns a copy.
func (nc *Controller) observe(name string, lease *coordinationv1.Lease, node *corev1.Node) health {
	now := nc.clock.Now()
	nc.mu.Lock()
	defer nc.mu.Unlock()
	h := nc.health[name]
	if h == nil {
		// First sight: the node gets a full grace period from now.
		h = &health{probe: now}
		nc.health[name] = h
	}
	if lease != nil && lease.Spec.RenewTime != nil && !lease.Spec.RenewTime.Time.Equal(h.renew) {
		h.renew, h.probe = lease.Spec.RenewTime.Time, now
	}
	if node != nil {
		// A status posted by the node itself counts as a sign of life; our own
		// Unknown mark keeps the heartbeat time, so it does not.
		if c := condition(node, corev1.NodeReady); c != nil && !c.LastHeartbeatTime.Time.Equal(h.heartbeat) {
			h.heartbeat, h.probe = c.LastHeartbeatTime.Time, now
		}
	}
	return *h
}

// markUnknown sets the node's conditions to Unknown, as nobody vouches for them.
func (nc *Controller) markUnknown(ctx context.Context, n *corev1.Node) error {
	ready := condition(n, corev1.NodeReady)
	if ready != nil && ready.Status == corev1.ConditionUnknown {
		return nil
	}
	now := metav1.NewTime(nc.clock.Now())
	upd := n.DeepCopy()
	if ready == nil {
		upd.Status.Conditions = append(upd.Status.Conditions, corev1.NodeCondition{
			Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: reasonNeverUpdated, Message: messageNever,
			LastHeartbeatTime: n.CreationTimestamp, LastTransitionTime: now,
		})
	}
	for i := range upd.Status.Conditions {
		c := &upd.Status.Conditions[i]
		switch c.Type {
		case corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure:
		default:
			continue
		}
		if c.Status == corev1.ConditionUnknown {
			continue
		}
		c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionUnknown, reasonUnknown, messageUnknown, now
	}
	if _, err := nc.client.CoreV1().Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return err
	}
	slog.Info("node is silent; marked Ready=Unknown", "node", n.Name, "grace", nc.grace)
	return nil
}

func (nc *Controller) leaseChanged(obj interface{}) {
	l, ok := obj.(*coordinationv1.Lease)
	if !ok || l.Namespace != corev1.NamespaceNodeLease {
		return
	}
	nc.observe(l.Name, l, nil)
}

func (nc *Controller) nodeChanged(old, n *corev1.Node) {
	nc.observe(n.Name, nil, n)
	if old != nil {
		was, is := readyStatus(old), readyStatus(n)
		if was != is {
			if is == corev1.ConditionTrue {
				nc.recorder.Eventf(n, corev1.EventTypeNormal, "NodeReady", "Node %s is Ready again", n.Name)
			} else if was == corev1.ConditionTrue || was == "" {
				nc.recorder.Eventf(n, corev1.EventTypeNormal, "NodeNotReady", "Node %s is now Ready=%s", n.Name, is)
			}
		}
	}
	nc.nodeQueue.Add(n.Name)
	if old == nil || !sameNoExecute(old.Spec.Taints, n.Spec.Taints) || readyStatus(old) != readyStatus(n) {
		nc.enqueuePodsOf(n.Name)
	}
}

func (nc *Controller) nodeDeleted(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	nc.cidrs.Release(n.Name)
	nc.mu.Lock()
	delete(nc.health, n.Name)
	delete(nc.noCIDR, n.Name)
	nc.mu.Unlock()
	nc.enqueuePodsOf(n.Name)
}

func (nc *Controller) podChanged(obj interface{}) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" {
		return
	}
	nc.podQueue.AddObject(p)
}

func (nc *Controller) enqueuePodsOf(node string) {
	objs, _ := nc.podIndexer.ByIndex(nodeIndex, node)
	for _, o := range objs {
		nc.podQueue.AddObject(o)
	}
}

func sameNoExecute(a, b []corev1.Taint) bool {
	count := func(l []corev1.Taint) map[string]bool {
		m := map[string]bool{}
		for _, t := range l {
			if t.Effect == corev1.TaintEffectNoExecute {
				m[t.Key+"="+t.Value] = true
			}
		}
		return m
	}
	x, y := count(a), count(b)
	if len(x) != len(y) {
		return false
	}
	for k := range x {
		if !y[k] {
			return false
		}
	}
	return true
}

// syncNode gives the node a pod CIDR and brings its managed taints in line with
// its conditions.
func (nc *Controller) syncNode(ctx context.Context, name string) error {
	n, err := nc.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.Spec.PodCIDR == "" {
		if err := nc.assignCIDR(ctx, n); err != nil {
			return err
		}
	} else {
		// A node may come with its range (set by its agent): never hand it out again.
		<-nc.cidrsReady
		nc.cidrs.Occupy(n.Name, n.Spec.PodCIDR)
	}
	taints, changed := reconcileTaints(n.Spec.Taints, wantedTaints(n), nc.clock.Now())
	if !changed {
		return nil
	}
	upd := n.DeepCopy()
	upd.Spec.Taints = taints
	_, err = nc.client.CoreV1().Nodes().Update(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err // a conflict is retried with the newer node
}

func (nc *Controller) assignCIDR(ctx context.Context, n *corev1.Node) error {
	<-nc.cidrsReady
	cidr, err := nc.cidrs.Allocate(n.Name)
	if errors.Is(err, errCIDRsExhausted) {
		// Said once per node: the node is updated often and nothing changes until
		// another node goes away.
		nc.mu.Lock()
		told := nc.noCIDR[n.Name]
		nc.noCIDR[n.Name] = true
		nc.mu.Unlock()
		if !told {
			nc.recorder.Eventf(n, corev1.EventTypeNormal, "CIDRNotAvailable", "Node %s: no pod CIDR is left in the cluster CIDR %s", n.Name, nc.cidrs.cluster)
			slog.Warn("no pod CIDR left for node; give the server a larger --cluster-cidr", "node", n.Name, "cluster-cidr", nc.cidrs.cluster)
		}
		return nil
	}
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]interface{}{"spec": map[string]interface{}{"podCIDR": cidr, "podCIDRs": []string{cidr}}})
	_, err = nc.client.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		nc.cidrs.Release(n.Name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("assign pod CIDR %s to node %s: %w", cidr, n.Name, err)
	}
	nc.recorder.Eventf(n, corev1.EventTypeNormal, "CIDRAssignmentSucceeded", "Node %s gets pod CIDR %s", n.Name, cidr)
	return nil
}

// unreachable reports whether nobody answers for the node (Ready Unknown): pods
// deleted there are removed at once, as nothing on the node will confirm.
func unreachable(n *corev1.Node) bool {
	return readyStatus(n) == corev1.ConditionUnknown
}

// syncPod evicts a pod whose node carries NoExecute taints it no longer
// tolerates, finishes deletions nobody will confirm on unreachable nodes, and
// removes pods bound to nodes that are gone.
func (nc *Controller) syncPod(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	pod, err := nc.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		nc.forgetMissing(key)
		return nil
	}
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" {
		return nil
	}
	now := nc.clock.Now()
	node, err := nc.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return nc.orphaned(ctx, key, pod, now)
	}
	if err != nil {
		return err
	}
	nc.forgetMissing(key)
	if pod.DeletionTimestamp != nil {
		if !unreachable(node) {
			return nil // the node's agent finishes it
		}
		if w := pod.DeletionTimestamp.Time.Sub(now); w > 0 {
			nc.podQueue.AddAfter(key, w)
			return nil
		}
		return nc.forceDelete(ctx, pod, "the node is unreachable and the pod's grace period is over")
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	if unreachable(node) {
		// Nobody vouches for the pod's readiness any more: take it out of service
		// endpoints while its tolerations keep it bound.
		if err := nc.markNotReady(ctx, pod); err != nil {
			return err
		}
	}
	since := pod.CreationTimestamp.Time
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue && c.LastTransitionTime.After(since) {
			since = c.LastTransitionTime.Time
		}
	}
	wait, evict := evictAfter(node.Spec.Taints, pod.Spec.Tolerations, since, now)
	if !evict {
		return nil
	}
	if wait > 0 {
		nc.podQueue.AddAfter(key, wait)
		return nil
	}
	return nc.evict(ctx, pod, node)
}

// evict deletes a pod from a tainted node. On an unreachable node nothing would
// ever confirm a graceful deletion, so the pod goes at once.
func (nc *Controller) evict(ctx context.Context, pod *corev1.Pod, node *corev1.Node) error {
	var taint string
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			taint = t.Key
			break
		}
	}
	nc.recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Evicting pod %s/%s: node %s has taint %s:NoExecute, which the pod does not tolerate (any longer)", pod.Namespace, pod.Name, node.Name, taint)
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}}
	if unreachable(node) {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	err := nc.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, opts)
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err == nil {
		slog.Info("pod evicted from tainted node", "pod", pod.Namespace+"/"+pod.Name, "node", node.Name, "taint", taint)
	}
	return err
}

// markNotReady sets a pod's Ready condition to False.
func (nc *Controller) markNotReady(ctx context.Context, pod *corev1.Pod) error {
	for i, c := range pod.Status.Conditions {
		if c.Type != corev1.PodReady || c.Status == corev1.ConditionFalse {
			continue
		}
		upd := pod.DeepCopy()
		rc := &upd.Status.Conditions[i]
		rc.Status, rc.Reason, rc.Message = corev1.ConditionFalse, "NodeNotReady", "the pod's node stopped reporting"
		rc.LastTransitionTime, rc.LastProbeTime = metav1.NewTime(nc.clock.Now()), metav1.Time{}
		_, err := nc.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			nc.recorder.Eventf(pod, corev1.EventTypeWarning, "NodeNotReady", "Node %s is not ready", pod.Spec.NodeName)
		}
		return err
	}
	return nil
}

func (nc *Controller) forceDelete(ctx context.Context, pod *corev1.Pod, why string) error {
	zero := int64(0)
	err := nc.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err == nil {
		slog.Info("pod removed", "pod", pod.Namespace+"/"+pod.Name, "node", pod.Spec.NodeName, "why", why)
	}
	return err
}

// orphaned removes a pod whose node is gone, once the node has been missing
// for a grace period (and a fresh read agrees), as no agent will ever run it.
func (nc *Controller) orphaned(ctx context.Context, key string, pod *corev1.Pod, now time.Time) error {
	nc.mu.Lock()
	first, seen := nc.missing[key]
	if !seen {
		first = now
		nc.missing[key] = now
	}
	nc.mu.Unlock()
	if w := first.Add(nc.grace).Sub(now); w > 0 {
		nc.podQueue.AddAfter(key, w)
		return nil
	}
	if _, err := nc.client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		nc.forgetMissing(key)
		return err
	}
	nc.forgetMissing(key)
	nc.recorder.Eventf(pod, corev1.EventTypeNormal, "NodeGone", "Removing pod %s/%s: its node %s no longer exists", pod.Namespace, pod.Name, pod.Spec.NodeName)
	return nc.forceDelete(ctx, pod, "its node no longer exists")
}

func (nc *Controller) forgetMissing(key string) {
	nc.mu.Lock()
	delete(nc.missing, key)
	nc.mu.Unlock()
}

// Package hollow runs simulated nodes: each registers a Node, heartbeats through
// its Lease and plays the pods bound to it (running, ready, with an address from
// its pod CIDR; finishing after a while when they are not meant to restart), but
// runs no containers. Many hollow nodes share one process, one pod informer and
// one node informer; each writes with its own credential, so admission and RBAC
// see exactly what a real node would send. Scale tests of the control plane use
// them.
package hollow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"tug/internal/version"
)

// HollowLabel marks hollow nodes (tests select them with it).
const HollowLabel = "node.tug.io/hollow"

// NodeSpec is one hollow node and its own credential.
type NodeSpec struct {
	Name string
	// Core and Coordination speak as system:node:Name.
	Core         corev1client.CoreV1Interface
	Coordination coordinationv1client.CoordinationV1Interface
	// SilenceFile, while it exists, makes the node go silent as if it had died: no
	// heartbeats, no status, no work on its pods.
	SilenceFile string
}

// Config configures the hollow nodes of one process.
type Config struct {
	Nodes []NodeSpec
	// Watch reads pods and nodes for all of them (any one node's identity).
	Watch kubernetes.Interface
	// Capacity of each node (default 32 CPU, 256Gi memory, 110 pods, 1Ti ephemeral storage).
	Capacity corev1.ResourceList
	// Labels are added to every node.
	Labels map[string]string
	// PodLifetime is how long pods that do not restart run before they end (default 5s).
	PodLifetime time.Duration
	// HeartbeatInterval is how often each lease is renewed (default 10s).
	HeartbeatInterval time.Duration
	// StatusInterval is how often an unchanged node status is posted again (default 1m).
	StatusInterval time.Duration
	// LeaseDurationSeconds is written into each lease (default 40).
	LeaseDurationSeconds int32
	// Workers handle pods concurrently (default 16).
	Workers int
	// Parallel bounds concurrent registrations (default 32).
	Parallel int
	Clock    clock.WithTicker
	// Started, if set, is called once every node is registered.
	Started func()
}

// DefaultCapacity is a hollow node's capacity unless configured otherwise.
func DefaultCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("32"),
		corev1.ResourceMemory:           resource.MustParse("256Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
	}
}

func (c *Config) setDefaults() {
	if c.Capacity == nil {
		c.Capacity = DefaultCapacity()
	}
	if c.PodLifetime == 0 {
		c.PodLifetime = 5 * time.Second
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 10 * time.Second
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = time.Minute
	}
	if c.LeaseDurationSeconds == 0 {
		c.LeaseDurationSeconds = 40
	}
	if c.Workers == 0 {
		c.Workers = 16
	}
	if c.Parallel == 0 {
		c.Parallel = 32
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
}

// node is one hollow node's state.
type node struct {
	NodeSpec
	hostIP string
	bootID string
	silent atomic.Bool

	mu         sync.Mutex
	uid        types.UID
	lease      *coordinationv1.Lease
	lastStatus time.Time
	ips        *podIPs
	ipsCIDR    string
	warnedCIDR bool
}

// Runner runs a set of hollow nodes.
type Runner struct {
	cfg     Config
	nodes   map[string]*node
	pods    cache.SharedIndexInformer
	nodeInf cache.SharedIndexInformer
	queue   workqueue.TypedRateLimitingInterface[string]
}

const byNode = "spec.nodeName"

// New checks the configuration and builds the runner.
func New(cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("no hollow nodes to run")
	}
	if cfg.Watch == nil {
		return nil, errors.New("hollow nodes need a client to watch pods and nodes with")
	}
	r := &Runner{cfg: cfg, nodes: make(map[string]*node, len(cfg.Nodes))}
	for _, s := range cfg.Nodes {
		if _, dup := r.nodes[s.Name]; dup {
			return nil, fmt.Errorf("hollow node %q given twice", s.Name)
		}
		r.nodes[s.Name] = &node{NodeSpec: s, hostIP: nodeAddress(s.Name), bootID: fmt.Sprintf("%08x-hollow-%d", rand.Uint32(), time.Now().Unix())}
	}
	// Only pods bound to some node matter; nodes are filtered to hollow ones.
	podFactory := informers.NewSharedInformerFactoryWithOptions(cfg.Watch, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermNotEqualSelector("spec.nodeName", "").String()
	}))
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(cfg.Watch, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = HollowLabel + "=true"
	}))
	r.pods = podFactory.Core().V1().Pods().Informer()
	if err := r.pods.AddIndexers(cache.Indexers{byNode: func(obj interface{}) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, err
	}
	// Keep only what the hollow nodes read: the cache then holds far less per pod.
	_ = r.pods.SetTransform(trimPod)
	r.nodeInf = nodeFactory.Core().V1().Nodes().Informer()
	r.queue = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "hollow-pods", Clock: cfg.Clock})
	_, _ = r.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    r.enqueuePod,
		UpdateFunc: func(_, n interface{}) { r.enqueuePod(n) },
		DeleteFunc: r.forgetPod,
	})
	_, _ = r.nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(o, n interface{}) {
			on, nn := o.(*corev1.Node), n.(*corev1.Node)
			if on.Spec.PodCIDR != nn.Spec.PodCIDR {
				r.enqueueNodePods(nn.Name)
			}
		},
	})
	return r, nil
}

// trimPod drops what no hollow node reads (managed fields) from cached pods.
func trimPod(obj interface{}) (interface{}, error) {
	if p, ok := obj.(*corev1.Pod); ok {
		p.ManagedFields = nil
	}
	return obj, nil
}

// Run registers every node, then heartbeats and plays pods until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	r, err := New(cfg)
	if err != nil {
		return err
	}
	return r.Run(ctx)
}

// Run implements the runner's life: register, start informers, work.
func (r *Runner) Run(ctx context.Context) error {
	defer r.queue.ShutDown()
	start := r.cfg.Clock.Now()
	if err := r.registerAll(ctx); err != nil {
		return err
	}
	slog.Info("hollow nodes registered", "nodes", len(r.nodes), "took", r.cfg.Clock.Since(start).Round(time.Millisecond))
	go r.pods.Run(ctx.Done())
	go r.nodeInf.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), r.pods.HasSynced, r.nodeInf.HasSynced) {
		return ctx.Err()
	}
	var wg sync.WaitGroup
	for _, n := range r.nodes {
		wg.Add(1)
		go func(n *node) {
			defer wg.Done()
			r.heartbeat(ctx, n)
		}(n)
	}
	for i := 0; i < r.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r.processNext(ctx) {
			}
		}()
	}
	if r.cfg.Started != nil {
		r.cfg.Started()
	}
	<-ctx.Done()
	r.queue.ShutDown()
	wg.Wait()
	return nil
}

// registerAll creates (or takes over) every node's Node object, several at once.
func (r *Runner) registerAll(ctx context.Context) error {
	sem := make(chan struct{}, r.cfg.Parallel)
	errs := make(chan error, len(r.nodes))
	var wg sync.WaitGroup
	for _, n := range r.nodes {
		wg.Add(1)
		go func(n *node) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := r.register(ctx, n); err != nil {
				errs <- fmt.Errorf("register node %s: %w", n.Name, err)
			}
		}(n)
	}
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch chan error) []error {
	var out []error
	for e := range ch {
		out = append(out, e)
	}
	return out
}

// register creates the node, or brings an existing one (from an earlier run) up
// to date.
func (r *Runner) register(ctx context.Context, n *node) error {
	want := r.nodeObject(n)
	created, err := n.Core.Nodes().Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		n.mu.Lock()
		n.uid, n.lastStatus = created.UID, r.cfg.Clock.Now()
		n.mu.Unlock()
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	cur, err := n.Core.Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	upd := cur.DeepCopy()
	if upd.Labels == nil {
		upd.Labels = map[string]string{}
	}
	for k, v := range want.Labels {
		upd.Labels[k] = v
	}
	if upd, err = n.Core.Nodes().Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return err
	}
	upd.Status = r.nodeStatus(n, upd)
	if _, err := n.Core.Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return err
	}
	n.mu.Lock()
	n.uid, n.lastStatus = cur.UID, r.cfg.Clock.Now()
	n.mu.Unlock()
	return nil
}

func (r *Runner) nodeObject(n *node) *corev1.Node {
	labels := map[string]string{
		corev1.LabelHostname:    n.Name,
		corev1.LabelOSStable:    "linux",
		corev1.LabelArchStable:  runtime.GOARCH,
		"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": runtime.GOARCH,
		HollowLabel: "true",
	}
	for k, v := range r.cfg.Labels {
		labels[k] = v
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: n.Name, Labels: labels,
		Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"},
	}}
	node.Status = r.nodeStatus(n, node)
	return node
}

// nodeStatus is what the node reports about itself now, keeping the transition
// times of conditions that did not change.
func (r *Runner) nodeStatus(n *node, cur *corev1.Node) corev1.NodeStatus {
	now := metav1.NewTime(r.cfg.Clock.Now())
	st := corev1.NodeStatus{
		Capacity:    r.cfg.Capacity.DeepCopy(),
		Allocatable: r.cfg.Capacity.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.hostIP},
			{Type: corev1.NodeHostName, Address: n.Name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: n.bootID, SystemUUID: n.bootID, BootID: n.bootID,
			KernelVersion: "hollow", OSImage: "tug hollow node", ContainerRuntimeVersion: "hollow://" + version.Version,
			KubeletVersion: version.Kubernetes, OperatingSystem: "linux", Architecture: runtime.GOARCH,
		},
	}
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "hollow node has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "hollow node has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "hollow node has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "hollow node is posting ready status"},
	}
	for i := range conds {
		c := &conds[i]
		c.LastHeartbeatTime, c.LastTransitionTime = now, now
		for _, old := range cur.Status.Conditions {
			if old.Type == c.Type && old.Status == c.Status && !old.LastTransitionTime.IsZero() {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	st.Conditions = conds
	return st
}

// heartbeat renews the node's lease every interval (the first one at a random
// point of the interval, so that many nodes spread their writes) and posts the
// node's status when it changed or is due.
func (r *Runner) heartbeat(ctx context.Context, n *node) {
	clk := r.cfg.Clock
	first := time.Duration(rand.Int64N(int64(r.cfg.HeartbeatInterval)))
	t := clk.NewTimer(first)
	defer t.Stop()
	r.beat(ctx, n)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		// The next beat is due an interval after this one started, however long
		// this one takes.
		t.Reset(r.cfg.HeartbeatInterval)
		r.beat(ctx, n)
	}
}

// beat is one heartbeat of one node.
func (r *Runner) beat(ctx context.Context, n *node) {
	silent := false
	if n.SilenceFile != "" {
		_, err := os.Stat(n.SilenceFile)
		silent = err == nil
	}
	if was := n.silent.Swap(silent); was != silent {
		if silent {
			slog.Info("hollow node goes silent", "node", n.Name)
		} else {
			slog.Info("hollow node speaks again", "node", n.Name)
			r.enqueueNodePods(n.Name)
		}
	}
	if silent {
		return
	}
	if err := r.renewLease(ctx, n); err != nil && ctx.Err() == nil {
		slog.Warn("lease renewal failed", "node", n.Name, "err", err)
	}
	if err := r.syncStatus(ctx, n); err != nil && ctx.Err() == nil {
		slog.Warn("node status update failed", "node", n.Name, "err", err)
	}
}

func (r *Runner) renewLease(ctx context.Context, n *node) error {
	leases := n.Coordination.Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(r.cfg.Clock.Now())
	n.mu.Lock()
	cur, uid := n.lease, n.uid
	n.mu.Unlock()
	if cur != nil {
		l := cur.DeepCopy()
		l.Spec.RenewTime = &now
		l.Spec.HolderIdentity = &n.Name
		out, err := leases.Update(ctx, l, metav1.UpdateOptions{})
		if err == nil {
			n.mu.Lock()
			n.lease = out
			n.mu.Unlock()
			return nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return err
		}
	}
	// No lease known (first beat, or someone else wrote it): read it, or make it.
	l, err := leases.Get(ctx, n.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		dur := r.cfg.LeaseDurationSeconds
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Namespace: corev1.NamespaceNodeLease},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &n.Name, LeaseDurationSeconds: &dur, RenewTime: &now},
		}
		if uid != "" {
			// The lease goes when the node goes.
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: uid}}
		}
		l, err = leases.Create(ctx, l, metav1.CreateOptions{})
	case err == nil:
		l = l.DeepCopy()
		l.Spec.RenewTime = &now
		l.Spec.HolderIdentity = &n.Name
		l, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	}
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.lease = l
	n.mu.Unlock()
	return nil
}

// syncStatus posts the node's status when what the cluster holds differs from
// what the node reports (Ready taken away while it was silent, say) or when the
// last report is older than StatusInterval. A node deleted meanwhile registers
// again, as a node agent does.
func (r *Runner) syncStatus(ctx context.Context, n *node) error {
	obj, ok, _ := r.nodeInf.GetIndexer().GetByKey(n.Name)
	if !ok {
		if _, err := n.Core.Nodes().Get(ctx, n.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			slog.Info("hollow node was deleted; registering again", "node", n.Name)
			n.mu.Lock()
			n.lease = nil
			n.mu.Unlock()
			return r.register(ctx, n)
		}
		return nil
	}
	cur := obj.(*corev1.Node)
	n.mu.Lock()
	due := r.cfg.Clock.Since(n.lastStatus) >= r.cfg.StatusInterval
	n.mu.Unlock()
	if !due && reportsReady(cur) {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Status = r.nodeStatus(n, cur)
	upd.Status.Images, upd.Status.VolumesInUse, upd.Status.VolumesAttached = cur.Status.Images, cur.Status.VolumesInUse, cur.Status.VolumesAttached
	if _, err := n.Core.Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return err
	}
	n.mu.Lock()
	n.lastStatus = r.cfg.Clock.Now()
	n.mu.Unlock()
	return nil
}

// reportsReady reports whether the node's Ready condition is the one a live
// hollow node posts.
func reportsReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue && c.Reason == "KubeletReady"
		}
	}
	return false
}

func (r *Runner) enqueuePod(obj interface{}) {
	p, ok := obj.(*corev1.Pod)
	if !ok || r.nodes[p.Spec.NodeName] == nil {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(p); err == nil {
		r.queue.Add(key)
	}
}

func (r *Runner) forgetPod(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if n := r.nodes[p.Spec.NodeName]; n != nil {
		n.mu.Lock()
		ips := n.ips
		n.mu.Unlock()
		if ips != nil {
			ips.Release(string(p.UID))
		}
	}
}

func (r *Runner) enqueueNodePods(name string) {
	objs, _ := r.pods.GetIndexer().ByIndex(byNode, name)
	for _, o := range objs {
		r.enqueuePod(o)
	}
}

func (r *Runner) processNext(ctx context.Context) bool {
	key, quit := r.queue.Get()
	if quit {
		return false
	}
	defer r.queue.Done(key)
	if err := r.syncPod(ctx, key); err != nil {
		if ctx.Err() == nil {
			slog.Debug("hollow pod sync failed; retrying", "pod", key, "err", err)
		}
		r.queue.AddRateLimited(key)
		return true
	}
	r.queue.Forget(key)
	return true
}

// ipsFor returns the node's pod address pool, nil until the node has a pod CIDR.
// A new pool first takes note of the addresses its pods hold already.
func (r *Runner) ipsFor(n *node) *podIPs {
	obj, ok, _ := r.nodeInf.GetIndexer().GetByKey(n.Name)
	cidr := ""
	if ok {
		cidr = obj.(*corev1.Node).Spec.PodCIDR
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if cidr == "" {
		if !n.warnedCIDR {
			n.warnedCIDR = true
			slog.Info("node has no pod CIDR yet; its pods wait for one (is the server's --cluster-cidr large enough for every node?)", "node", n.Name)
		}
		return nil
	}
	if n.ips != nil && n.ipsCIDR == cidr {
		return n.ips
	}
	ips, err := newPodIPs(cidr)
	if err != nil {
		slog.Warn("unusable pod CIDR", "node", n.Name, "err", err)
		return nil
	}
	objs, _ := r.pods.GetIndexer().ByIndex(byNode, n.Name)
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if p.Status.PodIP != "" && p.Status.Phase == corev1.PodRunning {
			ips.Reserve(string(p.UID), p.Status.PodIP)
		}
	}
	n.ips, n.ipsCIDR = ips, cidr
	return ips
}

// syncPod moves one pod along its hollow life.
func (r *Runner) syncPod(ctx context.Context, key string) error {
	obj, ok, err := r.pods.GetIndexer().GetByKey(key)
	if err != nil || !ok {
		return err
	}
	pod := obj.(*corev1.Pod)
	n := r.nodes[pod.Spec.NodeName]
	if n == nil {
		return nil
	}
	if n.silent.Load() {
		return nil // picked up again when the node speaks
	}
	now := r.cfg.Clock.Now()
	act, wait := decide(pod, now, r.cfg.PodLifetime)
	pods := n.Core.Pods(pod.Namespace)
	switch act {
	case actNone:
		if wait > 0 {
			r.queue.AddAfter(key, wait)
		}
		return nil
	case actStart:
		ips := r.ipsFor(n)
		if ips == nil {
			return nil // queued again when the node gets its pod CIDR
		}
		ip := ""
		if !pod.Spec.HostNetwork {
			if ip, err = ips.Get(string(pod.UID)); err != nil {
				return fmt.Errorf("pod %s: %w", key, err)
			}
		} else {
			ip = n.hostIP
		}
		upd := pod.DeepCopy()
		upd.Status = runningStatus(pod, n.hostIP, ip, now)
		return ignoreGone(writeStatus(ctx, n.Core, upd))
	case actFinish:
		upd := pod.DeepCopy()
		upd.Status = finishedStatus(pod, exitCodeOf(pod), now)
		if err := writeStatus(ctx, n.Core, upd); err != nil {
			return ignoreGone(err)
		}
		r.release(n, pod)
		return nil
	case actDelete:
		// The containers stop at once; nothing else will confirm the deletion.
		zero := int64(0)
		uid := pod.UID
		err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err := ignoreGone(err); err != nil {
			return err
		}
		r.release(n, pod)
		return nil
	}
	return nil
}

// writeStatus updates a pod's status. Nothing reads the pod the server sends back
// (the watch brings the new version), so it is not decoded: decoding it was a
// tenth of the hollow agent's CPU. Clients without a REST client (fakes in
// tests) use the typed call.
func writeStatus(ctx context.Context, core corev1client.CoreV1Interface, pod *corev1.Pod) error {
	if rc, ok := core.RESTClient().(*rest.RESTClient); ok && rc != nil {
		return rc.Put().Namespace(pod.Namespace).Resource("pods").Name(pod.Name).SubResource("status").
			Body(pod).Do(ctx).Error()
	}
	_, err := core.Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	return err
}

func (r *Runner) release(n *node, pod *corev1.Pod) {
	n.mu.Lock()
	ips := n.ips
	n.mu.Unlock()
	if ips != nil {
		ips.Release(string(pod.UID))
	}
}

// ignoreGone treats a pod that is gone as done. A conflict (the pod changed, or
// was replaced under the same name) is retried with the newer pod.
func ignoreGone(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

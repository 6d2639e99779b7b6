// Package kubelet turns the pods bound to a node into containers: one worker per
// pod drives the runtime (sandbox, init containers in order, containers,
// restarts with back-off, probes, hooks, graceful termination) and reports the
// pod's status; the node itself is registered and kept alive through its Lease.
//
// Runtime events wake the worker of the pod they concern, and status is written
// as soon as it changes, so a pod's start-up is bounded by the runtime rather
// than by polling.
package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"tug/internal/agent/cri"
)

// Config configures the pod side of a node.
type Config struct {
	NodeName string
	Client   kubernetes.Interface
	Runtime  cri.Runtime
	// Events, if set, streams runtime container events (cri.Client does).
	Events interface {
		Watch(ctx context.Context, fn func(cri.Event)) error
	}
	// Dial connects from the node's network (probes, hooks); nil dials from
	// the process's own namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// NodeIP is the node's address (status.hostIP, addresses).
	NodeIP net.IP
	// RootDir holds pod directories and container logs.
	RootDir string
	// CgroupRoot is the cgroup under which pods' cgroups are made.
	CgroupRoot string
	// ClusterDNS and ClusterDomain configure pods' resolv.conf.
	ClusterDNS    []string
	ClusterDomain string
	// ManifestsDir holds static pod manifests (optional).
	ManifestsDir string
	// Port is the agent's HTTPS port, published in the Node's daemonEndpoints.
	Port int32
	// Labels are extra node labels.
	Labels map[string]string
	// PodCIDR, when set, is written into the Node's spec at registration.
	PodCIDR string
	// Reserved is subtracted from capacity to give allocatable.
	Reserved corev1.ResourceList
	// MaxPods is the node's pod capacity (default 110).
	MaxPods int64
	// Clock is injectable for tests.
	Clock clock.WithTicker
	// RuntimeVersion is the runtime's name and version, like containerd://1.6.20.
	RuntimeVersion string
	// RuntimeHealthy reports the runtime's health for the Ready condition; nil
	// asks the runtime's Status call.
	RuntimeHealthy func(ctx context.Context) error
	// OnPodCIDR is called once the node has its pod CIDR (set here or assigned
	// by the control plane), before any pod starts: the pod network is
	// configured from it.
	OnPodCIDR func(cidr string) error
}

// Kubelet runs pods.
type Kubelet struct {
	cfg      Config
	rt       cri.Runtime
	client   kubernetes.Interface
	clock    clock.WithTicker
	recorder record.EventRecorder
	hostname string
	hostDNS  hostResolv

	pods      corelisters.PodLister
	services  corelisters.ServiceLister
	podsSync  cache.InformerSynced
	factories []informers.SharedInformerFactory

	cache   *runtimeCache
	status  *statusManager
	probes  *probeManager
	backoff *Backoff
	pulls   *Backoff
	static  *staticPods

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	// containerPod maps runtime container ids to their pod, for events.
	containerPod map[string]types.UID
	// exitSeen marks containers whose exit event came before the runtime's own
	// view caught up.
	exitSeen map[string]time.Time

	// pullFailed remembers when each image's last pull failed.
	pullFailed map[string]time.Time
	// ctx is Run's context, for the goroutines Run starts.
	ctx context.Context

	runtimeErr atomic.Pointer[error]
	wasReady   atomic.Bool
	node       atomic.Pointer[corev1.Node]
	memCap     atomic.Int64
	started    chan struct{}
}

// New prepares a kubelet; Run starts it.
func New(cfg Config) (*Kubelet, error) {
	if cfg.NodeName == "" || cfg.Client == nil || cfg.Runtime == nil || cfg.RootDir == "" {
		return nil, errors.New("kubelet: NodeName, Client, Runtime and RootDir are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/tug/" + cfg.NodeName
	}
	if cfg.MaxPods == 0 {
		cfg.MaxPods = 110
	}
	if cfg.Port == 0 {
		cfg.Port = 10250
	}
	for _, d := range []string{"pods", "logs"} {
		if err := os.MkdirAll(filepath.Join(cfg.RootDir, d), 0o755); err != nil {
			return nil, err
		}
	}
	k := &Kubelet{
		cfg: cfg, rt: cfg.Runtime, client: cfg.Client, clock: cfg.Clock,
		hostname:     cfg.NodeName,
		hostDNS:      readHostResolv("/etc/resolv.conf"),
		cache:        newRuntimeCache(),
		backoff:      NewBackoff(cfg.Clock, 10*time.Second, 5*time.Minute),
		pulls:        NewBackoff(cfg.Clock, 10*time.Second, 5*time.Minute),
		workers:      map[types.UID]*podWorker{},
		containerPod: map[string]types.UID{},
		exitSeen:     map[string]time.Time{},
		started:      make(chan struct{}),
	}
	bc := record.NewBroadcaster()
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Client.CoreV1().Events("")})
	k.recorder = bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.NodeName})
	k.status = newStatusManager(cfg.Client)
	k.probes = newProbeManager(k)
	k.static = newStaticPods(k)
	return k, nil
}

// Run registers the node and runs pods until ctx ends. Containers keep running
// after it returns: the next agent adopts them.
func (k *Kubelet) Run(ctx context.Context) error {
	k.ctx = ctx
	k.memCap.Store(readMemTotal())
	if err := k.registerNode(ctx); err != nil {
		return err
	}
	go k.nodeLoop(ctx)
	if err := k.waitPodCIDR(ctx); err != nil {
		return err
	}

	podFactory := informers.NewSharedInformerFactoryWithOptions(k.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.cfg.NodeName).String()
		}))
	podInf := podFactory.Core().V1().Pods()
	k.pods = podInf.Lister()
	k.podsSync = podInf.Informer().HasSynced
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.podChanged(obj) },
		UpdateFunc: func(_, obj any) { k.podChanged(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				k.podRemoved(p)
			}
		},
	})
	svcFactory := informers.NewSharedInformerFactory(k.client, 0)
	k.services = svcFactory.Core().V1().Services().Lister()
	svcSynced := svcFactory.Core().V1().Services().Informer().HasSynced
	k.factories = []informers.SharedInformerFactory{podFactory, svcFactory}

	go k.status.run(ctx)
	if k.cfg.Events != nil {
		go k.watchRuntime(ctx)
	}
	podFactory.Start(ctx.Done())
	svcFactory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), k.podsSync, svcSynced) {
		return ctx.Err()
	}
	// Containers of pods that went away while no agent ran are removed before
	// anything new starts.
	if err := k.removeOrphans(ctx); err != nil {
		slog.Warn("remove containers of deleted pods", "err", err)
	}
	close(k.started)
	// The informer delivered its adds before the cache synced; workers held off
	// until now.
	k.mu.Lock()
	for _, w := range k.workers {
		w.kick()
	}
	k.mu.Unlock()
	if k.cfg.ManifestsDir != "" {
		go k.static.run(ctx)
	}
	go k.housekeeping(ctx)
	<-ctx.Done()
	k.probes.stopAll()
	bcStop := make(chan struct{})
	go func() { k.status.flush(2 * time.Second); close(bcStop) }()
	<-bcStop
	return nil
}

// waitPodCIDR waits for the node's pod CIDR and hands it to OnPodCIDR.
func (k *Kubelet) waitPodCIDR(ctx context.Context) error {
	if k.cfg.OnPodCIDR == nil {
		return nil
	}
	start := k.clock.Now()
	logged := start
	for {
		n, err := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if err == nil && n.Spec.PodCIDR != "" {
			if err := k.cfg.OnPodCIDR(n.Spec.PodCIDR); err != nil {
				return fmt.Errorf("configure the pod network for %s: %w", n.Spec.PodCIDR, err)
			}
			slog.Info("pod network configured", "podCIDR", n.Spec.PodCIDR)
			// The runtime picks the configuration up on its own a moment later;
			// report the node ready as soon as it has.
			for i := 0; i < 100 && k.runtimeHealth(ctx) != nil; i++ {
				time.Sleep(20 * time.Millisecond)
			}
			if err := k.updateNodeStatus(ctx, false); err != nil {
				slog.Debug("update node status", "err", err)
			}
			return nil
		}
		if k.clock.Since(logged) > 10*time.Second {
			slog.Warn("waiting for the node's pod CIDR (assigned by the control plane, or set with --pod-cidr)", "waited", k.clock.Since(start).Round(time.Second))
			logged = k.clock.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// podChanged hands the latest pod to its worker, starting one if needed.
func (k *Kubelet) podChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	slog.Debug("pod event", "pod", podKey(pod), "rv", pod.ResourceVersion, "phase", pod.Status.Phase)
	if isMirrorPod(pod) {
		k.static.mirrorChanged(pod)
		return
	}
	k.updateWorker(pod, false)
}

func (k *Kubelet) podRemoved(pod *corev1.Pod) {
	if isMirrorPod(pod) {
		k.static.mirrorRemoved(pod)
		return
	}
	k.updateWorker(pod, true)
}

// updateWorker delivers a pod (or its removal) to its worker.
func (k *Kubelet) updateWorker(pod *corev1.Pod, removed bool) {
	k.mu.Lock()
	w, ok := k.workers[pod.UID]
	if !ok {
		if removed {
			k.mu.Unlock()
			// Never seen alive by this agent; an orphan sweep covers leftovers.
			return
		}
		w = newPodWorker(k, pod)
		k.workers[pod.UID] = w
		go w.run()
	}
	k.mu.Unlock()
	w.update(pod, removed)
}

// workerDone forgets a finished worker.
func (k *Kubelet) workerDone(uid types.UID) {
	k.mu.Lock()
	delete(k.workers, uid)
	for id, u := range k.containerPod {
		if u == uid {
			delete(k.containerPod, id)
		}
	}
	k.mu.Unlock()
}

// watchRuntime wakes pods' workers on runtime events, and keeps the runtime's
// health for the node's Ready condition.
func (k *Kubelet) watchRuntime(ctx context.Context) {
	for ctx.Err() == nil {
		err := k.cfg.Events.Watch(ctx, k.onRuntimeEvent)
		if ctx.Err() != nil {
			return
		}
		slog.Debug("runtime event stream ended; reconnecting", "err", err)
		// After a gap, every pod may have missed events.
		k.kickAll()
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (k *Kubelet) onRuntimeEvent(ev cri.Event) {
	k.mu.Lock()
	uid, ok := k.containerPod[ev.ContainerID]
	if ev.Kind == cri.EventExited || ev.Kind == cri.EventOOM {
		k.exitSeen[ev.ContainerID] = k.clock.Now()
	}
	var w *podWorker
	if ok {
		w = k.workers[uid]
	}
	k.mu.Unlock()
	if w != nil {
		if ev.Kind == cri.EventExited || ev.Kind == cri.EventOOM {
			k.cache.forget(ev.ContainerID)
		}
		w.kick()
		return
	}
	if ev.Kind != cri.EventExited {
		return
	}
	// A container this agent has not mapped yet: find its pod from its labels.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := k.rt.ContainerStatus(ctx, ev.ContainerID)
		if err != nil || st == nil {
			return
		}
		uid := types.UID(st.Labels[labelPodUID])
		k.mu.Lock()
		k.containerPod[ev.ContainerID] = uid
		w := k.workers[uid]
		k.mu.Unlock()
		if w != nil {
			w.kick()
		}
	}()
}

func (k *Kubelet) kickAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, w := range k.workers {
		w.kick()
	}
}

// noteContainers records which pod owns which runtime containers.
func (k *Kubelet) noteContainers(uid types.UID, rs *podRuntime) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range rs.containers {
		k.containerPod[c.ID] = uid
	}
	for _, s := range rs.sandboxes {
		k.containerPod[s.Id] = uid
	}
}

// exitPending reports whether an exit event for the container arrived recently
// but the runtime still calls it running.
func (k *Kubelet) exitPending(id string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.exitSeen[id]
	if !ok {
		return false
	}
	if k.clock.Since(t) > 500*time.Millisecond {
		delete(k.exitSeen, id)
		return false
	}
	return true
}

func (k *Kubelet) clearExit(id string) {
	k.mu.Lock()
	delete(k.exitSeen, id)
	k.mu.Unlock()
}

// removeOrphans stops and removes sandboxes whose pod the API no longer has.
func (k *Kubelet) removeOrphans(ctx context.Context) error {
	sbs, err := k.rt.ListPodSandbox(ctx, nil)
	if err != nil {
		return err
	}
	known := map[types.UID]bool{}
	pods, _ := k.pods.List(everything())
	for _, p := range pods {
		known[p.UID] = true
	}
	for _, uid := range k.static.uids() {
		known[uid] = true
	}
	orphans := map[types.UID]bool{}
	for _, sb := range sbs {
		uid := types.UID(sb.Labels[labelPodUID])
		if uid == "" || known[uid] {
			continue
		}
		orphans[uid] = true
	}
	for uid := range orphans {
		slog.Info("removing containers of a pod deleted while the agent was away", "uid", uid)
		if err := k.removePodFromRuntime(ctx, uid, 2); err != nil {
			slog.Warn("remove orphaned pod", "uid", uid, "err", err)
		}
		_ = teardownVolumes(k.podDirs(uid))
		_ = RemoveCgroups(k.podCgroup(uid), false)
	}
	return nil
}

// removePodFromRuntime stops and removes every container and sandbox of a pod.
func (k *Kubelet) removePodFromRuntime(ctx context.Context, uid types.UID, grace int64) error {
	rs, err := podState(ctx, k.rt, k.cache, uid)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range rs.containers {
		if c.State == runtimeRunning {
			if err := k.rt.StopContainer(ctx, c.ID, grace); err != nil && !cri.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
		if err := k.rt.RemoveContainer(ctx, c.ID); err != nil && !cri.IsNotFound(err) {
			errs = append(errs, err)
		}
		k.cache.forget(c.ID)
	}
	for _, sb := range rs.sandboxes {
		if err := k.rt.StopPodSandbox(ctx, sb.Id); err != nil && !cri.IsNotFound(err) {
			errs = append(errs, err)
		}
		if err := k.rt.RemovePodSandbox(ctx, sb.Id); err != nil && !cri.IsNotFound(err) {
			errs = append(errs, err)
		}
		k.cache.forget(sb.Id)
	}
	return errors.Join(errs...)
}

// housekeeping periodically re-syncs every pod (configMap and secret volumes
// follow their sources) and sweeps orphans.
func (k *Kubelet) housekeeping(ctx context.Context) {
	t := k.clock.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			k.kickAll()
			if err := k.removeOrphans(ctx); err != nil {
				slog.Debug("orphan sweep", "err", err)
			}
		}
	}
}

// Paths.
func (k *Kubelet) podDirs(uid types.UID) podDirs {
	return podDirs{root: filepath.Join(k.cfg.RootDir, "pods", string(uid))}
}

func (k *Kubelet) podLogDir(pod *corev1.Pod) string {
	return filepath.Join(k.cfg.RootDir, "logs", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}

// LogPath is where a container's log file is (for the streaming server).
func (k *Kubelet) LogPath(pod *corev1.Pod, container string, attempt uint32) string {
	return filepath.Join(k.podLogDir(pod), container, fmt.Sprintf("%d.log", attempt))
}

func (k *Kubelet) podCgroup(uid types.UID) string {
	return filepath.Join(k.cfg.CgroupRoot, "pod"+string(uid))
}

func (k *Kubelet) memoryCapacity() int64 { return k.memCap.Load() }

// allocatable is the node's allocatable resources as last published.
func (k *Kubelet) allocatable() corev1.ResourceList {
	if n := k.node.Load(); n != nil {
		return n.Status.Allocatable
	}
	return corev1.ResourceList{corev1.ResourceMemory: *resource.NewQuantity(k.memoryCapacity(), resource.BinarySI)}
}

// configMap and secret read from the API (the agent's identity may only read
// what its pods use).
func (k *Kubelet) configMap(ns, name string) (*corev1.ConfigMap, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return k.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

func (k *Kubelet) secret(ns, name string) (*corev1.Secret, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return k.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

// serviceLinks are the services whose variables a pod's containers get.
func (k *Kubelet) serviceLinks(pod *corev1.Pod) []*corev1.Service {
	if k.services == nil {
		return nil
	}
	var out []*corev1.Service
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		svcs, _ := k.services.Services(pod.Namespace).List(everything())
		out = append(out, svcs...)
	}
	if pod.Namespace != metav1.NamespaceDefault {
		if s, err := k.services.Services(metav1.NamespaceDefault).Get("kubernetes"); err == nil {
			out = append(out, s)
		}
	}
	return out
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// Started is closed once the kubelet runs pods.
func (k *Kubelet) Started() <-chan struct{} { return k.started }

// RunningPods lists the pods this node runs (static pods included).
func (k *Kubelet) RunningPods() []*corev1.Pod {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(k.workers))
	for _, w := range k.workers {
		w.mu.Lock()
		if !w.removed {
			out = append(out, w.pod)
		}
		w.mu.Unlock()
	}
	return out
}

// StopAllPods stops and removes every pod's containers and sandboxes (the node
// is going away for good, as with `tug up` ending).
func (k *Kubelet) StopAllPods(ctx context.Context) error {
	sbs, err := k.rt.ListPodSandbox(ctx, nil)
	if err != nil {
		return err
	}
	uids := map[types.UID]bool{}
	for _, sb := range sbs {
		if uid := types.UID(sb.Labels[labelPodUID]); uid != "" {
			uids[uid] = true
		}
	}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for uid := range uids {
		wg.Add(1)
		go func(uid types.UID) {
			defer wg.Done()
			err := k.removePodFromRuntime(ctx, uid, 5)
			if err == nil {
				err = teardownVolumes(k.podDirs(uid))
			}
			_ = RemoveCgroups(k.podCgroup(uid), false)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(uid)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// CgroupRoot is the cgroup under which the node's pods live.
func (k *Kubelet) CgroupRoot() string { return k.cfg.CgroupRoot }

package auth

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"

	"tug/internal/storage"
)

// refKind is the kind of object a pod uses.
type refKind uint8

const (
	refSecret refKind = iota
	refConfigMap
	refClaim
	refServiceAccount
)

// objRef names one namespaced object a pod uses.
type objRef struct {
	kind      refKind
	namespace string
	name      string
}

func compareRefs(a, b objRef) int {
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	if c := cmp.Compare(a.namespace, b.namespace); c != 0 {
		return c
	}
	return cmp.Compare(a.name, b.name)
}

// podUse is what one bound pod adds to its node: the objects it uses, sorted and
// without repeats.
type podUse struct {
	node string
	refs []objRef
}

func (u podUse) equal(o podUse) bool {
	return u.node == o.node && slices.Equal(u.refs, o.refs)
}

// mirrorAnnotation marks the API copy of a static pod. A node creates those
// itself, so what they name grants it nothing.
const mirrorAnnotation = "kubernetes.io/config.mirror"

// useOf lists the objects a pod makes its node need. An unbound pod, or a mirror
// pod, adds nothing (node "").
func useOf(pod *corev1.Pod) podUse {
	if pod.Spec.NodeName == "" {
		return podUse{}
	}
	if _, mirror := pod.Annotations[mirrorAnnotation]; mirror {
		return podUse{}
	}
	ns := pod.Namespace
	var refs []objRef
	add := func(k refKind, name string) {
		if name != "" {
			refs = append(refs, objRef{kind: k, namespace: ns, name: name})
		}
	}
	secretRef := func(r *corev1.LocalObjectReference) {
		if r != nil {
			add(refSecret, r.Name)
		}
	}
	add(refServiceAccount, pod.Spec.ServiceAccountName)
	for _, s := range pod.Spec.ImagePullSecrets {
		add(refSecret, s.Name)
	}
	containerRefs := func(env []corev1.EnvVar, from []corev1.EnvFromSource) {
		for _, e := range env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add(refSecret, r.Name)
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add(refConfigMap, r.Name)
			}
		}
		for _, f := range from {
			if f.SecretRef != nil {
				add(refSecret, f.SecretRef.Name)
			}
			if f.ConfigMapRef != nil {
				add(refConfigMap, f.ConfigMapRef.Name)
			}
		}
	}
	for i := range pod.Spec.InitContainers {
		containerRefs(pod.Spec.InitContainers[i].Env, pod.Spec.InitContainers[i].EnvFrom)
	}
	for i := range pod.Spec.Containers {
		containerRefs(pod.Spec.Containers[i].Env, pod.Spec.Containers[i].EnvFrom)
	}
	for i := range pod.Spec.EphemeralContainers {
		containerRefs(pod.Spec.EphemeralContainers[i].Env, pod.Spec.EphemeralContainers[i].EnvFrom)
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.Secret != nil:
			add(refSecret, v.Secret.SecretName)
		case v.ConfigMap != nil:
			add(refConfigMap, v.ConfigMap.Name)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					add(refSecret, s.Secret.Name)
				}
				if s.ConfigMap != nil {
					add(refConfigMap, s.ConfigMap.Name)
				}
			}
		case v.PersistentVolumeClaim != nil:
			add(refClaim, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			// The claim of a generic ephemeral volume is named after the pod and
			// the volume.
			add(refClaim, pod.Name+"-"+v.Name)
		// Volume plugins that log in with credentials from a secret.
		case v.CSI != nil:
			secretRef(v.CSI.NodePublishSecretRef)
		case v.AzureFile != nil:
			add(refSecret, v.AzureFile.SecretName)
		case v.CephFS != nil:
			secretRef(v.CephFS.SecretRef)
		case v.Cinder != nil:
			secretRef(v.Cinder.SecretRef)
		case v.FlexVolume != nil:
			secretRef(v.FlexVolume.SecretRef)
		case v.ISCSI != nil:
			secretRef(v.ISCSI.SecretRef)
		case v.RBD != nil:
			secretRef(v.RBD.SecretRef)
		case v.ScaleIO != nil:
			secretRef(v.ScaleIO.SecretRef)
		case v.StorageOS != nil:
			secretRef(v.StorageOS.SecretRef)
		}
	}
	slices.SortFunc(refs, compareRefs)
	return podUse{node: pod.Spec.NodeName, refs: slices.Compact(refs)}
}

// NodeGraph knows, for every node, which secrets, config maps, claims and
// service accounts the pods bound to it use. It follows the pod store the way an
// informer does (list, then watch from the list's revision) and is read on every
// request a node makes for one of those objects.
type NodeGraph struct {
	mu    sync.RWMutex
	pods  map[string]podUse           // by namespace/name
	nodes map[string]map[objRef]int32 // node → object → how many of its pods use it
	rv    int64                       // every pod change up to rv is reflected
	moved chan struct{}               // closed when rv advances; nil when nobody waits

	// kick asks the pod watch for a bookmark, so that rv catches up with the
	// store even when the latest changes were not to pods.
	kick chan time.Time
	// storeRevision is how far the pod store has applied changes (nil: no store,
	// never wait).
	storeRevision func() int64
	// claimVolume returns the volume a claim is bound to ("" if none or unknown).
	claimVolume func(ctx context.Context, namespace, name string) string
	lookup      StoreLookup
}

var (
	podsGVR   = corev1.SchemeGroupVersion.WithResource("pods")
	claimsGVR = corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")
)

// settleWait bounds how long a request that would be denied waits for the graph
// to catch up with the pod store.
var settleWait = 3 * time.Second

func newNodeGraph() *NodeGraph {
	return &NodeGraph{pods: map[string]podUse{}, nodes: map[string]map[objRef]int32{}, kick: make(chan time.Time, 1)}
}

// NewNodeGraph returns a graph over the pod and claim stores lookup finds. Call
// Start once the storage has started.
func NewNodeGraph(lookup StoreLookup) *NodeGraph {
	g := newNodeGraph()
	g.claimVolume = func(ctx context.Context, namespace, name string) string {
		r := lookup(claimsGVR)
		if r == nil {
			return ""
		}
		o, err := r.Get(ctx, namespace, name, "0")
		if err != nil {
			return ""
		}
		if c, ok := o.Obj.(*corev1.PersistentVolumeClaim); ok {
			return c.Spec.VolumeName
		}
		return ""
	}
	g.storeRevision = func() int64 {
		if r := lookup(podsGVR); r != nil {
			return r.CachedRevision()
		}
		return 0
	}
	g.lookup = lookup
	return g
}

// Start follows the pod store until ctx ends.
func (g *NodeGraph) Start(ctx context.Context) {
	if g.lookup == nil {
		return
	}
	r := g.lookup(podsGVR)
	if r == nil {
		slog.Warn("pods are not served; nodes may read no secrets, config maps, claims or service accounts")
		return
	}
	go g.follow(ctx, r)
}

// follow keeps the graph in step with the pod store: a full list, then a watch
// from the list's revision, resumed where it stopped if it ends, and a new list if
// it cannot be resumed.
func (g *NodeGraph) follow(ctx context.Context, pods *storage.Resource) {
	pause := func() {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	for ctx.Err() == nil {
		list, err := pods.List(ctx, storage.ListOptions{ResourceVersion: "0"})
		if err != nil {
			slog.Warn("node authorizer: listing pods failed; retrying", "err", err)
			pause()
			continue
		}
		g.replace(list.Items, list.RV)
		for ctx.Err() == nil {
			w, err := pods.Watch(ctx, storage.WatchOptions{ResourceVersion: strconv.FormatInt(g.revision(), 10), Bookmarks: true})
			if err != nil {
				slog.Warn("node authorizer: watching pods failed; listing again", "err", err)
				break
			}
			resumable := g.consume(ctx, w)
			w.Stop()
			if !resumable {
				break
			}
		}
		pause()
	}
}

// consume applies a watch's events until it ends. It reports whether the watch
// can be resumed from the graph's revision (false after an ERROR event).
func (g *NodeGraph) consume(ctx context.Context, w *storage.Watcher) bool {
	for {
		ev, ok := w.Next(ctx, g.kick)
		if !ok {
			return true
		}
		switch ev.Type {
		case watch.Added, watch.Modified:
			if pod, ok := ev.Object.Obj.(*corev1.Pod); ok {
				g.setPod(ev.Object.Namespace+"/"+ev.Object.Name, useOf(pod), ev.Object.RV)
			}
		case watch.Deleted:
			g.setPod(ev.Object.Namespace+"/"+ev.Object.Name, podUse{}, ev.Object.RV)
		case watch.Bookmark:
			g.mu.Lock()
			g.advanceLocked(ev.RV)
			g.mu.Unlock()
		case watch.Error:
			slog.Warn("node authorizer: the pod watch failed; listing again", "err", ev.Err)
			return false
		}
	}
}

func (g *NodeGraph) revision() int64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.rv
}

// replace rebuilds the graph from a full list of pods at revision rv.
func (g *NodeGraph) replace(items []*storage.Object, rv int64) {
	pods := make(map[string]podUse, len(items))
	nodes := map[string]map[objRef]int32{}
	for _, o := range items {
		pod, ok := o.Obj.(*corev1.Pod)
		if !ok {
			continue
		}
		u := useOf(pod)
		if u.node == "" {
			continue
		}
		pods[o.Namespace+"/"+o.Name] = u
		addUse(nodes, u, 1)
	}
	g.mu.Lock()
	g.pods, g.nodes = pods, nodes
	g.rv = 0
	g.advanceLocked(rv)
	g.mu.Unlock()
}

// setPod records what the pod key now uses (nothing once it is deleted).
func (g *NodeGraph) setPod(key string, u podUse, rv int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old, had := g.pods[key]
	if !had || !old.equal(u) {
		if had {
			addUse(g.nodes, old, -1)
			delete(g.pods, key)
		}
		if u.node != "" {
			g.pods[key] = u
			addUse(g.nodes, u, 1)
		}
	}
	g.advanceLocked(rv)
}

func addUse(nodes map[string]map[objRef]int32, u podUse, delta int32) {
	m := nodes[u.node]
	if m == nil {
		if delta < 0 {
			return
		}
		m = map[objRef]int32{}
		nodes[u.node] = m
	}
	for _, r := range u.refs {
		if n := m[r] + delta; n > 0 {
			m[r] = n
		} else {
			delete(m, r)
		}
	}
	if len(m) == 0 {
		delete(nodes, u.node)
	}
}

func (g *NodeGraph) advanceLocked(rv int64) {
	if rv <= g.rv {
		return
	}
	g.rv = rv
	if g.moved != nil {
		close(g.moved)
		g.moved = nil
	}
}

// uses reports whether a pod bound to node uses the object.
func (g *NodeGraph) uses(node string, r objRef) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodes[node][r] > 0
}

// claims lists the claims the pods of node use.
func (g *NodeGraph) claims(node string) []objRef {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []objRef
	for r := range g.nodes[node] {
		if r.kind == refClaim {
			out = append(out, r)
		}
	}
	return out
}

// usesVolume reports whether a claim the pods of node use is bound to the
// persistent volume.
func (g *NodeGraph) usesVolume(ctx context.Context, node, volume string) bool {
	if g.claimVolume == nil {
		return false
	}
	for _, c := range g.claims(node) {
		if g.claimVolume(ctx, c.namespace, c.name) == volume {
			return true
		}
	}
	return false
}

// settle waits, for at most settleWait, until the graph reflects every pod change
// the store had applied when it was called. A node learns of a new pod from that
// same store and may ask for the pod's secrets before the graph has seen it; a
// denial is only final once the graph has caught up.
func (g *NodeGraph) settle(ctx context.Context) {
	if g.storeRevision == nil {
		return
	}
	want := g.storeRevision()
	deadline := time.NewTimer(settleWait)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		if g.rv >= want {
			g.mu.Unlock()
			return
		}
		if g.moved == nil {
			g.moved = make(chan struct{})
		}
		moved := g.moved
		g.mu.Unlock()
		select {
		case g.kick <- time.Now():
		default:
		}
		select {
		case <-moved:
		case <-deadline.C:
			slog.Warn("node authorizer: the pod graph is behind the store; deciding with what it knows", "graph", g.revision(), "store", want)
			return
		case <-ctx.Done():
			return
		}
	}
}

// namesIn lists, by kind, the objects in namespace that the pods of node use.
func (g *NodeGraph) namesIn(node, namespace string) map[refKind][]string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := map[refKind][]string{}
	for r := range g.nodes[node] {
		if r.namespace == namespace {
			out[r.kind] = append(out[r.kind], r.name)
		}
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

// volumes lists the persistent volumes bound to claims the pods of node use.
func (g *NodeGraph) volumes(ctx context.Context, node string) []string {
	if g.claimVolume == nil {
		return nil
	}
	var out []string
	for _, c := range g.claims(node) {
		if v := g.claimVolume(ctx, c.namespace, c.name); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

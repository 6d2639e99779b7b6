package server

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
)

// inProcessWatcher serves watches to components in this process without HTTP
// (apiserver.Server.WatchInProcess).
type inProcessWatcher interface {
	WatchInProcess(ctx context.Context, token string, gvr schema.GroupVersionResource, namespace string, opts metav1.ListOptions, asMetadata bool) (watch.Interface, bool, error)
}

// direct routes a component's watches of the busiest resources (pods, nodes,
// leases, and every resource its metadata client watches) to the API server's
// in-process watch; everything else, lists included, still goes through the HTTP
// API. Each change of a pod then costs the server one copy per component instead
// of an encoding, an HTTP/2 frame and a decode.
type direct struct {
	srv   inProcessWatcher
	token string // the component's in-process token, as its requests carry
}

func (d direct) watch(ctx context.Context, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions, asMetadata bool, viaHTTP func() (watch.Interface, error)) (watch.Interface, error) {
	w, ok, err := d.srv.WatchInProcess(ctx, d.token, gvr, ns, opts, asMetadata)
	if !ok {
		return viaHTTP()
	}
	return w, err
}

// client wraps a typed clientset.
func (d direct) client(c kubernetes.Interface) kubernetes.Interface {
	return &directClientset{Interface: c, d: d}
}

// metadata wraps a metadata client.
func (d direct) metadata(c metadata.Interface) metadata.Interface {
	return &directMetadata{Interface: c, d: d}
}

var (
	podsGVR   = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	nodesGVR  = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	leasesGVR = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
)

type directClientset struct {
	kubernetes.Interface
	d direct
}

func (c *directClientset) CoreV1() corev1.CoreV1Interface {
	return &directCoreV1{CoreV1Interface: c.Interface.CoreV1(), d: c.d}
}

func (c *directClientset) CoordinationV1() coordinationv1.CoordinationV1Interface {
	return &directCoordinationV1{CoordinationV1Interface: c.Interface.CoordinationV1(), d: c.d}
}

type directCoreV1 struct {
	corev1.CoreV1Interface
	d direct
}

func (c *directCoreV1) Pods(ns string) corev1.PodInterface {
	return &directPods{PodInterface: c.CoreV1Interface.Pods(ns), ns: ns, d: c.d}
}

func (c *directCoreV1) Nodes() corev1.NodeInterface {
	return &directNodes{NodeInterface: c.CoreV1Interface.Nodes(), d: c.d}
}

type directPods struct {
	corev1.PodInterface
	ns string
	d  direct
}

func (p *directPods) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return p.d.watch(ctx, podsGVR, p.ns, opts, false, func() (watch.Interface, error) { return p.PodInterface.Watch(ctx, opts) })
}

type directNodes struct {
	corev1.NodeInterface
	d direct
}

func (n *directNodes) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return n.d.watch(ctx, nodesGVR, "", opts, false, func() (watch.Interface, error) { return n.NodeInterface.Watch(ctx, opts) })
}

type directCoordinationV1 struct {
	coordinationv1.CoordinationV1Interface
	d direct
}

func (c *directCoordinationV1) Leases(ns string) coordinationv1.LeaseInterface {
	return &directLeases{LeaseInterface: c.CoordinationV1Interface.Leases(ns), ns: ns, d: c.d}
}

type directLeases struct {
	coordinationv1.LeaseInterface
	ns string
	d  direct
}

func (l *directLeases) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return l.d.watch(ctx, leasesGVR, l.ns, opts, false, func() (watch.Interface, error) { return l.LeaseInterface.Watch(ctx, opts) })
}

type directMetadata struct {
	metadata.Interface
	d direct
}

func (m *directMetadata) Resource(gvr schema.GroupVersionResource) metadata.Getter {
	return &directMetadataGetter{Getter: m.Interface.Resource(gvr), gvr: gvr, d: m.d}
}

type directMetadataGetter struct {
	metadata.Getter
	gvr schema.GroupVersionResource
	d   direct
}

func (g *directMetadataGetter) Namespace(ns string) metadata.ResourceInterface {
	return &directMetadataResource{ResourceInterface: g.Getter.Namespace(ns), gvr: g.gvr, ns: ns, d: g.d}
}

func (g *directMetadataGetter) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return g.d.watch(ctx, g.gvr, "", opts, true, func() (watch.Interface, error) { return g.Getter.Watch(ctx, opts) })
}

type directMetadataResource struct {
	metadata.ResourceInterface
	gvr schema.GroupVersionResource
	ns  string
	d   direct
}

func (r *directMetadataResource) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return r.d.watch(ctx, r.gvr, r.ns, opts, true, func() (watch.Interface, error) { return r.ResourceInterface.Watch(ctx, opts) })
}

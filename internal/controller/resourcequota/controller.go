// Package resourcequota keeps the status of ResourceQuotas: status.hard mirrors
// spec.hard and status.used is what the namespace's objects charge now, for every
// name the quota limits. Refusing writes over a quota is admission's job; this
// controller only reports.
package resourcequota

import (
	"context"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"

	"tug/internal/controller"
	"tug/internal/controller/loop"
	"tug/internal/quota"
)

func init() {
	controller.Register("resourcequota", func(c *controller.Context) (controller.Runner, error) { return New(c) })
}

// Resync is how often a quota is recounted when it counts objects the controller
// does not watch (everything but pods).
const Resync = 10 * time.Second

// Controller recomputes quota usage.
type Controller struct {
	client   kubernetes.Interface
	md       metadata.Interface
	quotas   corelisters.ResourceQuotaLister
	pods     corelisters.PodLister
	queue    *loop.Queue
	workers  int
	synced   []cache.InformerSynced
	versions sync.Map // API group -> preferred version
}

// New builds the controller; its queue holds quota keys.
func New(c *controller.Context) (*Controller, error) {
	qInf := c.Informers.Core().V1().ResourceQuotas()
	pInf := c.Informers.Core().V1().Pods()
	rc := &Controller{
		client:  c.Client,
		md:      c.Metadata,
		quotas:  qInf.Lister(),
		pods:    pInf.Lister(),
		queue:   loop.New("resourcequota", c.Clock),
		workers: c.Options.Workers,
		synced:  []cache.InformerSynced{qInf.Informer().HasSynced, pInf.Informer().HasSynced},
	}
	if _, err := qInf.Informer().AddEventHandler(rc.queue.Handler()); err != nil {
		return nil, err
	}
	podChanged := func(obj interface{}) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if p, ok := obj.(*corev1.Pod); ok {
			rc.queueNamespace(p.Namespace)
		}
	}
	if _, err := pInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: podChanged,
		UpdateFunc: func(old, cur interface{}) {
			o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
			// Only what changes a pod's charge: phase and deletion.
			if o.Status.Phase != n.Status.Phase || (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) {
				podChanged(cur)
			}
		},
		DeleteFunc: podChanged,
	}); err != nil {
		return nil, err
	}
	return rc, nil
}

func (rc *Controller) queueNamespace(ns string) {
	qs, err := rc.quotas.ResourceQuotas(ns).List(labels.Everything())
	if err != nil {
		return
	}
	for _, q := range qs {
		rc.queue.Add(q.Namespace + "/" + q.Name)
	}
}

// Run implements controller.Runner.
func (rc *Controller) Run(ctx context.Context) {
	rc.queue.Run(ctx, rc.workers, rc.reconcile, rc.synced...)
}

var podsGR = schema.GroupResource{Resource: "pods"}

func (rc *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	q, err := rc.quotas.ResourceQuotas(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	used, others, err := rc.usage(ctx, q)
	if err != nil {
		return err
	}
	if others {
		rc.queue.AddAfter(key, Resync)
	}
	if apiequality.Semantic.DeepEqual(q.Status.Hard, q.Spec.Hard) && apiequality.Semantic.DeepEqual(q.Status.Used, used) {
		return nil
	}
	next := q.DeepCopy()
	next.Status.Hard = q.Spec.Hard.DeepCopy()
	next.Status.Used = used
	_, err = rc.client.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone, or changed: the informer brings the newer version back here.
		return nil
	}
	return err
}

// usage is q's used list: every name q limits, zero when nothing charges it. others
// reports that it counts objects other than pods (which no informer here watches).
func (rc *Controller) usage(ctx context.Context, q *corev1.ResourceQuota) (corev1.ResourceList, bool, error) {
	used := quota.Zero(q.Spec.Hard)
	if !quota.Supported(q) {
		return used, false, nil
	}
	others := false
	for _, gr := range resourcesOf(q.Spec.Hard) {
		if gr == podsGR {
			pods, err := rc.pods.Pods(q.Namespace).List(labels.Everything())
			if err != nil {
				return nil, false, err
			}
			for _, p := range pods {
				if quota.Covers(q, gr, p) {
					quota.Add(used, quota.Filter(q, quota.Usage(gr, p)))
				}
			}
			continue
		}
		if quota.Scoped(q) {
			continue // scopes speak only of pods
		}
		others = true
		if err := rc.countOthers(ctx, q, gr, used); err != nil {
			return nil, false, err
		}
	}
	return used, others, nil
}

// countOthers adds what objects of gr (not pods) charge to used.
func (rc *Controller) countOthers(ctx context.Context, q *corev1.ResourceQuota, gr schema.GroupResource, used corev1.ResourceList) error {
	opts := metav1.ListOptions{ResourceVersion: "0"}
	if gr.Group == "" {
		switch gr.Resource {
		case "services":
			list, err := rc.client.CoreV1().Services(q.Namespace).List(ctx, opts)
			if err != nil {
				return err
			}
			for i := range list.Items {
				quota.Add(used, quota.Filter(q, quota.Usage(gr, &list.Items[i])))
			}
			return nil
		case "persistentvolumeclaims":
			list, err := rc.client.CoreV1().PersistentVolumeClaims(q.Namespace).List(ctx, opts)
			if err != nil {
				return err
			}
			for i := range list.Items {
				quota.Add(used, quota.Filter(q, quota.Usage(gr, &list.Items[i])))
			}
			return nil
		}
	}
	if rc.md == nil {
		return nil
	}
	version, err := rc.version(gr.Group)
	if err != nil || version == "" {
		return err // an unknown group counts nothing
	}
	list, err := rc.md.Resource(gr.WithVersion(version)).Namespace(q.Namespace).List(ctx, opts)
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for i := range list.Items {
		quota.Add(used, quota.Filter(q, quota.Usage(gr, &list.Items[i])))
	}
	return nil
}

// version is the preferred version of an API group ("" when not served).
func (rc *Controller) version(group string) (string, error) {
	if group == "" {
		return "v1", nil
	}
	if v, ok := rc.versions.Load(group); ok {
		return v.(string), nil
	}
	groups, err := rc.client.Discovery().ServerGroups()
	if err != nil {
		return "", err
	}
	for _, g := range groups.Groups {
		rc.versions.Store(g.Name, g.PreferredVersion.Version)
	}
	if v, ok := rc.versions.Load(group); ok {
		return v.(string), nil
	}
	return "", nil
}

// resourcesOf lists the resources whose objects charge the names in hard.
func resourcesOf(hard corev1.ResourceList) []schema.GroupResource {
	seen := map[schema.GroupResource]bool{}
	var out []schema.GroupResource
	add := func(gr schema.GroupResource) {
		if !seen[gr] {
			seen[gr] = true
			out = append(out, gr)
		}
	}
	for _, gr := range []schema.GroupResource{podsGR, {Resource: "services"}, {Resource: "configmaps"}, {Resource: "secrets"},
		{Resource: "persistentvolumeclaims"}, {Resource: "replicationcontrollers"}, {Resource: "resourcequotas"}} {
		if quota.Concerns(hard, gr) {
			add(gr)
		}
	}
	for n := range hard {
		s, ok := strings.CutPrefix(string(n), "count/")
		if !ok {
			continue
		}
		gr := schema.ParseGroupResource(s)
		add(gr)
	}
	return out
}

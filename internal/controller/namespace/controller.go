package namespace

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"tug/internal/controller"
	"tug/internal/controller/loop"
)

func init() {
	controller.Register("namespace", func(c *controller.Context) (controller.Runner, error) {
		return New(c, c.Client.Discovery(), c.Metadata), nil
	})
}

// recheckAfter is how soon a namespace whose content is still going away is looked
// at again (pods on nodes take their grace period).
const recheckAfter = 2 * time.Second

// discoveryTTL bounds how long a discovery answer is reused.
const discoveryTTL = 10 * time.Second

// Controller is the namespace controller.
type Controller struct {
	client     kubernetes.Interface
	md         metadata.Interface
	disco      discovery.DiscoveryInterface
	namespaces corelisters.NamespaceLister
	queue      *loop.Queue
	clock      clock.WithTicker
	workers    int
	synced     cache.InformerSynced

	mu        sync.Mutex
	resources []resource
	readAt    time.Time
}

// resource is a namespaced resource whose objects can be deleted.
type resource struct {
	gvr              schema.GroupVersionResource
	deleteCollection bool
}

// New builds the controller.
func New(c *controller.Context, disco discovery.DiscoveryInterface, md metadata.Interface) *Controller {
	inf := c.Informers.Core().V1().Namespaces()
	nc := &Controller{
		client: c.Client, md: md, disco: disco,
		namespaces: inf.Lister(),
		queue:      loop.New("namespace", c.Clock),
		clock:      c.Clock,
		workers:    c.Options.Workers,
		synced:     inf.Informer().HasSynced,
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    nc.maybeQueue,
		UpdateFunc: func(_, cur interface{}) { nc.maybeQueue(cur) },
	})
	return nc
}

func (nc *Controller) maybeQueue(obj interface{}) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
		nc.queue.AddObject(ns)
	}
}

// Run implements controller.Runner.
func (nc *Controller) Run(ctx context.Context) {
	nc.queue.Run(ctx, nc.workers, nc.reconcile, nc.synced)
}

// deletable returns the namespaced resources that support delete (and list), in
// their preferred versions, cached for a few seconds.
func (nc *Controller) deletable() ([]resource, error) {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.resources != nil && nc.clock.Since(nc.readAt) < discoveryTTL {
		return nc.resources, nil
	}
	_, lists, err := nc.disco.ServerGroupsAndResources()
	if err != nil && len(lists) == 0 {
		return nil, err
	}
	groups, gerr := nc.disco.ServerGroups()
	if gerr != nil {
		return nil, gerr
	}
	preferred := map[string]string{}
	for _, g := range groups.Groups {
		preferred[g.Name] = g.PreferredVersion.Version
	}
	var out []resource
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil || (preferred[gv.Group] != "" && preferred[gv.Group] != gv.Version) {
			continue
		}
		for _, r := range l.APIResources {
			if !r.Namespaced || strings.Contains(r.Name, "/") {
				continue
			}
			verbs := sets.New(r.Verbs...)
			if !verbs.HasAll("delete", "list") {
				continue
			}
			out = append(out, resource{gvr: gv.WithResource(r.Name), deleteCollection: verbs.Has("deletecollection")})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].gvr.String() < out[j].gvr.String() })
	nc.resources, nc.readAt = out, nc.clock.Now()
	return out, err
}

// reconcile deletes the content of a terminating namespace and finalizes it when
// it is empty.
func (nc *Controller) reconcile(ctx context.Context, key string) error {
	cached, err := nc.namespaces.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.DeletionTimestamp == nil || !slices.Contains(cached.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return nil
	}
	ns := cached.DeepCopy()
	res, discoErr := nc.deletable()
	var deleteErrs []string
	for _, r := range res {
		if err := nc.deleteAll(ctx, ns.Name, r); err != nil {
			deleteErrs = append(deleteErrs, fmt.Sprintf("%s: %v", r.gvr.GroupResource(), err))
		}
	}
	remaining, finalizers, listErrs := nc.remaining(ctx, ns.Name, res)
	deleteErrs = append(deleteErrs, listErrs...)
	st := nc.conditions(ns, discoErr, deleteErrs, remaining, finalizers)
	if !semanticConditionsEqual(ns.Status.Conditions, st) {
		ns.Status.Conditions = st
		updated, err := nc.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err == nil {
			ns = updated
		}
	}
	if discoErr != nil || len(deleteErrs) > 0 {
		return fmt.Errorf("namespace %s: content not deleted yet: discovery: %v; %s", ns.Name, discoErr, strings.Join(deleteErrs, "; "))
	}
	if len(remaining) > 0 {
		nc.queue.AddAfter(key, recheckAfter)
		return nil
	}
	ns.Spec.Finalizers = slices.DeleteFunc(slices.Clone(ns.Spec.Finalizers), func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
	_, err = nc.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		slog.Info("namespace emptied and finalized", "ns", ns.Name)
	}
	return err
}

// deleteAll deletes every object of one resource in the namespace: one
// deletecollection where the resource has it, else one delete per object.
func (nc *Controller) deleteAll(ctx context.Context, ns string, r resource) error {
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	rc := nc.md.Resource(r.gvr).Namespace(ns)
	if r.deleteCollection {
		err := rc.DeleteCollection(ctx, opts, metav1.ListOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsMethodNotSupported(err) {
			return err
		}
	}
	list, err := rc.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, item := range list.Items {
		if item.DeletionTimestamp != nil {
			continue
		}
		if err := rc.Delete(ctx, item.Name, opts); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// remaining counts what is left per resource, and the finalizers that hold it.
func (nc *Controller) remaining(ctx context.Context, ns string, res []resource) (map[string]int, map[string]int, []string) {
	left, fins := map[string]int{}, map[string]int{}
	var errs []string
	for _, r := range res {
		list, err := nc.md.Resource(r.gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("list %s: %v", r.gvr.GroupResource(), err))
			continue
		}
		if n := len(list.Items); n > 0 {
			left[r.gvr.GroupResource().String()] += n
		}
		for _, item := range list.Items {
			for _, f := range item.Finalizers {
				fins[f]++
			}
		}
	}
	return left, fins, errs
}

// conditions describes the deletion's progress in the namespace's status.
func (nc *Controller) conditions(ns *corev1.Namespace, discoErr error, deleteErrs []string, left, fins map[string]int) []corev1.NamespaceCondition {
	now := metav1.NewTime(nc.clock.Now())
	set := func(t corev1.NamespaceConditionType, ok bool, reasonOK, reasonBad, msgBad string) corev1.NamespaceCondition {
		c := corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: reasonOK, LastTransitionTime: now}
		if !ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, reasonBad, msgBad
		}
		for _, old := range ns.Status.Conditions {
			if old.Type == t && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	discoMsg := ""
	if discoErr != nil {
		discoMsg = "Some resources could not be listed through discovery: " + discoErr.Error()
	}
	out := []corev1.NamespaceCondition{
		set(corev1.NamespaceDeletionDiscoveryFailure, discoErr == nil, "ResourcesDiscovered", "DiscoveryFailed", discoMsg),
		set(corev1.NamespaceDeletionGVParsingFailure, true, "ParsedGroupVersions", "", ""),
		set(corev1.NamespaceDeletionContentFailure, len(deleteErrs) == 0, "ContentDeleted", "ContentDeletionFailed", "Deleting content failed: "+strings.Join(deleteErrs, "; ")),
		set(corev1.NamespaceContentRemaining, len(left) == 0, "ContentRemoved", "SomeResourcesRemain", "Still present: "+countList(left, "objects")),
		set(corev1.NamespaceFinalizersRemaining, len(fins) == 0, "ContentHasNoFinalizers", "SomeFinalizersRemain", "Objects still held by finalizers: "+countList(fins, "objects")),
	}
	// Keep the messages of conditions that are fine empty.
	for i := range out {
		if out[i].Status == corev1.ConditionFalse {
			out[i].Message = ""
		}
	}
	return out
}

func countList(m map[string]int, what string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s (%d %s)", k, m[k], what)
	}
	return strings.Join(parts, ", ")
}

func semanticConditionsEqual(a, b []corev1.NamespaceCondition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message {
			return false
		}
	}
	return true
}

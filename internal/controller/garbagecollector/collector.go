package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Collector decides and acts on the graph.
type Collector struct {
	md     metadata.Interface
	mapper *mapper
	graph  *graph
	clock  clock.PassiveClock

	deleteQ workqueue.TypedRateLimitingInterface[*node]
	orphanQ workqueue.TypedRateLimitingInterface[*node]

	// absent remembers owner UIDs found missing, so that thousands of dependents
	// of one deleted owner cost one lookup.
	absentMu sync.Mutex
	absent   map[types.UID]time.Time
}

// absentTTL bounds how long a missing owner is remembered.
const absentTTL = 2 * time.Minute

func newCollector(md metadata.Interface, m *mapper, clk clock.WithTicker) *Collector {
	c := &Collector{
		md: md, mapper: m, clock: clk, absent: map[types.UID]time.Time{},
		deleteQ: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[*node](),
			workqueue.TypedRateLimitingQueueConfig[*node]{Name: "garbage_collector_attempt_to_delete", Clock: clk}),
		orphanQ: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[*node](),
			workqueue.TypedRateLimitingQueueConfig[*node]{Name: "garbage_collector_attempt_to_orphan", Clock: clk}),
	}
	c.graph = newGraph(func(n *node) { c.deleteQ.Add(n) }, func(n *node) { c.orphanQ.Add(n) })
	return c
}

func (c *Collector) isAbsent(uid types.UID) bool {
	c.absentMu.Lock()
	defer c.absentMu.Unlock()
	t, ok := c.absent[uid]
	if ok && c.clock.Since(t) > absentTTL {
		delete(c.absent, uid)
		return false
	}
	return ok
}

func (c *Collector) markAbsent(uid types.UID) {
	c.absentMu.Lock()
	defer c.absentMu.Unlock()
	if len(c.absent) > 10000 {
		for k, t := range c.absent {
			if c.clock.Since(t) > absentTTL {
				delete(c.absent, k)
			}
		}
	}
	c.absent[uid] = c.clock.Now()
}

// client returns the metadata client for the resource of ref.
func (c *Collector) client(ref objRef) (metadata.ResourceInterface, resourceInfo, error) {
	ri, err := c.mapper.lookup(ref.APIVersion, ref.Kind)
	if err != nil {
		return nil, ri, err
	}
	if ri.namespaced {
		return c.md.Resource(ri.gvr).Namespace(ref.Namespace), ri, nil
	}
	return c.md.Resource(ri.gvr), ri, nil
}

// getLive reads an object from the API server. A missing object, or one with
// another UID, is reported as errAbsent.
func (c *Collector) getLive(ctx context.Context, ref objRef) (*metav1.PartialObjectMetadata, error) {
	rc, _, err := c.client(ref)
	if err != nil {
		return nil, err
	}
	obj, err := rc.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, errAbsent
	}
	if err != nil {
		return nil, err
	}
	if obj.UID != ref.UID {
		return nil, errAbsent
	}
	return obj, nil
}

var errAbsent = errors.New("object does not exist")

// processDelete handles one node from the delete queue.
func (c *Collector) processDelete(ctx context.Context, n *node) error {
	if !c.graph.inGraph(n) {
		return nil
	}
	s := c.graph.snapshot(n)
	if s.virtual {
		_, err := c.getLive(ctx, s.ref)
		if err == errAbsent {
			c.markAbsent(s.ref.UID)
			c.graph.process(&event{typ: absentEvent, ref: s.ref})
			return nil
		}
		// It exists (a watch will report it) or cannot be read now.
		return ignoreUnmapped(err)
	}
	if s.beingDeleted && !s.deletingDependents {
		return nil
	}
	latest, err := c.getLive(ctx, s.ref)
	if err == errAbsent {
		return nil // its watch will report the deletion
	}
	if err != nil {
		return ignoreUnmapped(err)
	}
	if s.deletingDependents {
		return c.processForeground(ctx, s, latest)
	}
	refs := latest.OwnerReferences
	if len(refs) == 0 {
		return nil
	}
	_, ri, err := c.client(s.ref)
	if err != nil {
		return ignoreUnmapped(err)
	}
	var solid, dangling, waiting []metav1.OwnerReference
	for _, r := range refs {
		st, err := c.ownerState(ctx, latest.Namespace, ri.namespaced, r)
		if err != nil {
			return err
		}
		switch st {
		case ownerSolid:
			solid = append(solid, r)
		case ownerDangling:
			dangling = append(dangling, r)
		case ownerWaiting:
			waiting = append(waiting, r)
		}
	}
	switch {
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return nil
		}
		// Keep the object; drop the references to owners that are gone or that
		// wait for their dependents to go.
		drop := map[types.UID]bool{}
		for _, r := range append(dangling, waiting...) {
			drop[r.UID] = true
		}
		slog.Debug("garbage collector removes owner references", "object", s.ref.String(), "dropped", len(drop))
		return c.removeOwnerRefs(ctx, s.ref, drop)
	case len(waiting) > 0 && len(s.dependents) > 0:
		// An owner is deleted in the foreground: this object goes the same way, so
		// that its own dependents go first.
		return c.deleteObject(ctx, s.ref, metav1.DeletePropagationForeground)
	default:
		policy := metav1.DeletePropagationBackground
		switch {
		case slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		slog.Debug("garbage collector deletes object without owner", "object", s.ref.String(), "policy", policy)
		return c.deleteObject(ctx, s.ref, policy)
	}
}

type ownerStatus int

const (
	ownerSolid ownerStatus = iota
	ownerDangling
	ownerWaiting
)

// ownerState says whether the owner r of an object in namespace ns exists, is gone,
// or is being deleted in the foreground.
func (c *Collector) ownerState(ctx context.Context, ns string, dependentNamespaced bool, r metav1.OwnerReference) (ownerStatus, error) {
	ri, err := c.mapper.lookup(r.APIVersion, r.Kind)
	if err != nil {
		// An unknown kind cannot be checked: keep the dependent.
		return ownerSolid, nil
	}
	if ri.namespaced && !dependentNamespaced {
		// A cluster-scoped object cannot be owned by a namespaced one.
		return ownerDangling, nil
	}
	ownerNS := ""
	if ri.namespaced {
		ownerNS = ns
	}
	if o := c.graph.get(r.UID); o != nil {
		s := c.graph.snapshot(o)
		if !s.virtual {
			if s.ref.Name != r.Name || s.ref.Namespace != ownerNS || s.ref.Kind != r.Kind {
				return ownerDangling, nil
			}
			if s.deletingDependents {
				return ownerWaiting, nil
			}
			return ownerSolid, nil
		}
	}
	if c.isAbsent(r.UID) {
		return ownerDangling, nil
	}
	live, err := c.getLive(ctx, objRef{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: ownerNS, Name: r.Name, UID: r.UID})
	if err == errAbsent {
		c.markAbsent(r.UID)
		return ownerDangling, nil
	}
	if err != nil {
		return ownerSolid, err
	}
	if live.DeletionTimestamp != nil && slices.Contains(live.Finalizers, metav1.FinalizerDeleteDependents) {
		return ownerWaiting, nil
	}
	return ownerSolid, nil
}

// processForeground: an owner deleted in the foreground loses its finalizer once no
// dependent blocks it; until then its blocking dependents are deleted.
func (c *Collector) processForeground(ctx context.Context, s snapshot, latest *metav1.PartialObjectMetadata) error {
	if !slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
		return nil
	}
	if len(s.blocking) == 0 {
		return c.removeFinalizer(ctx, s.ref, metav1.FinalizerDeleteDependents)
	}
	for _, d := range s.blocking {
		ds := c.graph.snapshot(d)
		if !ds.beingDeleted || ds.deletingDependents {
			c.deleteQ.Add(d)
		}
	}
	return nil
}

// processOrphan removes an owner's references from its dependents, then its orphan
// finalizer.
func (c *Collector) processOrphan(ctx context.Context, n *node) error {
	if !c.graph.inGraph(n) {
		return nil
	}
	s := c.graph.snapshot(n)
	latest, err := c.getLive(ctx, s.ref)
	if err == errAbsent {
		return nil
	}
	if err != nil {
		return ignoreUnmapped(err)
	}
	if !slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents) {
		return nil
	}
	var errs []error
	for _, d := range s.dependents {
		ds := c.graph.snapshot(d)
		if err := c.removeOwnerRefs(ctx, ds.ref, map[types.UID]bool{s.ref.UID: true}); err != nil && err != errAbsent {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("orphaning the dependents of %s: %v", s.ref, errs)
	}
	return c.removeFinalizer(ctx, s.ref, metav1.FinalizerOrphanDependents)
}

// removeOwnerRefs drops the references to the owners in drop from an object. The
// patch carries the resourceVersion it was computed from, so a concurrent change
// makes it fail and be retried.
func (c *Collector) removeOwnerRefs(ctx context.Context, ref objRef, drop map[types.UID]bool) error {
	latest, err := c.getLive(ctx, ref)
	if err != nil {
		return err
	}
	var keep []metav1.OwnerReference
	for _, r := range latest.OwnerReferences {
		if !drop[r.UID] {
			keep = append(keep, r)
		}
	}
	if len(keep) == len(latest.OwnerReferences) {
		return nil
	}
	var refs interface{} = keep
	if len(keep) == 0 {
		refs = nil
	}
	return c.patchMeta(ctx, ref, latest.ResourceVersion, map[string]interface{}{"ownerReferences": refs})
}

// removeFinalizer drops one finalizer from an object.
func (c *Collector) removeFinalizer(ctx context.Context, ref objRef, f string) error {
	latest, err := c.getLive(ctx, ref)
	if err == errAbsent {
		return nil
	}
	if err != nil {
		return err
	}
	if !slices.Contains(latest.Finalizers, f) {
		return nil
	}
	keep := slices.DeleteFunc(slices.Clone(latest.Finalizers), func(s string) bool { return s == f })
	var fs interface{} = keep
	if len(keep) == 0 {
		fs = nil
	}
	slog.Debug("garbage collector removes finalizer", "object", ref.String(), "finalizer", f)
	return c.patchMeta(ctx, ref, latest.ResourceVersion, map[string]interface{}{"finalizers": fs})
}

func (c *Collector) patchMeta(ctx context.Context, ref objRef, rv string, fields map[string]interface{}) error {
	fields["resourceVersion"] = rv
	fields["uid"] = ref.UID
	body, err := json.Marshal(map[string]interface{}{"metadata": fields})
	if err != nil {
		return err
	}
	rc, _, err := c.client(ref)
	if err != nil {
		return err
	}
	_, err = rc.Patch(ctx, ref.Name, types.MergePatchType, body, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return errAbsent
	}
	return err
}

func (c *Collector) deleteObject(ctx context.Context, ref objRef, policy metav1.DeletionPropagation) error {
	rc, _, err := c.client(ref)
	if err != nil {
		return ignoreUnmapped(err)
	}
	uid := ref.UID
	err = rc.Delete(ctx, ref.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &policy})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// ignoreUnmapped drops errors for kinds that no resource serves: retrying does not
// help until discovery changes, which requeues everything anyway.
func ignoreUnmapped(err error) error {
	var u *unmappedError
	if errors.As(err, &u) {
		return nil
	}
	return err
}

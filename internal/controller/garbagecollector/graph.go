package garbagecollector

import (
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// objRef names an object: its kind, where it lives and its UID.
type objRef struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	UID        types.UID
}

func (r objRef) String() string {
	if r.Namespace != "" {
		return r.Kind + " " + r.Namespace + "/" + r.Name + " (" + string(r.UID) + ")"
	}
	return r.Kind + " " + r.Name + " (" + string(r.UID) + ")"
}

// node is one object in the graph. A virtual node was only named by a dependent's
// ownerReference and has not been seen through a watch (it may not exist).
type node struct {
	ref        objRef
	owners     []metav1.OwnerReference
	dependents map[*node]struct{}
	virtual    bool
	// beingDeleted: deletionTimestamp is set.
	beingDeleted bool
	// deletingDependents: being deleted in the foreground (foregroundDeletion
	// finalizer): it waits for its blocking dependents.
	deletingDependents bool
}

// blocks reports whether dependent d holds back the foreground deletion of owner.
func blocks(d *node, owner types.UID) bool {
	for _, r := range d.owners {
		if r.UID == owner && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			return true
		}
	}
	return false
}

type eventType int

const (
	addEvent eventType = iota
	updateEvent
	deleteEvent
	// absentEvent: a worker found that a virtual node's object does not exist.
	absentEvent
)

// event is a change seen by a watch (or found by a worker), applied to the graph in
// order by one goroutine.
type event struct {
	typ        eventType
	ref        objRef
	owners     []metav1.OwnerReference
	finalizers []string
	deleting   bool
}

// graph maps UIDs to nodes. Only the graph builder writes it; workers read it under
// the lock.
type graph struct {
	mu    sync.RWMutex
	nodes map[types.UID]*node
	// attemptDelete and attemptOrphan hand nodes to the workers.
	attemptDelete func(*node)
	attemptOrphan func(*node)
}

func newGraph(attemptDelete, attemptOrphan func(*node)) *graph {
	return &graph{nodes: map[types.UID]*node{}, attemptDelete: attemptDelete, attemptOrphan: attemptOrphan}
}

func (g *graph) get(uid types.UID) *node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodes[uid]
}

func (g *graph) len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.nodes)
}

// process applies one event.
func (g *graph) process(ev *event) {
	g.mu.Lock()
	var toDelete, toOrphan []*node
	defer func() {
		g.mu.Unlock()
		for _, n := range toDelete {
			g.attemptDelete(n)
		}
		for _, n := range toOrphan {
			g.attemptOrphan(n)
		}
	}()
	enqueueDependents := func(n *node) {
		for d := range n.dependents {
			toDelete = append(toDelete, d)
		}
	}
	n := g.nodes[ev.ref.UID]
	switch ev.typ {
	case addEvent, updateEvent:
		if n == nil {
			n = &node{ref: ev.ref, dependents: map[*node]struct{}{}}
			g.nodes[ev.ref.UID] = n
			for _, r := range ev.owners {
				toDelete = append(toDelete, g.addToOwner(n, r)...)
			}
			n.owners = ev.owners
		} else {
			if n.virtual {
				n.virtual = false
				// Dependents that named this object by other coordinates (wrong
				// namespace or kind) must be checked again.
				if n.ref.Namespace != ev.ref.Namespace || n.ref.Name != ev.ref.Name || n.ref.Kind != ev.ref.Kind {
					enqueueDependents(n)
				}
			}
			n.ref = ev.ref
			toDelete = append(toDelete, g.updateOwners(n, ev.owners)...)
		}
		n.beingDeleted = ev.deleting
		if ev.deleting && slices.Contains(ev.finalizers, metav1.FinalizerOrphanDependents) {
			toOrphan = append(toOrphan, n)
		}
		wasDeletingDependents := n.deletingDependents
		n.deletingDependents = ev.deleting && slices.Contains(ev.finalizers, metav1.FinalizerDeleteDependents)
		if n.deletingDependents && !wasDeletingDependents {
			enqueueDependents(n)
			toDelete = append(toDelete, n)
		}
	case deleteEvent:
		if n == nil {
			return
		}
		toDelete = append(toDelete, g.remove(n)...)
		enqueueDependents(n)
	case absentEvent:
		if n == nil || !n.virtual {
			return
		}
		toDelete = append(toDelete, g.remove(n)...)
		enqueueDependents(n)
	}
}

// addToOwner records n as a dependent of the owner r names, creating a virtual owner
// node (to be checked) if the owner was not seen. It returns nodes to check.
func (g *graph) addToOwner(n *node, r metav1.OwnerReference) []*node {
	owner := g.nodes[r.UID]
	var check []*node
	if owner == nil {
		owner = &node{
			ref:        objRef{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: n.ref.Namespace, Name: r.Name, UID: r.UID},
			dependents: map[*node]struct{}{},
			virtual:    true,
		}
		g.nodes[r.UID] = owner
		check = append(check, owner)
	}
	owner.dependents[n] = struct{}{}
	return check
}

// updateOwners moves n between owners after its ownerReferences changed. An owner
// waiting for its dependents is checked again when n stops blocking it.
func (g *graph) updateOwners(n *node, owners []metav1.OwnerReference) []*node {
	var check []*node
	old := map[types.UID]metav1.OwnerReference{}
	for _, r := range n.owners {
		old[r.UID] = r
	}
	cur := map[types.UID]bool{}
	for _, r := range owners {
		cur[r.UID] = true
		prev, had := old[r.UID]
		if !had {
			check = append(check, g.addToOwner(n, r)...)
			continue
		}
		wasBlocking := prev.BlockOwnerDeletion != nil && *prev.BlockOwnerDeletion
		isBlocking := r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion
		if wasBlocking && !isBlocking {
			if o := g.nodes[r.UID]; o != nil && o.deletingDependents {
				check = append(check, o)
			}
		}
	}
	for uid := range old {
		if cur[uid] {
			continue
		}
		if o := g.nodes[uid]; o != nil {
			delete(o.dependents, n)
			if o.deletingDependents {
				check = append(check, o)
			}
			if o.virtual && len(o.dependents) == 0 {
				delete(g.nodes, uid)
			}
		}
	}
	n.owners = owners
	return check
}

// remove takes n out of the graph; owners waiting for their dependents are returned
// to be checked. n's dependents stay linked to it until they are checked.
func (g *graph) remove(n *node) []*node {
	var check []*node
	delete(g.nodes, n.ref.UID)
	for _, r := range n.owners {
		o := g.nodes[r.UID]
		if o == nil {
			continue
		}
		delete(o.dependents, n)
		if o.deletingDependents {
			check = append(check, o)
		}
		if o.virtual && len(o.dependents) == 0 {
			delete(g.nodes, r.UID)
		}
	}
	return check
}

// snapshot is a copy of a node's state for a worker.
type snapshot struct {
	ref                objRef
	virtual            bool
	beingDeleted       bool
	deletingDependents bool
	dependents         []*node
	blocking           []*node
}

func (g *graph) snapshot(n *node) snapshot {
	g.mu.RLock()
	defer g.mu.RUnlock()
	s := snapshot{ref: n.ref, virtual: n.virtual, beingDeleted: n.beingDeleted, deletingDependents: n.deletingDependents}
	for d := range n.dependents {
		s.dependents = append(s.dependents, d)
		if blocks(d, n.ref.UID) {
			s.blocking = append(s.blocking, d)
		}
	}
	return s
}

// inGraph reports whether n is still the node for its UID.
func (g *graph) inGraph(n *node) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodes[n.ref.UID] == n
}

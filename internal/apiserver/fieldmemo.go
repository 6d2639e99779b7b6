package apiserver

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// createMemo remembers the managedFields entry that recording a create produced.
// The entry depends only on the writer, the kind and the object's content outside
// the metadata fields managedFields never covers (name, namespace, uid,
// resourceVersion, creationTimestamp, generation, selfLink); controllers create
// many pods from one template, so most creates repeat an earlier one's entry, and
// computing it again walks the whole object by reflection (about 150 µs for a pod,
// a tenth of the server's CPU when pods are created in bulk). Only the time of the
// entry is new.
type createMemo struct {
	mu      sync.Mutex
	max     int
	entries map[memoKey]*list.Element
	lru     list.List // of *memoEntry, most recent first
}

type memoKey [sha256.Size]byte

type memoEntry struct {
	key   memoKey
	entry metav1.ManagedFieldsEntry
}

func newCreateMemo(max int) *createMemo {
	return &createMemo{max: max, entries: make(map[memoKey]*list.Element)}
}

// marshaler is what the built-in API types implement (their protobuf encoding).
type marshaler interface{ Marshal() ([]byte, error) }

// key identifies what the entry for a create of obj by manager depends on. It is
// false when obj cannot be keyed (no protobuf encoding, or managedFields sent
// with the object, which the full computation takes into account).
func (c *createMemo) key(manager string, gvk string, obj runtime.Object) (memoKey, bool) {
	m, ok := obj.(marshaler)
	if !ok {
		return memoKey{}, false
	}
	a, err := meta.Accessor(obj)
	if err != nil || len(a.GetManagedFields()) > 0 {
		return memoKey{}, false
	}
	name, ns, uid, rv, link := a.GetName(), a.GetNamespace(), a.GetUID(), a.GetResourceVersion(), a.GetSelfLink()
	created, gen := a.GetCreationTimestamp(), a.GetGeneration()
	a.SetName("")
	a.SetNamespace("")
	a.SetUID("")
	a.SetResourceVersion("")
	a.SetSelfLink("")
	a.SetCreationTimestamp(metav1.Time{})
	a.SetGeneration(0)
	data, err := m.Marshal()
	a.SetName(name)
	a.SetNamespace(ns)
	a.SetUID(types.UID(uid))
	a.SetResourceVersion(rv)
	a.SetSelfLink(link)
	a.SetCreationTimestamp(created)
	a.SetGeneration(gen)
	if err != nil {
		return memoKey{}, false
	}
	h := sha256.New()
	h.Write([]byte(manager))
	h.Write([]byte{0})
	h.Write([]byte(gvk))
	h.Write([]byte{0})
	h.Write(data)
	var k memoKey
	h.Sum(k[:0])
	return k, true
}

// apply sets obj's managedFields from a remembered entry, stamped now.
func (c *createMemo) apply(k memoKey, obj runtime.Object) bool {
	c.mu.Lock()
	el, ok := c.entries[k]
	var e metav1.ManagedFieldsEntry
	if ok {
		c.lru.MoveToFront(el)
		e = el.Value.(*memoEntry).entry
	}
	c.mu.Unlock()
	if !ok {
		return false
	}
	a, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if e.FieldsV1 != nil {
		e.FieldsV1 = &metav1.FieldsV1{Raw: append([]byte(nil), e.FieldsV1.Raw...)}
	}
	e.Time = &metav1.Time{Time: time.Now().UTC()}
	a.SetManagedFields([]metav1.ManagedFieldsEntry{e})
	return true
}

// remember keeps the entry the full computation gave obj, when it is the single
// entry a create yields.
func (c *createMemo) remember(k memoKey, obj runtime.Object) {
	a, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	mf := a.GetManagedFields()
	if len(mf) != 1 {
		return
	}
	e := mf[0]
	if e.FieldsV1 != nil {
		e.FieldsV1 = &metav1.FieldsV1{Raw: append([]byte(nil), e.FieldsV1.Raw...)}
	}
	e.Time = nil
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		c.lru.MoveToFront(el)
		return
	}
	c.entries[k] = c.lru.PushFront(&memoEntry{key: k, entry: e})
	for c.lru.Len() > c.max {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.entries, last.Value.(*memoEntry).key)
	}
}

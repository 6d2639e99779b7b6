package storage

import (
	"sync"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// Object is one stored version of an API object. It is shared between the cache,
// lists and watchers, so Obj must never be modified: DeepCopy it first.
type Object struct {
	Key       string
	Namespace string
	Name      string
	Obj       runtime.Object
	RV        int64
	Labels    labels.Set
	Fields    fields.Set

	raw []byte // the stored encoding, to recognise no-op updates

	encMu  sync.Mutex
	enc    map[string][]byte
	shared map[string]runtime.Object
}

// Encoded returns the encoding of this version named id, computing it once with fn.
// Lists and watch fan-out use it so that each version is serialized once per format.
func (o *Object) Encoded(id string, fn func(runtime.Object) ([]byte, error)) ([]byte, error) {
	return remember(o, &o.enc, id, fn)
}

// Shared returns a value derived from this version named id, computed once with fn
// and then given to every caller: the in-process watchers (scheduler, controllers)
// share one copy of each version, as the handlers of one informer do, instead of
// a copy each. Callers must treat it as read-only, like the informers' objects.
func (o *Object) Shared(id string, fn func(runtime.Object) (runtime.Object, error)) (runtime.Object, error) {
	return remember(o, &o.shared, id, fn)
}

// remember returns (*m)[id], computing it once from o's object with fn.
func remember[T any](o *Object, m *map[string]T, id string, fn func(runtime.Object) (T, error)) (T, error) {
	o.encMu.Lock()
	defer o.encMu.Unlock()
	if v, ok := (*m)[id]; ok {
		return v, nil
	}
	v, err := fn(o.Obj)
	if err != nil {
		var zero T
		return zero, err
	}
	if *m == nil {
		*m = make(map[string]T, 2)
	}
	(*m)[id] = v
	return v, nil
}

// Matches reports whether the object satisfies both selectors.
func (o *Object) Matches(ls labels.Selector, fs fields.Selector) bool {
	if ls != nil && !ls.Empty() && !ls.Matches(o.Labels) {
		return false
	}
	if fs != nil && !fs.Empty() && !fs.Matches(o.Fields) {
		return false
	}
	return true
}

// dropEncodings forgets the cached encodings of a version that has been replaced:
// it is kept only for watches that resume from an older revision, which are rare
// and can encode it again.
func (o *Object) dropEncodings() {
	o.encMu.Lock()
	o.enc = nil
	o.shared = nil
	o.encMu.Unlock()
}

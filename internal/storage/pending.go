package storage

import (
	"bytes"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
)

// pendingWrites hands the object of a write in flight to the cache, so that the
// cache need not decode the bytes etcd's watch sends back for it: each write
// through this server was decoded once more by the cache before (a few percent of
// the server's CPU and a second copy of every object in memory). The writer
// registers the bytes it is about to write with its object; when the watch brings
// exactly those bytes for that key, the cache and the writer share one *Object.
// From then on the object is the cache's: the writer must not change it, as with
// any object the store returns.
type pendingWrites struct {
	mu sync.Mutex
	m  map[string]*pendingWrite
}

type pendingWrite struct {
	data []byte
	obj  runtime.Object

	once sync.Once
	o    *Object
	err  error
}

// add registers a write of data (the encoding of obj) to key.
func (p *pendingWrites) add(key string, data []byte, obj runtime.Object) *pendingWrite {
	w := &pendingWrite{data: data, obj: obj}
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string]*pendingWrite{}
	}
	p.m[key] = w
	p.mu.Unlock()
	return w
}

// drop forgets w (a write that failed) unless another write has replaced it.
func (p *pendingWrites) drop(key string, w *pendingWrite) {
	p.mu.Lock()
	if p.m[key] == w {
		delete(p.m, key)
	}
	p.mu.Unlock()
}

// take returns the object of the pending write of exactly data to key at rev, and
// forgets it; nil if there is none (the write came from elsewhere, or its object
// went to another revision).
func (p *pendingWrites) take(r *Resource, key string, data []byte, rev int64) *Object {
	p.mu.Lock()
	w := p.m[key]
	if w == nil || !bytes.Equal(w.data, data) {
		p.mu.Unlock()
		return nil
	}
	delete(p.m, key)
	p.mu.Unlock()
	o, err := w.object(r, key, rev)
	if err != nil || o.RV != rev {
		return nil
	}
	return o
}

// object makes the one *Object of this write, stamped with rev: the first of the
// writer and the cache to ask decides the revision.
func (w *pendingWrite) object(r *Resource, key string, rev int64) (*Object, error) {
	w.once.Do(func() { w.o, w.err = r.newObject(key, w.obj, rev, w.data) })
	return w.o, w.err
}

// written is what the writer of w uses once its write has succeeded at rev: the
// object it shares with the cache, or, if the object went to another revision (the
// same bytes written by someone else at the same time), a decoded one of its own.
func (w *pendingWrite) written(r *Resource, key string, rev int64) (*Object, error) {
	o, err := w.object(r, key, rev)
	if err != nil {
		return nil, err
	}
	if o.RV != rev {
		return r.decode(key, w.data, rev)
	}
	return o, nil
}

package storage

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Prefix is the root of every key tug writes to etcd.
const Prefix = "/registry/"

// ResourceConfig describes one stored resource.
type ResourceConfig struct {
	// GroupResource names the resource in errors ("pods", "deployments.apps").
	GroupResource schema.GroupResource
	// Kind is the version and kind objects are stored as.
	Kind       schema.GroupVersionKind
	Namespaced bool
	New        func() runtime.Object
	// Fields returns the fields a field selector may use, besides metadata.name and
	// metadata.namespace which are always present.
	Fields func(obj runtime.Object) fields.Set
	// TTL, when set, gives objects a lifetime in seconds (events expire after an hour).
	TTL func(obj runtime.Object) int64
}

// Storage is the connection from the API server to etcd, shared by all resources.
type Storage struct {
	client *clientv3.Client
	codec  *codec
	cache  *cache
	leases *leaseManager
	// pending hands the objects of writes in flight to the cache.
	pending pendingWrites

	mu        sync.RWMutex
	resources map[string]*Resource // by key prefix
	started   bool
}

// Options tunes the store. Zero values pick the defaults.
type Options struct {
	// BookmarkInterval is how often a quiet watch that asked for bookmarks gets one.
	BookmarkInterval time.Duration
	// EventWindow is how many recent changes the cache keeps for watch resumption.
	EventWindow int
}

// New returns a store over an etcd client. Register resources, then Start.
func New(client *clientv3.Client, scheme *runtime.Scheme, opts Options) *Storage {
	if opts.BookmarkInterval <= 0 {
		opts.BookmarkInterval = time.Minute
	}
	if opts.EventWindow <= 0 {
		// Older revisions are still served, by etcd itself (until compaction).
		opts.EventWindow = 5000
	}
	s := &Storage{
		client:    client,
		codec:     newCodec(scheme),
		resources: map[string]*Resource{},
		leases:    &leaseManager{client: client},
	}
	s.cache = newCache(s, opts)
	return s
}

// Client is the underlying etcd client (for health checks and compaction).
func (s *Storage) Client() *clientv3.Client { return s.client }

// Register adds a resource. It must be called before Start.
func (s *Storage) Register(cfg ResourceConfig) *Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic("storage: Register after Start")
	}
	group := cfg.GroupResource.Group
	if group == "" {
		group = "core"
	}
	r := &Resource{
		s:      s,
		cfg:    cfg,
		prefix: Prefix + group + "/" + cfg.GroupResource.Resource + "/",
	}
	if old, ok := s.resources[r.prefix]; ok {
		return old
	}
	s.resources[r.prefix] = r
	s.cache.addResource(r)
	return r
}

// Start loads every registered resource into the cache and follows etcd from there.
func (s *Storage) Start(ctx context.Context) error {
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	return s.cache.start(ctx)
}

// Ready reports whether the cache is following etcd.
func (s *Storage) Ready() bool { return s.cache.ready() }

// CurrentRevision asks etcd for its latest revision.
func (s *Storage) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, Prefix+"\x00revision", clientv3.WithCountOnly())
	if err != nil {
		return 0, storageUnavailable(err)
	}
	return resp.Header.Revision, nil
}

// resourceFor finds the resource a key belongs to.
func (s *Storage) resourceFor(key string) *Resource {
	rest, ok := strings.CutPrefix(key, Prefix)
	if !ok {
		return nil
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return nil
	}
	j := strings.IndexByte(rest[i+1:], '/')
	if j < 0 {
		return nil
	}
	p := Prefix + rest[:i+1+j+1]
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.resources[p]
}

// Resource is the storage of one kind of object.
type Resource struct {
	s      *Storage
	cfg    ResourceConfig
	prefix string
}

// Config returns the resource's configuration.
func (r *Resource) Config() ResourceConfig { return r.cfg }

// Key is the etcd key of an object.
func (r *Resource) Key(namespace, name string) string {
	if r.cfg.Namespaced {
		return r.prefix + namespace + "/" + name
	}
	return r.prefix + name
}

// nsPrefix is the key prefix of all objects in a namespace ("" = all).
func (r *Resource) nsPrefix(namespace string) string {
	if r.cfg.Namespaced && namespace != "" {
		return r.prefix + namespace + "/"
	}
	return r.prefix
}

func (r *Resource) notFound(name string) error {
	return apierrors.NewNotFound(r.cfg.GroupResource, name)
}

// newObject wraps a decoded object with its derived attributes.
func (r *Resource) newObject(key string, obj runtime.Object, rv int64, raw []byte) (*Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	m.SetResourceVersion(fmt.Sprint(rv))
	o := &Object{raw: raw, Key: key, Namespace: m.GetNamespace(), Name: m.GetName(), Obj: obj, RV: rv, Labels: labels.Set(m.GetLabels())}
	fs := fields.Set{"metadata.name": o.Name}
	if r.cfg.Namespaced {
		fs["metadata.namespace"] = o.Namespace
	}
	if r.cfg.Fields != nil {
		for k, v := range r.cfg.Fields(obj) {
			fs[k] = v
		}
	}
	o.Fields = fs
	return o, nil
}

func (r *Resource) decode(key string, data []byte, rv int64) (*Object, error) {
	obj, err := r.s.codec.decode(data, r.cfg.New(), r.cfg.Kind)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return r.newObject(key, obj, rv, data)
}

// Get reads an object. With an empty resourceVersion the read is consistent (it sees
// every write that completed before it); "0" accepts whatever the cache holds.
func (r *Resource) Get(ctx context.Context, namespace, name, resourceVersion string) (*Object, error) {
	key := r.Key(namespace, name)
	if err := r.s.cache.waitFresh(ctx, resourceVersion); err != nil {
		// The cache is behind (or broken); etcd itself answers.
		return r.getFromEtcd(ctx, key, name)
	}
	if o := r.s.cache.get(r, key); o != nil {
		return o, nil
	}
	return nil, r.notFound(name)
}

func (r *Resource) getFromEtcd(ctx context.Context, key, name string) (*Object, error) {
	resp, err := r.s.client.Get(ctx, key)
	if err != nil {
		return nil, storageUnavailable(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, r.notFound(name)
	}
	return r.decode(key, resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
}

// Create writes a new object; AlreadyExists if the name is taken. obj must have its
// name (and namespace) set. The returned object carries its resourceVersion.
func (r *Resource) Create(ctx context.Context, obj runtime.Object) (*Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	name := m.GetName()
	key := r.Key(m.GetNamespace(), name)
	m.SetResourceVersion("")
	data, err := r.s.codec.encode(obj, r.cfg.Kind)
	if err != nil {
		return nil, err
	}
	put, err := r.putOp(ctx, key, data, obj)
	if err != nil {
		return nil, err
	}
	pw := r.s.pending.add(key, data, obj)
	resp, err := r.s.client.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(put).Commit()
	if err != nil {
		r.s.pending.drop(key, pw)
		return nil, storageUnavailable(err)
	}
	if !resp.Succeeded {
		r.s.pending.drop(key, pw)
		return nil, apierrors.NewAlreadyExists(r.cfg.GroupResource, name)
	}
	return pw.written(r, key, resp.Header.Revision)
}

func (r *Resource) putOp(ctx context.Context, key string, data []byte, obj runtime.Object) (clientv3.Op, error) {
	if r.cfg.TTL != nil {
		if ttl := r.cfg.TTL(obj); ttl > 0 {
			id, err := r.s.leases.get(ctx, ttl)
			if err != nil {
				return clientv3.Op{}, storageUnavailable(err)
			}
			return clientv3.OpPut(key, string(data), clientv3.WithLease(id)), nil
		}
	}
	return clientv3.OpPut(key, string(data)), nil
}

// UpdateFunc computes the new state of an object from its current state. cur is a
// private copy that the function may change and return. Returning an error aborts
// the update with that error.
type UpdateFunc func(cur runtime.Object) (runtime.Object, error)

// Update applies fn to the current object and writes the result with compare-and-swap
// on its revision, retrying fn on a concurrent change. If fn returns an object that
// encodes exactly like the current one, nothing is written. ignoreNotFound lets fn see
// a nil cur (for create-on-update).
func (r *Resource) Update(ctx context.Context, namespace, name string, allowCreate bool, fn UpdateFunc) (*Object, bool, error) {
	key := r.Key(namespace, name)
	var cur *Object
	// The cache gives a cheap first guess; the compare-and-swap catches staleness.
	if c := r.s.cache.get(r, key); c != nil {
		cur = c
	} else {
		var err error
		cur, err = r.getFromEtcd(ctx, key, name)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, false, err
		}
	}
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		var curObj runtime.Object
		var curRV int64
		if cur != nil {
			curObj = cur.Obj.DeepCopyObject()
			curRV = cur.RV
		} else if !allowCreate {
			return nil, false, r.notFound(name)
		}
		newObj, err := fn(curObj)
		if err != nil {
			return nil, false, err
		}
		m, err := meta.Accessor(newObj)
		if err != nil {
			return nil, false, err
		}
		m.SetResourceVersion("")
		data, err := r.s.codec.encode(newObj, r.cfg.Kind)
		if err != nil {
			return nil, false, err
		}
		if cur != nil && cur.raw != nil && bytes.Equal(cur.raw, data) {
			{
				// A no-op update writes nothing and keeps the resourceVersion.
				fresh, err := r.confirmCurrent(ctx, key, cur)
				if err != nil {
					return nil, false, err
				}
				if fresh == cur {
					return cur, false, nil
				}
				cur = fresh
				continue
			}
		}
		put, err := r.putOp(ctx, key, data, newObj)
		if err != nil {
			return nil, false, err
		}
		var cmp clientv3.Cmp
		if cur == nil {
			cmp = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		} else {
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", curRV)
		}
		pw := r.s.pending.add(key, data, newObj)
		resp, err := r.s.client.Txn(ctx).If(cmp).Then(put).Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			r.s.pending.drop(key, pw)
			return nil, false, storageUnavailable(err)
		}
		if resp.Succeeded {
			o, err := pw.written(r, key, resp.Header.Revision)
			return o, cur == nil, err
		}
		r.s.pending.drop(key, pw)
		// Someone else wrote first: retry on what is there now.
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			cur = nil
			continue
		}
		cur, err = r.decode(key, kvs[0].Value, kvs[0].ModRevision)
		if err != nil {
			return nil, false, err
		}
		if attempt > 1000 {
			return nil, false, apierrors.NewConflict(r.cfg.GroupResource, name, fmt.Errorf("too many concurrent updates"))
		}
	}
}

// confirmCurrent checks that a cached object is still the latest version in etcd.
func (r *Resource) confirmCurrent(ctx context.Context, key string, cur *Object) (*Object, error) {
	resp, err := r.s.client.Get(ctx, key)
	if err != nil {
		return nil, storageUnavailable(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, r.notFound(cur.Name)
	}
	if resp.Kvs[0].ModRevision == cur.RV {
		return cur, nil
	}
	return r.decode(key, resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
}

// DeleteFunc decides, given the current object, whether the delete may go ahead.
type DeleteFunc func(cur runtime.Object) error

// Delete removes an object if check allows it, retrying check on concurrent changes.
// It returns the object as it was when deleted.
func (r *Resource) Delete(ctx context.Context, namespace, name string, check DeleteFunc) (*Object, error) {
	key := r.Key(namespace, name)
	cur, err := r.getFromEtcd(ctx, key, name)
	if err != nil {
		return nil, err
	}
	for {
		if check != nil {
			if err := check(cur.Obj); err != nil {
				return nil, err
			}
		}
		resp, err := r.s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", cur.RV)).
			Then(clientv3.OpDelete(key)).
			Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return nil, storageUnavailable(err)
		}
		if resp.Succeeded {
			return cur, nil
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return nil, r.notFound(name)
		}
		cur, err = r.decode(key, kvs[0].Value, kvs[0].ModRevision)
		if err != nil {
			return nil, err
		}
	}
}

// Count returns how many objects the cache holds for this resource.
func (r *Resource) Count() int { return r.s.cache.count(r) }

// CachedRevision is the revision up to which the cache has applied every change
// (what a list or watch served from the cache reflects at most).
func (r *Resource) CachedRevision() int64 {
	c := r.s.cache
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rv
}

func storageUnavailable(err error) error {
	if err == context.Canceled || err == context.DeadlineExceeded {
		return apierrors.NewTimeoutError("the request was cancelled or timed out while talking to storage", 1)
	}
	slog.Error("etcd request failed", "err", err)
	return apierrors.NewServiceUnavailable(fmt.Sprintf("storage is unavailable: %v", err))
}

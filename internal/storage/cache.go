package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/btree"
	"go.etcd.io/etcd/api/v3/mvccpb"
	rpctypes "go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/watch"
)

// cache mirrors everything under Prefix in memory, fed by one etcd watch.
type cache struct {
	s    *Storage
	opts Options

	mu      sync.RWMutex
	rv      int64         // every change up to rv has been applied
	changed chan struct{} // closed and replaced whenever rv advances
	live    bool
	res     map[*Resource]*resCache
	// window holds the most recent changes, oldest first, for watches that resume
	// from a resourceVersion. Every change after windowStart is in it.
	window      []change
	windowStart int64
}

type resCache struct {
	items    *btree.BTreeG[*Object]
	watchers map[*Watcher]struct{}
}

// change is one applied etcd event.
type change struct {
	r    *Resource
	typ  watch.EventType // Added, Modified or Deleted
	obj  *Object         // the new state; for Deleted the last state at the delete revision
	prev *Object         // the state before (nil for Added)
}

func byKey(a, b *Object) bool { return a.Key < b.Key }

func newCache(s *Storage, opts Options) *cache {
	return &cache{s: s, opts: opts, res: map[*Resource]*resCache{}, changed: make(chan struct{})}
}

func (c *cache) addResource(r *Resource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res[r] = &resCache{items: btree.NewG(32, byKey), watchers: map[*Watcher]struct{}{}}
}

func (c *cache) ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.live
}

// start loads the current state and follows etcd until ctx ends.
func (c *cache) start(ctx context.Context) error {
	rev, err := c.load(ctx)
	if err != nil {
		return err
	}
	go c.follow(ctx, rev)
	return nil
}

// load reads every key under Prefix at one revision and replaces the cache content.
func (c *cache) load(ctx context.Context) (int64, error) {
	fresh := map[*Resource]*btree.BTreeG[*Object]{}
	c.mu.RLock()
	for r := range c.res {
		fresh[r] = btree.NewG(32, byKey)
	}
	c.mu.RUnlock()
	var rev int64
	key := Prefix
	end := clientv3.GetPrefixRangeEnd(Prefix)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(2000)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := c.s.client.Get(ctx, key, opts...)
		if err != nil {
			return 0, fmt.Errorf("load state from etcd: %w", err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			r := c.s.resourceFor(string(kv.Key))
			if r == nil {
				continue
			}
			o, err := r.decode(string(kv.Key), kv.Value, kv.ModRevision)
			if err != nil {
				slog.Error("skipping undecodable object in etcd", "key", string(kv.Key), "err", err)
				continue
			}
			fresh[r].ReplaceOrInsert(o)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	c.mu.Lock()
	for r, t := range fresh {
		rc := c.res[r]
		rc.items = t
		// Watchers cannot be told what changed while we were not following: end them
		// so that their clients resume (or relist) against the new state.
		for w := range rc.watchers {
			w.terminate(nil)
			delete(rc.watchers, w)
		}
	}
	c.window = nil
	c.windowStart = rev
	c.setRV(rev)
	c.live = true
	c.mu.Unlock()
	return rev, nil
}

// setRV advances rv and wakes waiters. Callers hold c.mu.
func (c *cache) setRV(rv int64) {
	if rv <= c.rv {
		return
	}
	c.rv = rv
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *cache) follow(ctx context.Context, rev int64) {
	for ctx.Err() == nil {
		err := c.watchFrom(ctx, rev)
		if ctx.Err() != nil {
			return
		}
		slog.Warn("storage watch ended; reloading state from etcd", "err", err)
		c.mu.Lock()
		c.live = false
		c.mu.Unlock()
		for ctx.Err() == nil {
			rev, err = c.load(ctx)
			if err == nil {
				break
			}
			slog.Error("reload from etcd failed", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (c *cache) watchFrom(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := c.s.client.Watch(wctx, Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithProgressNotify())
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return err
		}
		if resp.IsProgressNotify() {
			c.mu.Lock()
			c.setRV(resp.Header.Revision)
			c.mu.Unlock()
			continue
		}
		c.apply(resp.Events)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.New("etcd watch channel closed")
}

// apply decodes a batch of etcd events (outside the lock) and applies them in order.
func (c *cache) apply(events []*clientv3.Event) {
	type decoded struct {
		r   *Resource
		key string
		o   *Object
		del bool
		rev int64
	}
	batch := make([]decoded, 0, len(events))
	for _, ev := range events {
		key := string(ev.Kv.Key)
		r := c.s.resourceFor(key)
		d := decoded{r: r, key: key, rev: ev.Kv.ModRevision, del: ev.Type == mvccpb.DELETE}
		if r != nil && !d.del {
			if o := c.s.pending.take(r, key, ev.Kv.Value, ev.Kv.ModRevision); o != nil {
				d.o = o
				batch = append(batch, d)
				continue
			}
			o, err := r.decode(key, ev.Kv.Value, ev.Kv.ModRevision)
			if err != nil {
				slog.Error("skipping undecodable object from etcd watch", "key", key, "err", err)
				d.r = nil
			}
			d.o = o
		}
		batch = append(batch, d)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range batch {
		if d.r != nil {
			rc := c.res[d.r]
			var ch change
			ch.r = d.r
			if d.del {
				prev, ok := rc.items.Delete(&Object{Key: d.key})
				if !ok {
					c.setRV(d.rev)
					continue
				}
				ch.typ, ch.prev, ch.obj = watch.Deleted, prev, deletedVersion(d.r, prev, d.rev)
				prev.dropEncodings()
			} else {
				prev, had := rc.items.ReplaceOrInsert(d.o)
				ch.obj = d.o
				if had {
					ch.typ, ch.prev = watch.Modified, prev
					prev.dropEncodings()
				} else {
					ch.typ = watch.Added
				}
			}
			c.window = append(c.window, ch)
			// Trim in batches (the window may exceed its size by a quarter), so
			// that the copy below happens once per EventWindow/4 changes rather
			// than on every change.
			if len(c.window) > c.opts.EventWindow+c.opts.EventWindow/4 {
				drop := len(c.window) - c.opts.EventWindow
				c.windowStart = c.window[drop-1].obj.RV
				// Copy so the dropped changes can be collected.
				c.window = append([]change(nil), c.window[drop:]...)
			}
			for w := range rc.watchers {
				w.offer(ch)
			}
		}
		c.setRV(d.rev)
	}
}

// deletedVersion is the last state of a deleted object, stamped with the delete revision.
func deletedVersion(r *Resource, prev *Object, rev int64) *Object {
	obj := prev.Obj.DeepCopyObject()
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatInt(rev, 10))
	}
	return &Object{Key: prev.Key, Namespace: prev.Namespace, Name: prev.Name, Obj: obj, RV: rev, Labels: prev.Labels, Fields: prev.Fields}
}

func (c *cache) get(r *Resource, key string) *Object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.live {
		return nil
	}
	o, _ := c.res[r].items.Get(&Object{Key: key})
	return o
}

func (c *cache) count(r *Resource) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.res[r].items.Len()
}

// errNotFresh means the cache could not catch up in time; read etcd instead.
var errNotFresh = errors.New("cache is behind etcd")

// tooLargeRV is returned when a client asks for a resourceVersion the store has not reached.
type tooLargeRV struct{ want, have int64 }

func (e tooLargeRV) Error() string {
	return fmt.Sprintf("Too large resource version: %d, current: %d", e.want, e.have)
}

// waitFresh waits until the cache holds the state the resourceVersion asks for:
// "" = everything written so far, "0" = anything, "N" = at least revision N.
func (c *cache) waitFresh(ctx context.Context, resourceVersion string) error {
	if resourceVersion == "0" {
		if c.ready() {
			return nil
		}
		return errNotFresh
	}
	var want int64
	if resourceVersion == "" {
		cur, err := c.s.CurrentRevision(ctx)
		if err != nil {
			return err
		}
		want = cur
	} else {
		v, err := strconv.ParseInt(resourceVersion, 10, 64)
		if err != nil || v < 0 {
			return errNotFresh
		}
		want = v
	}
	return c.waitFor(ctx, want, 3*time.Second)
}

func (c *cache) waitFor(ctx context.Context, want int64, limit time.Duration) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	asked := false
	nudge := time.NewTimer(50 * time.Millisecond)
	defer nudge.Stop()
	for {
		c.mu.RLock()
		rv, live, ch := c.rv, c.live, c.changed
		c.mu.RUnlock()
		if live && rv >= want {
			return nil
		}
		select {
		case <-ch:
		case <-nudge.C:
			// The latest revision may not be under our prefix (a shared etcd):
			// ask etcd to tell the watch how far it is.
			if !asked {
				asked = true
				_ = c.s.client.RequestProgress(context.Background())
			}
		case <-deadline.C:
			if !live {
				return errNotFresh
			}
			return tooLargeRV{want: want, have: rv}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// isCompacted reports an etcd "required revision has been compacted" error.
func isCompacted(err error) bool {
	return errors.Is(err, rpctypes.ErrCompacted) || (err != nil && err.Error() == rpctypes.ErrCompacted.Error())
}

package storage

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
)

// WatchOptions selects what a watch sees.
type WatchOptions struct {
	Namespace string
	Label     labels.Selector
	Field     fields.Selector
	// ResourceVersion "" or "0" starts with the current state as ADDED events;
	// "N" sends every change after revision N.
	ResourceVersion string
	// Bookmarks asks for BOOKMARK events that tell how far the watch has seen.
	Bookmarks bool
}

// Event is one watch event. Object is nil for BOOKMARK and ERROR events.
type Event struct {
	Type   watch.EventType
	Object *Object
	// RV is the revision a BOOKMARK reports.
	RV int64
	// Err is the Status an ERROR event carries.
	Err error
}

// maxQueued bounds how far a slow watcher may fall behind before it is ended (its
// client then resumes from the last resourceVersion it saw).
const maxQueued = 200000

// Watcher receives the changes of one resource that match its options.
type Watcher struct {
	c    *cache
	r    *Resource
	opts WatchOptions

	mu      sync.Mutex
	queue   []Event
	signal  chan struct{}
	ended   bool
	endErr  error
	lastRV  int64
	cancel  context.CancelFunc
	cached  bool // registered with the cache (else fed by its own etcd watch)
	stopped bool
}

func newWatcher(c *cache, r *Resource, opts WatchOptions) *Watcher {
	return &Watcher{c: c, r: r, opts: opts, signal: make(chan struct{}, 1)}
}

// Watch starts a watch. The caller must Stop it.
func (r *Resource) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	c := r.s.cache
	var from int64
	initial := opts.ResourceVersion == "" || opts.ResourceVersion == "0"
	if !initial {
		v, err := strconv.ParseInt(opts.ResourceVersion, 10, 64)
		if err != nil || v < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q: must be a non-negative integer", opts.ResourceVersion))
		}
		from = v
		if err := c.waitFor(ctx, from, 3*time.Second); err != nil {
			return nil, watchWaitError(err)
		}
	} else if opts.ResourceVersion == "" {
		if err := c.waitFresh(ctx, ""); err != nil {
			if _, ok := err.(tooLargeRV); !ok && err != errNotFresh {
				return nil, watchWaitError(err)
			}
		}
	}
	w := newWatcher(c, r, opts)
	c.mu.Lock()
	if !c.live {
		c.mu.Unlock()
		return nil, apierrors.NewServiceUnavailable("storage is reloading; retry")
	}
	rc := c.res[r]
	if initial {
		start := r.nsPrefix(opts.Namespace)
		rc.items.AscendGreaterOrEqual(&Object{Key: start}, func(o *Object) bool {
			if len(o.Key) < len(start) || o.Key[:len(start)] != start {
				return false
			}
			if o.Matches(opts.Label, opts.Field) {
				w.queue = append(w.queue, Event{Type: watch.Added, Object: o})
			}
			return true
		})
		w.lastRV = c.rv
	} else {
		if from < c.windowStart {
			c.mu.Unlock()
			return r.watchEtcd(ctx, opts, from)
		}
		i := sort.Search(len(c.window), func(i int) bool { return c.window[i].obj.RV > from })
		for _, ch := range c.window[i:] {
			if ch.r == r {
				w.offerLocked(ch)
			}
		}
		w.lastRV = from
	}
	w.cached = true
	rc.watchers[w] = struct{}{}
	c.mu.Unlock()
	return w, nil
}

func watchWaitError(err error) error {
	if e, ok := err.(tooLargeRV); ok {
		se := apierrors.NewTimeoutError(e.Error(), 1)
		se.ErrStatus.Details.Causes = append(se.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version",
		})
		return se
	}
	if err == errNotFresh {
		return apierrors.NewServiceUnavailable("storage is catching up with etcd; retry")
	}
	return err
}

// watchEtcd serves a watch that starts before the cache's window straight from etcd.
func (r *Resource) watchEtcd(ctx context.Context, opts WatchOptions, from int64) (*Watcher, error) {
	w := newWatcher(r.s.cache, r, opts)
	w.lastRV = from
	wctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	wch := r.s.client.Watch(wctx, r.nsPrefix(opts.Namespace), clientv3.WithPrefix(), clientv3.WithRev(from+1), clientv3.WithPrevKV())
	go func() {
		defer cancel()
		for resp := range wch {
			if resp.CompactRevision != 0 || isCompacted(resp.Err()) {
				w.terminate(apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", from, resp.CompactRevision)))
				return
			}
			if err := resp.Err(); err != nil {
				slog.Warn("etcd watch failed", "resource", r.cfg.GroupResource.String(), "err", err)
				w.terminate(nil)
				return
			}
			for _, ev := range resp.Events {
				key := string(ev.Kv.Key)
				var ch change
				ch.r = r
				var prev *Object
				if ev.PrevKv != nil {
					p, err := r.decode(key, ev.PrevKv.Value, ev.PrevKv.ModRevision)
					if err == nil {
						prev = p
					}
				}
				if ev.Type == mvccpb.DELETE {
					if prev == nil {
						continue
					}
					ch.typ, ch.prev, ch.obj = watch.Deleted, prev, deletedVersion(r, prev, ev.Kv.ModRevision)
				} else {
					o, err := r.decode(key, ev.Kv.Value, ev.Kv.ModRevision)
					if err != nil {
						continue
					}
					ch.obj, ch.prev = o, prev
					if ev.IsCreate() || prev == nil {
						ch.typ = watch.Added
					} else {
						ch.typ = watch.Modified
					}
				}
				w.mu.Lock()
				w.offerLocked(ch)
				w.mu.Unlock()
			}
		}
		w.terminate(nil)
	}()
	return w, nil
}

// offer is called by the cache (holding c.mu) for every change of the resource.
func (w *Watcher) offer(ch change) {
	w.mu.Lock()
	w.offerLocked(ch)
	w.mu.Unlock()
}

func (w *Watcher) offerLocked(ch change) {
	if w.ended {
		return
	}
	ev, ok := w.filter(ch)
	if !ok {
		return
	}
	if len(w.queue) >= maxQueued {
		w.ended = true
		slog.Warn("ending a watch that fell too far behind", "resource", w.r.cfg.GroupResource.String())
	} else {
		w.queue = append(w.queue, ev)
	}
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *Watcher) filter(ch change) (Event, bool) {
	if w.opts.Namespace != "" && ch.obj.Namespace != w.opts.Namespace {
		return Event{}, false
	}
	oldMatch := ch.prev != nil && ch.prev.Matches(w.opts.Label, w.opts.Field)
	switch ch.typ {
	case watch.Added:
		if ch.obj.Matches(w.opts.Label, w.opts.Field) {
			return Event{Type: watch.Added, Object: ch.obj}, true
		}
	case watch.Modified:
		newMatch := ch.obj.Matches(w.opts.Label, w.opts.Field)
		switch {
		case newMatch && oldMatch:
			return Event{Type: watch.Modified, Object: ch.obj}, true
		case newMatch:
			return Event{Type: watch.Added, Object: ch.obj}, true
		case oldMatch:
			return Event{Type: watch.Deleted, Object: ch.obj}, true
		}
	case watch.Deleted:
		if oldMatch {
			return Event{Type: watch.Deleted, Object: ch.obj}, true
		}
	}
	return Event{}, false
}

// terminate ends the watch after the queued events; err, if set, is sent last as an
// ERROR event.
func (w *Watcher) terminate(err error) {
	w.mu.Lock()
	if !w.ended {
		w.ended = true
		w.endErr = err
	}
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// Next returns the next event, waiting for one. It returns false when the watch has
// ended or ctx is done. When bookmark fires and the watch asked for bookmarks, a
// BOOKMARK event reports the revision everything so far has been sent up to.
func (w *Watcher) Next(ctx context.Context, bookmark <-chan time.Time) (Event, bool) {
	for {
		w.mu.Lock()
		if len(w.queue) > 0 {
			ev := w.queue[0]
			w.queue[0] = Event{}
			w.queue = w.queue[1:]
			if len(w.queue) == 0 {
				w.queue = nil
			}
			if ev.Object != nil && ev.Object.RV > w.lastRV {
				w.lastRV = ev.Object.RV
			}
			w.mu.Unlock()
			return ev, true
		}
		if w.ended {
			err := w.endErr
			w.endErr = nil
			w.mu.Unlock()
			if err != nil {
				return Event{Type: watch.Error, Err: err}, true
			}
			return Event{}, false
		}
		w.mu.Unlock()
		select {
		case <-w.signal:
		case <-ctx.Done():
			return Event{}, false
		case <-bookmark:
			if ev, ok := w.bookmark(); ok {
				return ev, true
			}
		}
	}
}

func (w *Watcher) bookmark() (Event, bool) {
	if !w.opts.Bookmarks || !w.cached {
		return Event{}, false
	}
	w.c.mu.RLock()
	defer w.c.mu.RUnlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) > 0 || w.ended || w.c.rv <= w.lastRV {
		return Event{}, false
	}
	w.lastRV = w.c.rv
	return Event{Type: watch.Bookmark, RV: w.lastRV}, true
}

// Stop ends the watch and releases it.
func (w *Watcher) Stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.ended = true
	w.queue = nil
	cached := w.cached
	w.mu.Unlock()
	if w.cancel != nil {
		w.cancel()
	}
	if cached {
		w.c.mu.Lock()
		delete(w.c.res[w.r].watchers, w)
		w.c.mu.Unlock()
	}
}

// Pending is how many events are queued for the client.
func (w *Watcher) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// LastRV is the revision the client has been sent everything up to.
func (w *Watcher) LastRV() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastRV
}

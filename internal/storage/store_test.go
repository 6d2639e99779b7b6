package storage

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
)

// newTestStore starts an embedded etcd in a temp dir with a configmaps resource.
func newTestStore(t *testing.T, opts Options) (*Storage, *Resource) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e, err := StartEmbedded(ctx, EmbeddedConfig{DataDir: t.TempDir(), ProgressNotifyInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); e.Close() })
	s := New(e.Client, scheme.Scheme, opts)
	r := s.Register(ResourceConfig{
		GroupResource: schema.GroupResource{Resource: "configmaps"},
		Kind:          corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		Namespaced:    true,
		New:           func() runtime.Object { return &corev1.ConfigMap{} },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"data.k": obj.(*corev1.ConfigMap).Data["k"]}
		},
	})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s, r
}

func cm(ns, name, v string, lbl map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbl}, Data: map[string]string{"k": v}}
}

func TestCreateGetConflict(t *testing.T) {
	_, r := newTestStore(t, Options{})
	ctx := context.Background()
	o, err := r.Create(ctx, cm("ns", "a", "1", nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.RV == 0 || o.Obj.(*corev1.ConfigMap).ResourceVersion != strconv.FormatInt(o.RV, 10) {
		t.Fatalf("created object has no resourceVersion: %+v", o.Obj)
	}
	if _, err := r.Create(ctx, cm("ns", "a", "2", nil)); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: want AlreadyExists, got %v", err)
	}
	got, err := r.Get(ctx, "ns", "a", "")
	if err != nil || got.Obj.(*corev1.ConfigMap).Data["k"] != "1" {
		t.Fatalf("get: %v %+v", err, got)
	}
	if _, err := r.Get(ctx, "ns", "nope", ""); !apierrors.IsNotFound(err) {
		t.Fatalf("get missing: want NotFound, got %v", err)
	}
}

// TestUpdateCompareAndSwap checks that an update computed from an old version is
// retried on the current one, and that a caller-side precondition sees the change.
func TestUpdateCompareAndSwap(t *testing.T) {
	_, r := newTestStore(t, Options{})
	ctx := context.Background()
	first, err := r.Create(ctx, cm("ns", "a", "1", nil))
	if err != nil {
		t.Fatal(err)
	}
	staleRV := first.Obj.(*corev1.ConfigMap).ResourceVersion
	if _, _, err := r.Update(ctx, "ns", "a", false, func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.ConfigMap).Data["k"] = "2"
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	// A writer holding the stale version must get a Conflict (the API server's
	// precondition on metadata.resourceVersion).
	_, _, err = r.Update(ctx, "ns", "a", false, func(cur runtime.Object) (runtime.Object, error) {
		if cur.(*corev1.ConfigMap).ResourceVersion != staleRV {
			return nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "a", fmt.Errorf("stale"))
		}
		return cur, nil
	})
	if !apierrors.IsConflict(err) {
		t.Fatalf("stale update: want Conflict, got %v", err)
	}
	// A no-op update keeps the resourceVersion.
	before, _ := r.Get(ctx, "ns", "a", "")
	after, _, err := r.Update(ctx, "ns", "a", false, func(cur runtime.Object) (runtime.Object, error) { return cur, nil })
	if err != nil || after.RV != before.RV {
		t.Fatalf("no-op update changed resourceVersion %d -> %d (%v)", before.RV, after.RV, err)
	}
	// Concurrent increments all land.
	done := make(chan error, 10)
	for i := 0; i < 10; i++ {
		go func() {
			_, _, err := r.Update(ctx, "ns", "a", false, func(cur runtime.Object) (runtime.Object, error) {
				c := cur.(*corev1.ConfigMap)
				n, _ := strconv.Atoi(c.Data["n"])
				if c.Data == nil {
					c.Data = map[string]string{}
				}
				c.Data["n"] = strconv.Itoa(n + 1)
				return c, nil
			})
			done <- err
		}()
	}
	for i := 0; i < 10; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	got, _ := r.Get(ctx, "ns", "a", "")
	if got.Obj.(*corev1.ConfigMap).Data["n"] != "10" {
		t.Fatalf("lost updates: n=%s", got.Obj.(*corev1.ConfigMap).Data["n"])
	}
}

func TestListPagingAndSelectors(t *testing.T) {
	_, r := newTestStore(t, Options{})
	ctx := context.Background()
	for i := 0; i < 25; i++ {
		lbl := map[string]string{"parity": []string{"even", "odd"}[i%2]}
		if _, err := r.Create(ctx, cm("ns", fmt.Sprintf("c%02d", i), strconv.Itoa(i), lbl)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Create(ctx, cm("other", "x", "0", nil)); err != nil {
		t.Fatal(err)
	}
	var names []string
	opts := ListOptions{Namespace: "ns", Limit: 10}
	pages := 0
	for {
		res, err := r.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range res.Items {
			names = append(names, o.Name)
		}
		// Changes made between pages must not show up: pages are one snapshot.
		if pages == 1 {
			if _, err := r.Create(ctx, cm("ns", "c99", "99", nil)); err != nil {
				t.Fatal(err)
			}
		}
		if res.Continue == "" {
			break
		}
		if pages == 1 && (res.RemainingItemCount == nil || *res.RemainingItemCount != 15) {
			t.Fatalf("remainingItemCount = %v, want 15", res.RemainingItemCount)
		}
		opts.Continue = res.Continue
	}
	if len(names) != 25 || pages != 3 || names[0] != "c00" || names[24] != "c24" {
		t.Fatalf("paged list: %d pages, %v", pages, names)
	}
	sel, _ := labels.Parse("parity=odd")
	res, err := r.List(ctx, ListOptions{Namespace: "ns", Label: sel})
	if err != nil || len(res.Items) != 12 {
		t.Fatalf("label selector: %v, %d items", err, len(res.Items))
	}
	res, err = r.List(ctx, ListOptions{Field: fields.OneTermEqualSelector("data.k", "7")})
	if err != nil || len(res.Items) != 1 || res.Items[0].Name != "c07" {
		t.Fatalf("field selector: %v, %+v", err, res.Items)
	}
	res, err = r.List(ctx, ListOptions{Field: fields.OneTermEqualSelector("metadata.namespace", "other")})
	if err != nil || len(res.Items) != 1 {
		t.Fatalf("namespace field selector: %v, %d items", err, len(res.Items))
	}
	// Paging with a selector, from etcd.
	var odd int
	opts = ListOptions{Namespace: "ns", Label: sel, Limit: 5}
	for {
		res, err := r.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		odd += len(res.Items)
		if res.Continue == "" {
			break
		}
		opts.Continue = res.Continue
	}
	if odd != 12 {
		t.Fatalf("paged selector list found %d, want 12", odd)
	}
	if _, err := r.List(ctx, ListOptions{Continue: "garbage!"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("bad continue token: want BadRequest, got %v", err)
	}
}

func nextEvent(t *testing.T, w *Watcher) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, ok := w.Next(ctx, nil)
	if !ok {
		t.Fatal("watch ended or timed out waiting for an event")
	}
	return ev
}

func TestWatchInitialStateAndResume(t *testing.T) {
	_, r := newTestStore(t, Options{})
	ctx := context.Background()
	a, _ := r.Create(ctx, cm("ns", "a", "1", map[string]string{"app": "x"}))
	w, err := r.Watch(ctx, WatchOptions{Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.Name != "a" {
		t.Fatalf("initial event: %+v", ev)
	}
	b, _ := r.Create(ctx, cm("ns", "b", "1", nil))
	if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.Name != "b" || ev.Object.RV != b.RV {
		t.Fatalf("added event: %+v", ev)
	}
	if _, err := r.Delete(ctx, "ns", "b", nil); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, w)
	if ev.Type != watch.Deleted || ev.Object.Name != "b" || ev.Object.RV <= b.RV {
		t.Fatalf("deleted event: %+v", ev)
	}
	// Resume from a's revision: every later change is replayed, in order.
	w2, err := r.Watch(ctx, WatchOptions{Namespace: "ns", ResourceVersion: strconv.FormatInt(a.RV, 10)})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	if ev := nextEvent(t, w2); ev.Type != watch.Added || ev.Object.Name != "b" {
		t.Fatalf("resumed first event: %+v", ev)
	}
	if ev := nextEvent(t, w2); ev.Type != watch.Deleted {
		t.Fatalf("resumed second event: %+v", ev)
	}
	// A label selector turns an update that leaves the selection into DELETED.
	sel, _ := labels.Parse("app=x")
	w3, err := r.Watch(ctx, WatchOptions{Namespace: "ns", Label: sel, ResourceVersion: strconv.FormatInt(ev.Object.RV, 10)})
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Stop()
	if _, _, err := r.Update(ctx, "ns", "a", false, func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.ConfigMap).Labels = nil
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w3); ev.Type != watch.Deleted || ev.Object.Name != "a" {
		t.Fatalf("selector exit: %+v", ev)
	}
}

// TestWatchOutsideWindowAndCompaction resumes a watch older than the cache window
// (served by etcd itself), then compacts and expects 410 Expired.
func TestWatchOutsideWindowAndCompaction(t *testing.T) {
	s, r := newTestStore(t, Options{EventWindow: 3})
	ctx := context.Background()
	first, _ := r.Create(ctx, cm("ns", "a", "0", nil))
	for i := 1; i <= 10; i++ {
		v := strconv.Itoa(i)
		if _, _, err := r.Update(ctx, "ns", "a", false, func(cur runtime.Object) (runtime.Object, error) {
			cur.(*corev1.ConfigMap).Data["k"] = v
			return cur, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := r.Watch(ctx, WatchOptions{ResourceVersion: strconv.FormatInt(first.RV, 10)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		ev := nextEvent(t, w)
		if ev.Type != watch.Modified || ev.Object.Obj.(*corev1.ConfigMap).Data["k"] != strconv.Itoa(i) {
			t.Fatalf("event %d from etcd: %+v", i, ev)
		}
	}
	w.Stop()
	cur, _ := s.CurrentRevision(ctx)
	if err := s.CompactTo(ctx, cur); err != nil {
		t.Fatal(err)
	}
	w, err = r.Watch(ctx, WatchOptions{ResourceVersion: strconv.FormatInt(first.RV, 10)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := nextEvent(t, w)
	if ev.Type != watch.Error || !apierrors.IsResourceExpired(ev.Err) {
		t.Fatalf("watch from compacted revision: want ERROR 410 Expired, got %+v", ev)
	}
	if st, ok := ev.Err.(apierrors.APIStatus); !ok || st.Status().Code != 410 {
		t.Fatalf("want code 410, got %v", ev.Err)
	}
}

func TestBookmarks(t *testing.T) {
	_, r := newTestStore(t, Options{})
	ctx := context.Background()
	a, _ := r.Create(ctx, cm("ns", "a", "1", nil))
	w, err := r.Watch(ctx, WatchOptions{Namespace: "other", ResourceVersion: strconv.FormatInt(a.RV, 10), Bookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	b, _ := r.Create(ctx, cm("ns", "b", "1", nil)) // not in the watched namespace
	tick := make(chan time.Time, 1)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		tick <- time.Now()
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		ev, ok := w.Next(cctx, tick)
		cancel()
		if ok {
			if ev.Type != watch.Bookmark {
				t.Fatalf("unexpected event %+v", ev)
			}
			if ev.RV >= b.RV {
				return
			}
		}
	}
	t.Fatal("no bookmark reached the latest revision")
}

func TestTooLargeResourceVersion(t *testing.T) {
	_, r := newTestStore(t, Options{})
	_, err := r.List(context.Background(), ListOptions{ResourceVersion: "99999999"})
	if !apierrors.IsTimeout(err) {
		t.Fatalf("want Timeout (too large resource version), got %v", err)
	}
}

// TestWrittenObjectGoesToCache: the cache keeps the object a write through this
// store made (no second decode), stamped with the write's revision; a failed
// write leaves nothing behind, and writes from elsewhere are still decoded.
func TestWrittenObjectGoesToCache(t *testing.T) {
	s, r := newTestStore(t, Options{})
	ctx := context.Background()
	created, err := r.Create(ctx, cm("ns", "a", "1", map[string]string{"app": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(ctx, "ns", "a", strconv.FormatInt(created.RV, 10))
	if err != nil {
		t.Fatal(err)
	}
	if got != created {
		t.Error("the cache decoded the created object again instead of keeping the writer's")
	}
	if got.Obj.(*corev1.ConfigMap).ResourceVersion != strconv.FormatInt(created.RV, 10) || got.Labels["app"] != "x" || got.Fields["data.k"] != "1" {
		t.Fatalf("cached object: %+v", got)
	}

	updated, _, err := r.Update(ctx, "ns", "a", false, func(cur runtime.Object) (runtime.Object, error) {
		c := cur.(*corev1.ConfigMap)
		c.Data["k"] = "2"
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Get(ctx, "ns", "a", strconv.FormatInt(updated.RV, 10)); got != updated || got.Fields["data.k"] != "2" {
		t.Errorf("after update the cache holds %+v, want the updated object", got)
	}

	if _, err := r.Create(ctx, cm("ns", "a", "3", nil)); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v", err)
	}
	s.pending.mu.Lock()
	left := len(s.pending.m)
	s.pending.mu.Unlock()
	if left != 0 {
		t.Errorf("%d pending writes left after the writes ended", left)
	}

	// A write that did not go through this store is decoded from etcd.
	other := cm("ns", "b", "9", nil)
	data, err := s.codec.encode(other, r.cfg.Kind)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.client.Put(ctx, r.Key("ns", "b"), string(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err = r.Get(ctx, "ns", "b", strconv.FormatInt(resp.Header.Revision, 10))
	if err != nil || got.Obj.(*corev1.ConfigMap).Data["k"] != "9" || got.RV != resp.Header.Revision {
		t.Fatalf("object written elsewhere: %v %+v", err, got)
	}
}

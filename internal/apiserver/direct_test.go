package apiserver

import (
	"context"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"tug/internal/auth"
	"tug/internal/registry"
	"tug/internal/storage"
)

// allowUser lets one user do anything and nobody else anything.
type allowUser string

func (a allowUser) Authorize(_ context.Context, at auth.Attributes) (auth.Decision, error) {
	return auth.Decision{Allowed: at.User.Name == string(a)}, nil
}

func newDirectTestServer(t *testing.T) (*Server, *storage.Resource) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e, err := storage.StartEmbedded(ctx, storage.EmbeddedConfig{DataDir: t.TempDir(), ProgressNotifyInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); e.Close() })
	store := storage.New(e.Client, registry.Scheme, storage.Options{BookmarkInterval: 100 * time.Millisecond})
	tokens := &auth.StaticTokens{}
	tokens.Set("component-token", &auth.User{Name: "component"})
	tokens.Set("someone-token", &auth.User{Name: "someone"})
	s, err := New(Config{Registry: registry.All(), Storage: store, Authorizer: allowUser("component"),
		InProcessTokens: tokens, BookmarkInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s, s.stores[s.cfg.Registry.Lookup(podsGVR)]
}

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

func testPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func nextEvent(t *testing.T, w watch.Interface, skipBookmarks bool) watch.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch ended")
			}
			if skipBookmarks && ev.Type == watch.Bookmark {
				continue
			}
			return ev
		case <-timeout:
			t.Fatal("no watch event in 10s")
		}
	}
}

// TestWatchInProcess checks that an in-process watch sees what the HTTP watch would:
// changes after the given resourceVersion, filtered by selectors, as the receiver's
// own copies, with bookmarks, as metadata when asked, and refused to a user RBAC
// refuses; and that Stop ends it.
func TestWatchInProcess(t *testing.T) {
	s, pods := newDirectTestServer(t)
	ctx := context.Background()
	component := "component-token"
	first, err := pods.Create(ctx, testPod("a", ""))
	if err != nil {
		t.Fatal(err)
	}
	rv := strconv.FormatInt(first.RV, 10)

	if _, ok, err := s.WatchInProcess(ctx, "someone-token", podsGVR, "", metav1.ListOptions{}, false); !ok || !apierrors.IsForbidden(err) {
		t.Fatalf("watch by a user without rights: ok=%v err=%v, want Forbidden", ok, err)
	}
	if _, ok, err := s.WatchInProcess(ctx, "no-such-token", podsGVR, "", metav1.ListOptions{}, false); !ok || !apierrors.IsUnauthorized(err) {
		t.Fatalf("watch with an unknown token: ok=%v err=%v, want Unauthorized", ok, err)
	}
	if _, ok, _ := s.WatchInProcess(ctx, component, schema.GroupVersionResource{Group: "x.example", Version: "v1", Resource: "things"}, "", metav1.ListOptions{}, false); ok {
		t.Fatal("an unknown resource should be left to the HTTP API")
	}
	if _, ok, err := s.WatchInProcess(ctx, component, podsGVR, "", metav1.ListOptions{FieldSelector: "spec.nope=x"}, false); !ok || !apierrors.IsBadRequest(err) {
		t.Fatalf("unsupported field selector: ok=%v err=%v, want BadRequest", ok, err)
	}

	w, ok, err := s.WatchInProcess(ctx, component, podsGVR, "ns", metav1.ListOptions{ResourceVersion: rv, FieldSelector: "spec.nodeName=n1", AllowWatchBookmarks: true}, false)
	if !ok || err != nil {
		t.Fatalf("watch: ok=%v err=%v", ok, err)
	}
	mw, ok, err := s.WatchInProcess(ctx, component, podsGVR, "", metav1.ListOptions{ResourceVersion: rv}, true)
	if !ok || err != nil {
		t.Fatalf("metadata watch: ok=%v err=%v", ok, err)
	}
	defer mw.Stop()

	if _, err := pods.Create(ctx, testPod("b", "n2")); err != nil { // filtered out
		t.Fatal(err)
	}
	created, err := pods.Create(ctx, testPod("c", "n1"))
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, w, true)
	got, isPod := ev.Object.(*corev1.Pod)
	if ev.Type != watch.Added || !isPod || got.Name != "c" || got.ResourceVersion != strconv.FormatInt(created.RV, 10) {
		t.Fatalf("first event: %s %#v", ev.Type, ev.Object)
	}
	if got.Kind != "" || got.APIVersion != "" {
		t.Errorf("typed objects come without kind and apiVersion, like client-go's, got %q %q", got.Kind, got.APIVersion)
	}
	// In-process watchers share one copy of each version, as an informer's
	// handlers do.
	w2, _, err := s.WatchInProcess(ctx, component, podsGVR, "ns", metav1.ListOptions{ResourceVersion: rv, FieldSelector: "spec.nodeName=n1"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if ev2 := nextEvent(t, w2, true); ev2.Object != got {
		t.Error("a second in-process watcher got another copy of the same version")
	}
	w2.Stop()
	// The copy is not the cached object: changing it leaves the server's cache alone.
	got.Labels["app"] = "changed"
	got.Spec.Containers[0].Image = "changed"
	cached, err := pods.Get(ctx, "ns", "c", "")
	if err != nil {
		t.Fatal(err)
	}
	if p := cached.Obj.(*corev1.Pod); p.Labels["app"] != "c" || p.Spec.Containers[0].Image != "busybox" {
		t.Fatalf("changing a watched object changed the cache: %v %s", p.Labels, p.Spec.Containers[0].Image)
	}

	// Metadata: the creates after rv, as PartialObjectMetadata without managedFields.
	for _, want := range []string{"b", "c"} {
		ev := nextEvent(t, mw, true)
		pm, isMeta := ev.Object.(*metav1.PartialObjectMetadata)
		if ev.Type != watch.Added || !isMeta || pm.Name != want || pm.Kind != "PartialObjectMetadata" || pm.APIVersion != "meta.k8s.io/v1" {
			t.Fatalf("metadata event: %s %#v, want ADDED %s", ev.Type, ev.Object, want)
		}
		pm.Labels["app"] = "changed"
	}
	if cached, _ := pods.Get(ctx, "ns", "b", ""); cached.Obj.(*corev1.Pod).Labels["app"] != "b" {
		t.Fatal("changing a metadata event's labels changed the cache")
	}

	// A watch whose pods do not change gets bookmarks when others do.
	if _, err := pods.Create(ctx, testPod("d", "n2")); err != nil {
		t.Fatal(err)
	}
	ev = nextEvent(t, w, false)
	if ev.Type != watch.Bookmark {
		t.Fatalf("want a bookmark on a quiet watch, got %s", ev.Type)
	}
	if bm, isPod := ev.Object.(*corev1.Pod); !isPod || bm.ResourceVersion == "" {
		t.Fatalf("bookmark object: %#v", ev.Object)
	}

	if _, err := pods.Delete(ctx, "ns", "c", nil); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w, true); ev.Type != watch.Deleted || ev.Object.(*corev1.Pod).Name != "c" {
		t.Fatalf("want DELETED c, got %s %#v", ev.Type, ev.Object)
	}

	w.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, open := <-w.ResultChan():
			if !open {
				return
			}
		case <-deadline:
			t.Fatal("Stop did not end the watch")
		}
	}
}

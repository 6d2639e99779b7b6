package apiserver

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"tug/internal/auth"
	"tug/internal/registry"
	"tug/internal/storage"
)

// WatchInProcess serves a watch to a component that runs in this process (the
// scheduler, the controllers) without the HTTP round trip: the same authorization
// and the same options as GET ...?watch=true, but the events carry copies of the
// cached objects, where over HTTP the server would encode each change once more
// for every such watcher and each would decode it again. With asMetadata the
// objects are PartialObjectMetadata, as a metadata client receives them.
//
// The caller authenticates with its in-process token, as its requests do. It
// reports ok=false when it cannot serve the resource (unknown to the registry), so
// that the caller uses the HTTP API instead.
func (s *Server) WatchInProcess(ctx context.Context, token string, gvr schema.GroupVersionResource, namespace string, opts metav1.ListOptions, asMetadata bool) (w watch.Interface, ok bool, err error) {
	res := s.cfg.Registry.Lookup(gvr)
	if res == nil || s.stores[res] == nil {
		return nil, false, nil
	}
	if (namespace != "" && !res.Namespaced) || (res.Verbs != nil && !slices.Contains(res.Verbs, "watch")) {
		// The HTTP API gives these their errors.
		return nil, false, nil
	}
	user, err := s.inProcessUser(ctx, token)
	if err != nil {
		return nil, true, apierrors.NewInternalError(err)
	}
	if user == nil {
		return nil, true, apierrors.NewUnauthorized("Unauthorized")
	}
	attrs := auth.Attributes{User: user, Verb: "watch", IsResource: true, APIGroup: gvr.Group, APIVersion: gvr.Version,
		Namespace: namespace, Resource: gvr.Resource}
	d, err := s.cfg.Authorizer.Authorize(ctx, attrs)
	if err != nil {
		return nil, true, apierrors.NewInternalError(err)
	}
	if !d.Allowed {
		return nil, true, forbidden(attrs, d.Reason)
	}
	wctx, cancel := context.WithCancel(auth.WithUser(ctx, user))
	ow, err := s.openWatch(wctx, watchQuery(opts), namespace, res)
	if err != nil {
		cancel()
		return nil, true, err
	}
	iw := &inProcessWatch{ch: make(chan watch.Event), cancel: cancel}
	go s.pumpInProcess(wctx, iw, ow, res, asMetadata, sharedID(res, asMetadata))
	return iw, true, nil
}

// watchQuery is the query string a client would send for opts.
func watchQuery(opts metav1.ListOptions) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("labelSelector", opts.LabelSelector)
	set("fieldSelector", opts.FieldSelector)
	set("resourceVersion", opts.ResourceVersion)
	set("resourceVersionMatch", string(opts.ResourceVersionMatch))
	if opts.TimeoutSeconds != nil {
		q.Set("timeoutSeconds", strconv.FormatInt(*opts.TimeoutSeconds, 10))
	}
	if opts.AllowWatchBookmarks {
		q.Set("allowWatchBookmarks", "true")
	}
	if opts.SendInitialEvents != nil {
		q.Set("sendInitialEvents", strconv.FormatBool(*opts.SendInitialEvents))
	}
	return q
}

// inProcessWatch is the watch.Interface of WatchInProcess.
type inProcessWatch struct {
	ch     chan watch.Event
	cancel context.CancelFunc
}

func (w *inProcessWatch) Stop()                          { w.cancel() }
func (w *inProcessWatch) ResultChan() <-chan watch.Event { return w.ch }

// pumpInProcess feeds iw until the watch ends, the deadline passes or iw is
// stopped; it then closes iw's channel.
func (s *Server) pumpInProcess(ctx context.Context, iw *inProcessWatch, ow *openedWatch, res *registry.Resource, asMetadata bool, id string) {
	defer close(iw.ch)
	defer iw.cancel()
	ctx, stop := ow.run(ctx, s.cfg.BookmarkInterval)
	defer stop()
	for {
		ev, initialEnd, ok := ow.next(ctx)
		if !ok {
			return
		}
		out, err := inProcessEvent(res, ev, initialEnd, asMetadata, id)
		if err != nil {
			out = watch.Event{Type: watch.Error, Object: statusFor(err)}
		}
		select {
		case iw.ch <- out:
		case <-ctx.Done():
			return
		}
		if out.Type == watch.Error {
			return
		}
	}
}

// inProcessEvent is ev as a client of the served version would decode it. The
// objects are copies of the cached ones (which must never change), one per version
// shared by all in-process watchers: like the objects of a shared informer, they
// are read-only for whoever receives them.
func inProcessEvent(res *registry.Resource, ev storage.Event, initialEnd, asMetadata bool, id string) (watch.Event, error) {
	var obj runtime.Object
	switch ev.Type {
	case watch.Error:
		return watch.Event{Type: watch.Error, Object: statusFor(ev.Err)}, nil
	case watch.Bookmark:
		obj = res.New()
		m, err := metaAccessor(obj)
		if err != nil {
			return watch.Event{}, err
		}
		m.ResourceVersion = strconv.FormatInt(ev.RV, 10)
		if initialEnd {
			m.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
		}
	default:
		v, err := ev.Object.Shared(id, func(stored runtime.Object) (runtime.Object, error) {
			return inProcessObject(res, stored, asMetadata)
		})
		return watch.Event{Type: ev.Type, Object: v}, err
	}
	if asMetadata {
		// A bookmark: only its resourceVersion (and annotations) count.
		m, _ := metaAccessor(obj)
		pm := &metav1.PartialObjectMetadata{ObjectMeta: *m}
		pm.Kind, pm.APIVersion = "PartialObjectMetadata", metav1.SchemeGroupVersion.String()
		obj = pm
	}
	return watch.Event{Type: ev.Type, Object: obj}, nil
}

// sharedID names the in-process copy of an object version (per served version,
// typed or metadata) among the values an object shares.
func sharedID(res *registry.Resource, asMetadata bool) string {
	id := "in-process|" + res.Group + "/" + res.Version
	if asMetadata {
		id += "|metadata"
	}
	return id
}

// inProcessObject copies a stored object for in-process watchers: the served
// version without kind and apiVersion, as client-go's typed clients return objects,
// or its PartialObjectMetadata (without managedFields) for metadata clients.
func inProcessObject(res *registry.Resource, stored runtime.Object, asMetadata bool) (runtime.Object, error) {
	sv, err := toServed(res, stored)
	if err != nil {
		return nil, err
	}
	if asMetadata {
		m, err := metaAccessor(sv)
		if err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", res.Resource, err)
		}
		pm := &metav1.PartialObjectMetadata{ObjectMeta: *m}
		pm.ManagedFields = nil
		pm = pm.DeepCopy()
		pm.Kind, pm.APIVersion = "PartialObjectMetadata", metav1.SchemeGroupVersion.String()
		return pm, nil
	}
	obj := sv.DeepCopyObject()
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	return obj, nil
}

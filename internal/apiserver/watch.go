package apiserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"tug/internal/protoenc"
	"tug/internal/registry"
	"tug/internal/storage"
)

// openedWatch is a watch with its request's options applied: the storage watcher,
// when the watch ends, and whether it announces the end of its initial events.
type openedWatch struct {
	watcher        *storage.Watcher
	timeout        time.Duration
	initialPending bool
	bookmarks      *time.Ticker
}

// run starts the watch's clocks: the returned context ends when timeoutSeconds
// pass, and next offers a bookmark every interval. stop releases the clocks and
// the watcher.
func (o *openedWatch) run(ctx context.Context, bookmarkInterval time.Duration) (_ context.Context, stop func()) {
	deadline := time.NewTimer(o.timeout)
	o.bookmarks = time.NewTicker(bookmarkInterval)
	wctx, cancel := contextUntil(ctx, deadline.C)
	return wctx, func() {
		cancel()
		deadline.Stop()
		o.bookmarks.Stop()
		o.watcher.Stop()
	}
}

// openWatch starts the watch a query asks for (the options of a list, plus
// timeoutSeconds, allowWatchBookmarks and sendInitialEvents). The caller must Stop
// the watcher.
func (s *Server) openWatch(ctx context.Context, q url.Values, namespace string, res *registry.Resource) (*openedWatch, error) {
	lopts, err := listOptionsFrom(q, namespace, res)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(30+rand.IntN(30)) * time.Minute
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("timeoutSeconds must be a non-negative integer, not %q", v))
		}
		if n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	initialEnd := q.Get("sendInitialEvents") == "true"
	if q.Has("sendInitialEvents") && !initialEnd && lopts.ResourceVersion == "" {
		// sendInitialEvents=false with no resourceVersion means "from now".
		cur, err := s.cfg.Storage.CurrentRevision(ctx)
		if err != nil {
			return nil, err
		}
		lopts.ResourceVersion = strconv.FormatInt(cur, 10)
	}
	if initialEnd && lopts.ResourceVersionMatch != metav1.ResourceVersionMatchNotOlderThan {
		return nil, apierrors.NewBadRequest("sendInitialEvents=true requires resourceVersionMatch=NotOlderThan")
	}
	if initialEnd && lopts.ResourceVersion != "" && lopts.ResourceVersion != "0" {
		// Initial events reflect at least the asked revision: wait for it, then start
		// from the current state.
		if _, err := s.stores[res].List(ctx, storage.ListOptions{ResourceVersion: lopts.ResourceVersion, Limit: 1, Namespace: lopts.Namespace}); err != nil {
			return nil, err
		}
		lopts.ResourceVersion = ""
	}
	wopts := storage.WatchOptions{
		Namespace: lopts.Namespace, Label: lopts.Label, Field: lopts.Field,
		ResourceVersion: lopts.ResourceVersion,
		Bookmarks:       q.Get("allowWatchBookmarks") == "true" || initialEnd,
	}
	watcher, err := s.stores[res].Watch(ctx, wopts)
	if err != nil {
		return nil, err
	}
	return &openedWatch{watcher: watcher, timeout: timeout, initialPending: initialEnd}, nil
}

// next returns the next event to send, and whether it is the bookmark that ends the
// initial events. It reports false when the watch has ended.
func (o *openedWatch) next(ctx context.Context) (ev storage.Event, initialEnd, ok bool) {
	if o.initialPending && o.watcher.Pending() == 0 {
		// Every initial event is out: say so with a bookmark.
		o.initialPending = false
		return storage.Event{Type: watch.Bookmark, RV: o.watcher.LastRV()}, true, true
	}
	ev, ok = o.watcher.Next(ctx, o.bookmarks.C)
	if ok && ev.Type == watch.Bookmark && o.initialPending {
		o.initialPending = false
		return ev, true, true
	}
	return ev, false, ok
}

// serveWatch streams changes as newline-delimited JSON watch events (or framed
// protobuf), until the client goes away or timeoutSeconds pass.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	ow, err := s.openWatch(ctx, r.URL.Query(), info.Namespace, res)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer ow.watcher.Stop()

	contentType := mediaJSON
	if out.media == mediaProtobuf {
		contentType = mediaProtobuf + ";stream=watch"
	}
	inc := metav1.IncludeMetadata
	if out.as == "Table" {
		if inc, err = includeObjectOf(r); err != nil {
			writeError(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	wctx, stop := ow.run(ctx, s.cfg.BookmarkInterval)
	defer stop()

	firstTable := true
	enc := &watchEncoder{res: res, out: out, inc: inc, srv: s}
	for {
		ev, initialEnd, ok := ow.next(wctx)
		if !ok {
			return
		}
		b, err := enc.event(ev, firstTable, initialEnd)
		if err != nil {
			b, _ = enc.event(storage.Event{Type: watch.Error, Err: err}, false, false)
		}
		if _, err := w.Write(b); err != nil {
			return
		}
		if ev.Type != watch.Bookmark && ev.Type != watch.Error {
			firstTable = false
		}
		// Under load several events wait: write them out together (one frame,
		// one TLS record, one system call) and flush when the queue is empty.
		if flusher != nil && (ow.watcher.Pending() == 0 || ev.Type == watch.Error) {
			flusher.Flush()
		}
		if ev.Type == watch.Error {
			return
		}
	}
}

type watchEncoder struct {
	res *registry.Resource
	out output
	inc metav1.IncludeObjectPolicy
	srv *Server
}

// event encodes one watch event, framed for the stream.
func (e *watchEncoder) event(ev storage.Event, withColumns, initialEnd bool) ([]byte, error) {
	var obj []byte
	var err error
	media := e.out.media
	if media == mediaYAML {
		media = mediaJSON
	}
	switch {
	case ev.Type == watch.Error:
		st := statusFor(ev.Err)
		obj, err = encode(media, st)
	case ev.Type == watch.Bookmark:
		bm := newOf(e.res)
		m, _ := meta.Accessor(bm)
		m.SetResourceVersion(strconv.FormatInt(ev.RV, 10))
		if initialEnd {
			m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		}
		if e.out.as == "PartialObjectMetadata" || e.out.as == "PartialObjectMetadataList" {
			// A metadata-only watcher can decode nothing else.
			var pm *metav1.PartialObjectMetadata
			if pm, err = partialMeta(e.out.asVersion, bm); err == nil {
				obj, err = encodeMeta(mediaJSON, pm)
			}
		} else {
			obj, err = encode(media, bm)
		}
	case e.out.as == "Table":
		var sv runtime.Object
		sv, err = toServed(e.res, ev.Object.Obj)
		if err != nil {
			return nil, err
		}
		var t *metav1.Table
		t, err = e.srv.table(e.res, []runtime.Object{sv}, e.inc, e.out.asVersion, withColumns)
		if err != nil {
			return nil, err
		}
		t.ResourceVersion = strconv.FormatInt(ev.Object.RV, 10)
		obj, err = encodeMeta(mediaJSON, t)
	case e.out.as != "":
		var pm *metav1.PartialObjectMetadata
		pm, err = partialMeta(e.out.asVersion, ev.Object.Obj)
		if err != nil {
			return nil, err
		}
		obj, err = encodeMeta(mediaJSON, pm)
	default:
		obj, err = encodedObject(e.res, media, ev.Object)
	}
	if err != nil {
		return nil, err
	}
	if media == mediaProtobuf && e.out.as == "" {
		we := &metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: obj}}
		frame, err := protoenc.Encode(protoRawSerializer, we, 4)
		if err != nil {
			return nil, err
		}
		binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
		return frame, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(obj) + 32)
	buf.WriteString(`{"type":"`)
	buf.WriteString(string(ev.Type))
	buf.WriteString(`","object":`)
	buf.Write(obj)
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

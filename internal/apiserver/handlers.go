package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/auth"
	"tug/internal/registry"
	"tug/internal/storage"
)

// serveResource runs the verb of a resource request.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, info *requestInfo) {
	res := s.cfg.Registry.Lookup(schema.GroupVersionResource{Group: info.Group, Version: info.Version, Resource: info.Resource})
	if res == nil {
		writeError(w, r, notFoundPath())
		return
	}
	if info.Namespace != "" && !res.Namespaced && info.Resource != "namespaces" {
		writeError(w, r, notFoundPath())
		return
	}
	if info.Subresource != "" {
		s.serveSubresource(w, r, info, res)
		return
	}
	if res.Create != nil {
		if info.Verb != "create" {
			writeError(w, r, methodNotAllowed())
			return
		}
		s.serveVirtualCreate(w, r, info, res)
		return
	}
	if !res.HasVerb(info.Verb) {
		writeError(w, r, methodNotAllowed())
		return
	}
	switch info.Verb {
	case "get":
		s.serveGet(w, r, info, res)
	case "list":
		s.serveList(w, r, info, res)
	case "watch":
		s.serveWatch(w, r, info, res)
	case "create":
		if info.Name != "" {
			writeError(w, r, methodNotAllowed())
			return
		}
		s.serveCreate(w, r, info, res)
	case "update":
		s.serveUpdate(w, r, info, res, "")
	case "patch":
		s.servePatch(w, r, info, res, "")
	case "delete":
		s.serveDelete(w, r, info, res)
	case "deletecollection":
		s.serveDeleteCollection(w, r, info, res)
	default:
		writeError(w, r, methodNotAllowed())
	}
}

func methodNotAllowed() error {
	return apierrors.NewMethodNotSupported(schema.GroupResource{}, "this")
}

func (s *Server) op(r *http.Request, info *requestInfo, res *registry.Resource, sub string) (*writeOp, error) {
	dry, err := dryRunOf(r)
	if err != nil {
		return nil, err
	}
	return &writeOp{res: res.Stored(), served: res, namespace: info.Namespace, name: info.Name, subresource: sub, dryRun: dry, user: auth.UserFrom(r.Context()), manager: managerOf(r)}, nil
}

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	o, err := s.stores[res].Get(r.Context(), info.Namespace, info.Name, r.URL.Query().Get("resourceVersion"))
	if err != nil {
		writeError(w, r, s.named(res, err, info.Name))
		return
	}
	s.writeStored(w, r, http.StatusOK, res, o)
}

// named rewrites storage errors to name the resource the client addressed.
func (s *Server) named(res *registry.Resource, err error, name string) error {
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(res.GroupResource(), name)
	}
	if apierrors.IsAlreadyExists(err) {
		return apierrors.NewAlreadyExists(res.GroupResource(), name)
	}
	return err
}

// listOptions reads selectors and paging parameters.
func (s *Server) listOptions(r *http.Request, info *requestInfo, res *registry.Resource) (storage.ListOptions, error) {
	return listOptionsFrom(r.URL.Query(), info.Namespace, res)
}

// listOptionsFrom reads the list options of a query (labelSelector, fieldSelector,
// resourceVersion, resourceVersionMatch, limit, continue).
func listOptionsFrom(q url.Values, namespace string, res *registry.Resource) (storage.ListOptions, error) {
	opts := storage.ListOptions{Namespace: namespace, ResourceVersion: q.Get("resourceVersion"), Continue: q.Get("continue")}
	if v := q.Get("labelSelector"); v != "" {
		sel, err := labels.Parse(v)
		if err != nil {
			return opts, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		opts.Label = sel
	}
	if v := q.Get("fieldSelector"); v != "" {
		sel, err := fields.ParseSelector(v)
		if err != nil {
			return opts, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector %q: %v", v, err))
		}
		supported := map[string]bool{"metadata.name": true, "metadata.namespace": res.Namespaced}
		if res.Fields != nil {
			for k := range res.Fields(res.New()) {
				supported[k] = true
			}
		}
		var bad []string
		for _, req := range sel.Requirements() {
			if !supported[req.Field] {
				bad = append(bad, req.Field)
			}
		}
		if len(bad) > 0 {
			return opts, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", strings.Join(bad, ", ")))
		}
		opts.Field = sel
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return opts, apierrors.NewBadRequest(fmt.Sprintf("limit must be a non-negative integer, not %q", v))
		}
		opts.Limit = n
	}
	switch m := metav1.ResourceVersionMatch(q.Get("resourceVersionMatch")); m {
	case "", metav1.ResourceVersionMatchNotOlderThan, metav1.ResourceVersionMatchExact:
		if m != "" && opts.ResourceVersion == "" {
			return opts, apierrors.NewBadRequest("resourceVersionMatch is only allowed together with resourceVersion")
		}
		opts.ResourceVersionMatch = m
	default:
		return opts, apierrors.NewBadRequest(fmt.Sprintf("resourceVersionMatch must be NotOlderThan or Exact, not %q", m))
	}
	if opts.Continue != "" && opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
		return opts, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
	}
	return opts, nil
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	opts, err := s.listOptions(r, info, res)
	if err != nil {
		writeError(w, r, err)
		return
	}
	lr, err := s.stores[res].List(r.Context(), opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeList(w, r, res, lr)
}

// serveVirtualCreate answers resources that are computed, not stored (reviews).
func (s *Server) serveVirtualCreate(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	obj, err := s.decodeBody(w, r, res.GVK(), newOf(res))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if res.Namespaced {
		if m, err := meta.Accessor(obj); err == nil {
			if m.GetNamespace() != "" && m.GetNamespace() != info.Namespace {
				writeError(w, r, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
				return
			}
			m.SetNamespace(info.Namespace)
		}
	}
	out, err := res.Create(r.Context(), obj)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusCreated, res, out)
}

func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	op, err := s.op(r, info, res, "")
	if err != nil {
		writeError(w, r, err)
		return
	}
	obj, err := s.decodeBody(w, r, res.GVK(), newOf(res))
	if err != nil {
		writeError(w, r, err)
		return
	}
	o, err := s.create(r.Context(), op, obj)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusCreated, res, o)
}

// create runs the whole create flow for an object of the served version and returns
// the stored object. obj is the request's own: it may become the stored object, so
// the caller must not use it afterwards.
func (s *Server) create(ctx context.Context, op *writeOp, obj runtime.Object) (runtime.Object, error) {
	res := op.served
	generated := false
	if m, err := meta.Accessor(obj); err == nil && m.GetName() == "" && m.GetGenerateName() != "" {
		generated = true
	}
	for attempt := 0; ; attempt++ {
		// The object becomes the stored one (and the cache's); a generated
		// name may need another attempt from the original.
		next := obj
		if generated {
			next = obj.DeepCopyObject()
		}
		sobj, err := toStoredVersion(res, next)
		if err != nil {
			return nil, err
		}
		if err := s.prepareCreate(ctx, op, sobj); err != nil {
			return nil, err
		}
		sobj = s.track(op, nil, sobj)
		var release func()
		if a := op.res.Allocate; a != nil {
			if release, err = a(ctx, sobj, nil, op.dryRun); err != nil {
				return nil, err
			}
		}
		if op.dryRun {
			if release != nil {
				release()
			}
			return sobj, nil
		}
		o, err := s.stores[res].Create(ctx, sobj)
		if err != nil {
			if release != nil {
				release()
			}
			if apierrors.IsAlreadyExists(err) && generated && attempt < 8 {
				continue
			}
			m, _ := meta.Accessor(sobj)
			return nil, s.named(res, err, m.GetName())
		}
		return o.Obj, nil
	}
}

func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource, sub string) {
	op, err := s.op(r, info, res, sub)
	if err != nil {
		writeError(w, r, err)
		return
	}
	obj, err := s.decodeBody(w, r, res.GVK(), newOf(res))
	if err != nil {
		writeError(w, r, err)
		return
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		writeError(w, r, apierrors.NewBadRequest(err.Error()))
		return
	}
	if m.GetName() == "" {
		m.SetName(info.Name)
	}
	if m.GetName() != info.Name {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), info.Name)))
		return
	}
	if res.Namespaced && m.GetNamespace() != "" && m.GetNamespace() != info.Namespace {
		writeError(w, r, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	op.replaces = true
	out, created, err := s.update(r.Context(), op, res.AllowCreateOnUpdate && sub == "", func(cur runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	})
	s.writeWritten(w, r, res, out, created, err)
}

// writeWritten answers a write: the error, or the object (201 if it was created).
func (s *Server) writeWritten(w http.ResponseWriter, r *http.Request, res *registry.Resource, out runtime.Object, created bool, err error) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	s.writeObject(w, r, code, res, out)
}

// update applies a change computed from the current object (served version) with
// compare-and-swap. change gets nil when the object does not exist and the resource
// allows create-on-update.
func (s *Server) update(ctx context.Context, op *writeOp, allowCreate bool, change func(cur runtime.Object) (runtime.Object, error)) (runtime.Object, bool, error) {
	res := op.served
	store := s.stores[res]
	var release func()
	giveBack := func() {
		if release != nil {
			release()
			release = nil
		}
	}
	allocate := func(obj, old runtime.Object) (runtime.Object, error) {
		giveBack()
		if a := op.res.Allocate; a != nil && op.subresource == "" {
			r, err := a(ctx, obj, old, op.dryRun)
			if err != nil {
				return nil, err
			}
			release = r
		}
		return obj, nil
	}
	fn := func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			obj, err := change(nil)
			if err != nil {
				return nil, err
			}
			sobj, err := toStoredVersion(res, obj)
			if err != nil {
				return nil, err
			}
			if err := s.prepareCreate(ctx, op, sobj); err != nil {
				return nil, err
			}
			return allocate(s.track(op, nil, sobj), nil)
		}
		servedCur, err := toServed(res, cur)
		if err != nil {
			return nil, err
		}
		if servedCur == cur && !op.replaces {
			// change may modify what it gets; cur stays the old object.
			servedCur = cur.DeepCopyObject()
		}
		obj, err := change(servedCur)
		if err != nil {
			return nil, err
		}
		sobj, err := toStoredVersion(res, obj)
		if err != nil {
			return nil, err
		}
		next, err := s.prepareUpdate(ctx, op, sobj, cur)
		if err != nil {
			return nil, err
		}
		return allocate(s.track(op, cur, next), cur)
	}
	if op.dryRun {
		defer giveBack()
		cur, err := store.Get(ctx, op.namespace, op.name, "")
		if apierrors.IsNotFound(err) && allowCreate {
			out, err := fn(nil)
			return out, true, err
		}
		if err != nil {
			return nil, false, s.named(res, err, op.name)
		}
		out, err := fn(cur.Obj.DeepCopyObject())
		return out, false, err
	}
	o, created, err := store.Update(ctx, op.namespace, op.name, allowCreate, fn)
	if err != nil {
		giveBack()
		return nil, false, s.named(res, err, op.name)
	}
	s.finishIfDone(ctx, op, store, o)
	return o.Obj, created, nil
}

func deleteOptions(w http.ResponseWriter, r *http.Request, s *Server) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		// Clients send DeleteOptions in the group version of the resource (or
		// meta.k8s.io/v1); any of them is the same type.
		var dec runtime.Decoder
		switch bodyMedia(r) {
		case mediaJSON:
			dec = jsonSerializer
		case mediaYAML:
			dec = yamlSerializer
		case mediaProtobuf:
			dec = protoSerializer
		default:
			return nil, unsupportedMedia(bodyMedia(r))
		}
		gvk := metav1.SchemeGroupVersion.WithKind("DeleteOptions")
		obj, _, err := dec.Decode(body, &gvk, &metav1.DeleteOptions{})
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the body is not valid DeleteOptions: %v", err))
		}
		o, ok := obj.(*metav1.DeleteOptions)
		if !ok {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the body of a delete must be DeleteOptions, not %s", obj.GetObjectKind().GroupVersionKind().Kind))
		}
		opts = o
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("gracePeriodSeconds must be an integer, not %q", v))
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := v == "true"
		opts.OrphanDependents = &b
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	return opts, nil
}

func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	op, err := s.op(r, info, res, "")
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts, err := deleteOptions(w, r, s)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(opts.DryRun) > 0 {
		op.dryRun = true
	}
	dr, err := s.deleteObject(r.Context(), op, s.stores[res], opts)
	if err != nil {
		writeError(w, r, s.named(res, err, info.Name))
		return
	}
	if dr.deleted {
		out, err := negotiate(r)
		if err == nil && out.as == "" {
			st := okStatus(res, dr.obj)
			b, err := encode(out.media, st)
			if err == nil {
				writeRaw(w, http.StatusOK, out.contentType(), b)
				return
			}
		}
	}
	s.writeObject(w, r, http.StatusOK, res, dr.obj)
}

func (s *Server) serveDeleteCollection(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource) {
	op, err := s.op(r, info, res, "")
	if err != nil {
		writeError(w, r, err)
		return
	}
	lopts, err := s.listOptions(r, info, res)
	if err != nil {
		writeError(w, r, err)
		return
	}
	lopts.Limit, lopts.Continue = 0, ""
	dopts, err := deleteOptions(w, r, s)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(dopts.DryRun) > 0 {
		op.dryRun = true
	}
	lr, err := s.stores[res].List(r.Context(), lopts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var deleted []*storage.Object
	for _, o := range lr.Items {
		one := *op
		one.namespace, one.name = o.Namespace, o.Name
		dr, err := s.deleteObject(r.Context(), &one, s.stores[res], dopts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		deleted = append(deleted, &storage.Object{Obj: dr.obj, Namespace: o.Namespace, Name: o.Name})
	}
	sort.Slice(deleted, func(i, j int) bool {
		return deleted[i].Namespace+"/"+deleted[i].Name < deleted[j].Namespace+"/"+deleted[j].Name
	})
	s.writeList(w, r, res, &storage.ListResult{Items: deleted, RV: lr.RV})
}

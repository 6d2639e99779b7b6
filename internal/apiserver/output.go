package apiserver

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/registry"
	"tug/internal/storage"
)

// toServed converts a stored object to the version res serves. It never changes obj.
func toServed(res *registry.Resource, obj runtime.Object) (runtime.Object, error) {
	if res.FromStored == nil {
		return obj, nil
	}
	out, err := res.FromStored(obj)
	if err != nil {
		return nil, err
	}
	ensureGVK(out, res.GVK())
	return out, nil
}

// toStoredVersion converts an object of the served version to the stored version.
func toStoredVersion(res *registry.Resource, obj runtime.Object) (runtime.Object, error) {
	if res.ToStored == nil {
		return obj, nil
	}
	out, err := res.ToStored(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	out.GetObjectKind().SetGroupVersionKind(res.Stored().GVK())
	return out, nil
}

// encodedObject returns the encoding of a stored version in the served version,
// computed once per version and media type.
func encodedObject(res *registry.Resource, media string, o *storage.Object) ([]byte, error) {
	return o.Encoded(media+"|"+res.Group+"/"+res.Version, func(obj runtime.Object) ([]byte, error) {
		sv, err := toServed(res, obj)
		if err != nil {
			return nil, err
		}
		ensureGVK(sv, res.GVK())
		return encode(media, sv)
	})
}

func includeObjectOf(r *http.Request) (metav1.IncludeObjectPolicy, error) {
	switch v := r.URL.Query().Get("includeObject"); v {
	case "", "Metadata":
		return metav1.IncludeMetadata, nil
	case "Object":
		return metav1.IncludeObject, nil
	case "None":
		return metav1.IncludeNone, nil
	default:
		return "", apierrors.NewBadRequest(fmt.Sprintf("includeObject must be None, Metadata or Object, not %q", v))
	}
}

// writeStored answers with one stored object in the representation the client asked for.
func (s *Server) writeStored(w http.ResponseWriter, r *http.Request, code int, res *registry.Resource, o *storage.Object) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	switch out.as {
	case "":
		b, err := encodedObject(res, out.media, o)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeRaw(w, code, out.contentType(), b)
	default:
		s.writeObject(w, r, code, res, o.Obj)
	}
}

// writeObject answers with a stored-version object that is not (or not yet) cached.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, code int, res *registry.Resource, stored runtime.Object) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	obj, err := toServed(res, stored)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ensureGVK(obj, res.GVK())
	var b []byte
	switch out.as {
	case "":
		b, err = encode(out.media, obj)
	case "Table":
		inc, ierr := includeObjectOf(r)
		if ierr != nil {
			writeError(w, r, ierr)
			return
		}
		var t *metav1.Table
		t, err = s.table(res, []runtime.Object{obj}, inc, out.asVersion, true)
		if err == nil {
			if m, merr := meta.Accessor(obj); merr == nil {
				t.ResourceVersion = m.GetResourceVersion()
			}
			b, err = encodeMeta(out.media, t)
		}
	case "PartialObjectMetadata":
		var pm *metav1.PartialObjectMetadata
		pm, err = partialMeta(out.asVersion, obj)
		if err == nil {
			b, err = encodeMeta(out.media, pm)
		}
	default:
		writeError(w, r, notAcceptable(out.as))
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeRaw(w, code, out.contentType(), b)
}

// ensureGVK sets an object's kind only when it differs, so that objects shared with
// the cache (which already carry their kind) are never written to.
func ensureGVK(obj runtime.Object, gvk schema.GroupVersionKind) {
	if obj.GetObjectKind().GroupVersionKind() != gvk {
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
}

func notAcceptable(as string) error {
	return apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "", fmt.Sprintf("%s is not available for this request", as), 0, false)
}

// writeList answers a list in the representation the client asked for.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, res *registry.Resource, lr *storage.ListResult) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	lm := metav1.ListMeta{ResourceVersion: strconv.FormatInt(lr.RV, 10), Continue: lr.Continue, RemainingItemCount: lr.RemainingItemCount}
	switch {
	case out.as == "" && out.media == mediaJSON:
		// Stream the cached encodings of the items.
		var buf bytes.Buffer
		gv := res.GVK().GroupVersion().String()
		mb, _ := encodeMeta(mediaJSON, lm)
		fmt.Fprintf(&buf, `{"kind":%q,"apiVersion":%q,"metadata":%s,"items":[`, res.ListKind, gv, mb)
		for i, o := range lr.Items {
			b, err := encodedObject(res, mediaJSON, o)
			if err != nil {
				writeError(w, r, err)
				return
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(b)
		}
		buf.WriteString("]}")
		writeRaw(w, http.StatusOK, mediaJSON, buf.Bytes())
	case out.as == "":
		list := res.NewList()
		objs, err := servedItems(res, lr.Items)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := meta.SetList(list, objs); err != nil {
			writeError(w, r, err)
			return
		}
		la, _ := meta.ListAccessor(list)
		la.SetResourceVersion(lm.ResourceVersion)
		la.SetContinue(lm.Continue)
		la.SetRemainingItemCount(lm.RemainingItemCount)
		list.GetObjectKind().SetGroupVersionKind(res.GVK().GroupVersion().WithKind(res.ListKind))
		b, err := encode(out.media, list)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeRaw(w, http.StatusOK, out.contentType(), b)
	case out.as == "Table":
		inc, err := includeObjectOf(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		objs, err := servedItems(res, lr.Items)
		if err != nil {
			writeError(w, r, err)
			return
		}
		t, err := s.table(res, objs, inc, out.asVersion, true)
		if err != nil {
			writeError(w, r, err)
			return
		}
		t.ListMeta = lm
		b, err := encodeMeta(out.media, t)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeRaw(w, http.StatusOK, out.contentType(), b)
	case out.as == "PartialObjectMetadataList" || out.as == "PartialObjectMetadata":
		list := &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/" + out.asVersion}, ListMeta: lm}
		for _, o := range lr.Items {
			pm, err := partialMeta(out.asVersion, o.Obj)
			if err != nil {
				writeError(w, r, err)
				return
			}
			list.Items = append(list.Items, *pm)
		}
		b, err := encodeMeta(out.media, list)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeRaw(w, http.StatusOK, out.contentType(), b)
	}
}

// servedItems converts the items of a list page to the served version.
func servedItems(res *registry.Resource, items []*storage.Object) ([]runtime.Object, error) {
	objs := make([]runtime.Object, 0, len(items))
	for _, o := range items {
		sv, err := toServed(res, o.Obj)
		if err != nil {
			return nil, err
		}
		objs = append(objs, sv)
	}
	return objs, nil
}

// table builds the Table kubectl prints for objects of the served version.
func (s *Server) table(res *registry.Resource, objs []runtime.Object, inc metav1.IncludeObjectPolicy, version string, withColumns bool) (*metav1.Table, error) {
	if version == "" {
		version = "v1"
	}
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/" + version}}
	cols := res.Columns
	row := res.Row
	if cols == nil || row == nil {
		cols = defaultColumns
		row = defaultRow
	}
	if withColumns {
		t.ColumnDefinitions = cols
	}
	t.Rows = make([]metav1.TableRow, 0, len(objs))
	for _, obj := range objs {
		tr := metav1.TableRow{Cells: row(obj)}
		switch inc {
		case metav1.IncludeMetadata:
			pm, err := partialMeta(version, obj)
			if err != nil {
				return nil, err
			}
			b, err := encodeMeta(mediaJSON, pm)
			if err != nil {
				return nil, err
			}
			tr.Object.Raw = b
		case metav1.IncludeObject:
			ensureGVK(obj, res.GVK())
			b, err := encode(mediaJSON, obj)
			if err != nil {
				return nil, err
			}
			tr.Object.Raw = b
		}
		t.Rows = append(t.Rows, tr)
	}
	return t, nil
}

var defaultColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the object; unique within its namespace."},
	{Name: "Created At", Type: "date", Description: "When the object was created (metadata.creationTimestamp)."},
}

func defaultRow(obj runtime.Object) []interface{} {
	m, err := meta.Accessor(obj)
	if err != nil {
		return []interface{}{"", ""}
	}
	return []interface{}{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}
}

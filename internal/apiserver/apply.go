package apiserver

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
	"sigs.k8s.io/yaml"

	"tug/internal/memory"
	"tug/internal/registry"
)

// fieldManagers tracks, per resource and subresource, which client owns which
// field (metadata.managedFields), and merges server-side apply requests. It is built
// on first use from the OpenAPI schemas.
type fieldManagers struct {
	schemas func() map[string]*spec.Schema

	once    sync.Once
	tc      managedfields.TypeConverter
	initErr error

	mu sync.Mutex
	fm map[string]*managedfields.FieldManager

	memoOnce sync.Once
	memo     *createMemo
}

// createMemo returns the memo of create entries (see fieldmemo.go).
func (f *fieldManagers) createMemo() *createMemo {
	f.memoOnce.Do(func() { f.memo = newCreateMemo(256) })
	return f.memo
}

func (f *fieldManagers) get(res *registry.Resource, sub string) (*managedfields.FieldManager, error) {
	if f == nil || f.schemas == nil {
		return nil, fmt.Errorf("server-side apply needs the OpenAPI schemas, which this server does not have")
	}
	f.once.Do(func() {
		f.tc, f.initErr = managedfields.NewTypeConverter(f.schemas(), false)
		// Building the converter allocates far more than it keeps.
		memory.Trim()
	})
	if f.initErr != nil {
		return nil, f.initErr
	}
	key := res.GVK().String() + "|" + sub
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.fm[key]; ok {
		return m, nil
	}
	gv := res.GVK().GroupVersion()
	var reset map[fieldpath.APIVersion]fieldpath.Filter
	if res.Status {
		var ignored *fieldpath.Set
		if sub == "status" {
			ignored = fieldpath.NewSet(fieldpath.MakePathOrDie("spec"))
		} else {
			ignored = fieldpath.NewSet(fieldpath.MakePathOrDie("status"))
		}
		reset = map[fieldpath.APIVersion]fieldpath.Filter{fieldpath.APIVersion(gv.String()): fieldpath.NewExcludeSetFilter(ignored)}
	}
	m, err := managedfields.NewDefaultFieldManager(f.tc, registry.Scheme, registry.Scheme, registry.Scheme, res.GVK(), gv, sub, reset)
	if err != nil {
		return nil, err
	}
	if f.fm == nil {
		f.fm = map[string]*managedfields.FieldManager{}
	}
	f.fm[key] = m
	return m, nil
}

// managerOf names the client for managedFields: the fieldManager parameter, else
// the program name from the User-Agent.
func managerOf(r *http.Request) string {
	if m := r.URL.Query().Get("fieldManager"); m != "" {
		return m
	}
	ua := r.UserAgent()
	if i := strings.IndexByte(ua, '/'); i > 0 {
		ua = ua[:i]
	}
	if ua == "" {
		return "unknown"
	}
	if len(ua) > 128 {
		ua = ua[:128]
	}
	return ua
}

// serveApply answers server-side apply: the body is the caller's intent for the
// fields it manages; it is merged into the live object (or creates it), and a field
// another manager owns with a different value is a 409 Conflict unless force=true.
func (s *Server) serveApply(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource, op *writeOp, body []byte) {
	q := r.URL.Query()
	manager := q.Get("fieldManager")
	if manager == "" {
		writeError(w, r, apierrors.NewBadRequest("fieldManager is required for apply requests"))
		return
	}
	force := q.Get("force") == "true"
	if bodyMedia(r) != "application/apply-patch+yaml" {
		writeError(w, r, unsupportedMedia(bodyMedia(r)))
		return
	}
	fv, err := fieldValidationOf(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	js, err := yaml.YAMLToJSON(body)
	if err != nil {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the apply body is not valid YAML or JSON: %v", err)))
		return
	}
	// The typed decode checks the body (unknown fields, types); the merge itself works
	// on exactly the fields the body names, so it gets the body as unstructured.
	if _, err := decodeAs(w, mediaJSON, js, res.GVK(), newOf(res), fv); err != nil {
		writeError(w, r, err)
		return
	}
	applied := &unstructured.Unstructured{}
	if err := applied.UnmarshalJSON(js); err != nil {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the apply body is not a valid object: %v", err)))
		return
	}
	if gvk := applied.GroupVersionKind(); gvk != res.GVK() {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the apply body is a %s, but the URL is for %s", gvk, res.GVK())))
		return
	}
	am := applied
	if am.GetName() != info.Name {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", am.GetName(), info.Name)))
		return
	}
	if res.Namespaced && am.GetNamespace() != "" && am.GetNamespace() != info.Namespace {
		writeError(w, r, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	if len(am.GetManagedFields()) > 0 {
		writeError(w, r, apierrors.NewBadRequest("metadata.managedFields must be nil in an apply request"))
		return
	}
	op.manager = ""
	fm, err := s.fields.get(res, op.subresource)
	if err != nil {
		writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	out, created, err := s.update(r.Context(), op, op.subresource == "", func(cur runtime.Object) (runtime.Object, error) {
		live := cur
		if live == nil {
			live = newOf(res)
			lm, _ := meta.Accessor(live)
			lm.SetName(info.Name)
			lm.SetNamespace(info.Namespace)
		}
		merged, err := fm.Apply(live, applied.DeepCopyObject(), manager, force)
		if err != nil {
			return nil, applyError(res, info.Name, err)
		}
		return merged, nil
	})
	s.writeWritten(w, r, res, out, created, err)
}

func applyError(res *registry.Resource, name string, err error) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: res.Group, Kind: res.Kind}, name, fieldErrs("metadata.managedFields", "", err.Error()))
}

// track records the writer of a non-apply write in managedFields (stored version).
//
// Writes to status (and other status-like subresources) by controllers and node
// agents are not recorded: they are the bulk of a busy cluster's writes, recording
// them costs about as much as the rest of the write, and status is not something
// clients apply. Server-side apply to a status subresource still records its fields.
func (s *Server) track(op *writeOp, live, obj runtime.Object) runtime.Object {
	if op.manager == "" || s.fields.schemas == nil {
		return obj
	}
	if op.subresource == "status" || op.res.Subresources[op.subresource] != nil {
		return obj
	}
	fm, err := s.fields.get(op.res, "")
	if err != nil {
		return obj
	}
	if live != nil {
		if renewManagedFields(op.manager, op.res.GVK().GroupVersion().String(), live, obj) {
			return obj
		}
		return fm.UpdateNoErrors(live, obj, op.manager)
	}
	// Events are each different; everything else is often created from a template.
	if op.res.Resource == "events" {
		return fm.UpdateNoErrors(newOf(op.res), obj, op.manager)
	}
	memo := s.fields.createMemo()
	k, ok := memo.key(op.manager, op.res.GVK().String(), obj)
	if ok && memo.apply(k, obj) {
		return obj
	}
	out := fm.UpdateNoErrors(newOf(op.res), obj, op.manager)
	if ok {
		memo.remember(k, out)
	}
	return out
}

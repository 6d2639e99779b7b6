package apiserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"tug/internal/admission"
	"tug/internal/auth"
	"tug/internal/registry"
	"tug/internal/storage"
)

// writeOp carries what a write needs besides the object.
type writeOp struct {
	res         *registry.Resource // the stored resource
	served      *registry.Resource // the resource the client addressed
	namespace   string
	name        string
	subresource string
	dryRun      bool
	user        *auth.User
	// manager, when set, is recorded in managedFields as the writer.
	manager string
	// replaces says the change of an update ignores the current object (a PUT
	// replaces it), so update need not give it a copy to change.
	replaces bool
}

// shallowCopy copies the top-level struct of obj; maps, slices and pointers
// inside are shared with obj.
func shallowCopy(obj runtime.Object) runtime.Object {
	v := reflect.ValueOf(obj).Elem()
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	return c.Interface().(runtime.Object)
}

// now is the server clock, second precision as Kubernetes stores timestamps.
var now = func() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }

const nameSuffixChars = "bcdfghjklmnpqrstvwxz2456789"

func generateSuffix() string {
	b := make([]byte, 5)
	for i := range b {
		b[i] = nameSuffixChars[rand.IntN(len(nameSuffixChars))]
	}
	return string(b)
}

func invalid(res *registry.Resource, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(k8sschema.GroupKind{Group: res.Group, Kind: res.Kind}, name, errs)
}

// prepareCreate turns a decoded object into the object to store: server-owned
// metadata, defaults, status rules, admission and validation.
func (s *Server) prepareCreate(ctx context.Context, op *writeOp, obj runtime.Object) error {
	res := op.res
	m, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if res.Namespaced {
		if ns := m.GetNamespace(); ns != "" && ns != op.namespace {
			return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		m.SetNamespace(op.namespace)
	} else {
		m.SetNamespace("")
	}
	if m.GetResourceVersion() != "" {
		return apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + generateSuffix())
	}
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(now())
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetSelfLink("")
	if op.manager != "" || s.fields.schemas == nil {
		// Apply has computed them already; every other write records its manager after.
		m.SetManagedFields(nil)
	}
	m.SetGeneration(0)
	if res.Generation {
		m.SetGeneration(1)
	}
	if res.Status && !res.Strategy.StatusOnCreate {
		registry.ClearStatus(obj)
	}
	if res.Strategy.Default != nil {
		res.Strategy.Default(obj)
	}
	if res.Strategy.PrepareForCreate != nil {
		res.Strategy.PrepareForCreate(ctx, obj)
	}
	if err := s.admit(ctx, op, "CREATE", obj, nil, nil); err != nil {
		return err
	}
	errs := validateMeta(res, m)
	if res.Strategy.Validate != nil {
		errs = append(errs, res.Strategy.Validate(ctx, obj)...)
	}
	if res.Strategy.ValidateCreate != nil {
		errs = append(errs, res.Strategy.ValidateCreate(ctx, obj)...)
	}
	if len(errs) > 0 {
		return invalid(op.served, m.GetName(), errs)
	}
	return nil
}

func (s *Server) admit(ctx context.Context, op *writeOp, operation string, obj, old, options runtime.Object) error {
	if s.cfg.Admission == nil {
		return nil
	}
	name := op.name
	if obj != nil {
		if m, err := meta.Accessor(obj); err == nil && m.GetName() != "" {
			name = m.GetName()
		}
	}
	return s.cfg.Admission.Admit(ctx, &admission.Request{
		Operation: operation, Resource: op.res, Subresource: op.subresource, Namespace: op.namespace, Name: name,
		Object: obj, OldObject: old, User: op.user, DryRun: op.dryRun, Options: options,
	})
}

// validateMeta checks metadata common to every kind.
func validateMeta(res *registry.Resource, m metav1.Object) field.ErrorList {
	nameFn := apivalidation.NameIsDNSSubdomain
	if res.Strategy.NameFunc != nil {
		nameFn = res.Strategy.NameFunc
	}
	errs := apivalidation.ValidateObjectMetaAccessor(m, res.Namespaced, apivalidation.ValidateNameFunc(nameFn), field.NewPath("metadata"))
	return errs
}

// prepareUpdate turns the object a client sent (or a patch produced) into the object
// to store over old. For the status subresource only the status is taken from obj.
func (s *Server) prepareUpdate(ctx context.Context, op *writeOp, obj, old runtime.Object) (runtime.Object, error) {
	res := op.res
	nm, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	om, _ := meta.Accessor(old)
	if rv := nm.GetResourceVersion(); rv != "" && rv != om.GetResourceVersion() {
		return nil, apierrors.NewConflict(op.served.GroupResource(), om.GetName(),
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	extra := res.Subresources[op.subresource]
	if extra != nil {
		next := old.DeepCopyObject()
		if extra.Take != nil {
			extra.Take(next, obj)
		} else {
			registry.CopyStatus(next, obj)
		}
		obj = next
		nm, _ = meta.Accessor(obj)
		if extra.Prepare != nil {
			extra.Prepare(ctx, obj, old)
		}
	} else if op.subresource == "status" {
		// The old object with the new status. old is this request's own copy
		// and is only read from here on, so next may share its parts.
		next := shallowCopy(old)
		registry.CopyStatus(next, obj)
		obj = next
		nm, _ = meta.Accessor(obj)
		if res.Strategy.PrepareForStatusUpdate != nil {
			res.Strategy.PrepareForStatusUpdate(ctx, obj, old)
		}
		if res.Strategy.Default != nil {
			res.Strategy.Default(obj)
		}
	} else {
		if nm.GetUID() == "" {
			nm.SetUID(om.GetUID())
		}
		nm.SetCreationTimestamp(om.GetCreationTimestamp())
		nm.SetDeletionTimestamp(om.GetDeletionTimestamp())
		nm.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
		nm.SetGeneration(om.GetGeneration())
		nm.SetSelfLink("")
		if nm.GetManagedFields() == nil {
			nm.SetManagedFields(om.GetManagedFields())
		}
		if res.Namespaced && nm.GetNamespace() == "" {
			nm.SetNamespace(om.GetNamespace())
		}
		if res.Status {
			registry.CopyStatus(obj, old)
		}
		if res.Strategy.Default != nil {
			res.Strategy.Default(obj)
		}
		if res.Strategy.PrepareForUpdate != nil {
			res.Strategy.PrepareForUpdate(ctx, obj, old)
		}
		if res.Generation && specChanged(obj, old, res.Strategy.SpecFields) {
			nm.SetGeneration(om.GetGeneration() + 1)
		}
	}
	nm.SetResourceVersion(om.GetResourceVersion())
	if err := s.admit(ctx, op, "UPDATE", obj, old, nil); err != nil {
		return nil, err
	}
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(nm, om, field.NewPath("metadata"))
	errs = append(errs, validateMeta(res, nm)...)
	if om.GetDeletionTimestamp() != nil {
		errs = append(errs, apivalidation.ValidateNoNewFinalizers(nm.GetFinalizers(), om.GetFinalizers(), field.NewPath("metadata", "finalizers"))...)
	}
	if extra != nil {
		if extra.Validate != nil {
			errs = append(errs, extra.Validate(ctx, obj, old)...)
		}
	} else if op.subresource == "status" {
		if res.Strategy.ValidateStatusUpdate != nil {
			errs = append(errs, res.Strategy.ValidateStatusUpdate(ctx, obj, old)...)
		}
	} else {
		if res.Strategy.Validate != nil {
			errs = append(errs, res.Strategy.Validate(ctx, obj)...)
		}
		if res.Strategy.ValidateUpdate != nil {
			errs = append(errs, res.Strategy.ValidateUpdate(ctx, obj, old)...)
		}
	}
	if len(errs) > 0 {
		return nil, invalid(op.served, nm.GetName(), dedupe(errs))
	}
	return obj, nil
}

func dedupe(errs field.ErrorList) field.ErrorList {
	var out field.ErrorList
	seen := map[string]bool{}
	for _, e := range errs {
		k := e.Error()
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// specChanged compares every top-level field except metadata and status (or just
// the named JSON fields).
func specChanged(obj, old runtime.Object, only []string) bool {
	a, b := reflect.ValueOf(obj).Elem(), reflect.ValueOf(old).Elem()
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		switch f.Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if only != nil {
			name := jsonName(f)
			if !slices.Contains(only, name) {
				continue
			}
		}
		if !equality.Semantic.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			return true
		}
	}
	return false
}

func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	for i := 0; i < len(tag); i++ {
		if tag[i] == ',' {
			return tag[:i]
		}
	}
	return tag
}

// deleteResult is what a delete did.
type deleteResult struct {
	obj     runtime.Object // the stored object, as deleted or as marked
	deleted bool           // gone now (else marked for deletion)
}

const (
	finalizerOrphan     = metav1.FinalizerOrphanDependents
	finalizerForeground = metav1.FinalizerDeleteDependents
)

// deleteObject deletes one object, or marks it deleted when finalizers or a grace
// period must run first.
func (s *Server) deleteObject(ctx context.Context, op *writeOp, store *storage.Resource, opts *metav1.DeleteOptions) (*deleteResult, error) {
	res := op.res
	policy, err := propagationPolicy(opts)
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 100; attempt++ {
		cur, err := store.Get(ctx, op.namespace, op.name, "")
		if err != nil {
			return nil, err
		}
		curObj := cur.Obj
		cm, _ := meta.Accessor(curObj)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != cm.GetUID() {
				return nil, apierrors.NewConflict(op.served.GroupResource(), op.name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, cm.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != cm.GetResourceVersion() {
				return nil, apierrors.NewConflict(op.served.GroupResource(), op.name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, cm.GetResourceVersion()))
			}
		}
		if err := s.admit(ctx, op, "DELETE", nil, curObj, opts); err != nil {
			return nil, err
		}
		var grace int64
		if res.GracefulDelete != nil {
			grace = res.GracefulDelete(curObj, opts.GracePeriodSeconds)
		}
		finalizers := slices.Clone(cm.GetFinalizers())
		switch policy {
		case metav1.DeletePropagationOrphan:
			finalizers = addFinalizer(removeFinalizer(finalizers, finalizerForeground), finalizerOrphan)
		case metav1.DeletePropagationForeground:
			finalizers = addFinalizer(removeFinalizer(finalizers, finalizerOrphan), finalizerForeground)
		}
		pending := len(finalizers) > 0 || (res.Strategy.Finalized != nil && !res.Strategy.Finalized(curObj))
		if !pending && grace == 0 {
			if op.dryRun {
				return &deleteResult{obj: curObj, deleted: true}, nil
			}
			gone, err := store.Delete(ctx, op.namespace, op.name, func(c runtime.Object) error {
				m, _ := meta.Accessor(c)
				if m.GetResourceVersion() != cm.GetResourceVersion() {
					return errRetry
				}
				return nil
			})
			if err == errRetry {
				continue
			}
			if err != nil {
				return nil, err
			}
			if res.Release != nil {
				res.Release(ctx, gone.Obj)
			}
			return &deleteResult{obj: gone.Obj, deleted: true}, nil
		}
		// Mark: set deletionTimestamp (once; a shorter grace period may shorten it).
		next := curObj.DeepCopyObject()
		nm, _ := meta.Accessor(next)
		nm.SetFinalizers(finalizers)
		t := time.Now().Truncate(time.Second)
		if dt := cm.GetDeletionTimestamp(); dt == nil {
			ts := metav1.NewTime(t.Add(time.Duration(grace) * time.Second))
			nm.SetDeletionTimestamp(&ts)
			if res.GracefulDelete != nil {
				nm.SetDeletionGracePeriodSeconds(&grace)
			} else {
				zero := int64(0)
				nm.SetDeletionGracePeriodSeconds(&zero)
			}
		} else if old := cm.GetDeletionGracePeriodSeconds(); old != nil && grace < *old {
			ts := metav1.NewTime(t.Add(time.Duration(grace) * time.Second))
			if ts.Before(dt) {
				nm.SetDeletionTimestamp(&ts)
			}
			nm.SetDeletionGracePeriodSeconds(&grace)
		}
		if res.Strategy.PrepareForDelete != nil {
			res.Strategy.PrepareForDelete(ctx, next)
		}
		if op.dryRun {
			return &deleteResult{obj: next}, nil
		}
		updated, _, err := store.Update(ctx, op.namespace, op.name, false, func(c runtime.Object) (runtime.Object, error) {
			m, _ := meta.Accessor(c)
			if m.GetResourceVersion() != cm.GetResourceVersion() {
				return nil, errRetry
			}
			return next.DeepCopyObject(), nil
		})
		if err == errRetry {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &deleteResult{obj: updated.Obj}, nil
	}
	return nil, apierrors.NewConflict(op.served.GroupResource(), op.name, fmt.Errorf("the object kept changing while it was being deleted"))
}

// errRetry makes a storage callback start over with the latest object.
var errRetry = fmt.Errorf("retry")

func propagationPolicy(opts *metav1.DeleteOptions) (metav1.DeletionPropagation, error) {
	if opts.OrphanDependents != nil && opts.PropagationPolicy != nil {
		return "", apierrors.NewInvalid(k8sschema.GroupKind{Kind: "DeleteOptions"}, "", field.ErrorList{field.Invalid(field.NewPath("propagationPolicy"), *opts.PropagationPolicy, "orphanDependents and propagationPolicy cannot both be set")})
	}
	if opts.OrphanDependents != nil {
		if *opts.OrphanDependents {
			return metav1.DeletePropagationOrphan, nil
		}
		return metav1.DeletePropagationBackground, nil
	}
	if opts.PropagationPolicy == nil {
		return metav1.DeletePropagationBackground, nil
	}
	switch p := *opts.PropagationPolicy; p {
	case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		return p, nil
	default:
		return "", apierrors.NewInvalid(k8sschema.GroupKind{Kind: "DeleteOptions"}, "", field.ErrorList{field.NotSupported(field.NewPath("propagationPolicy"), p, []string{"Orphan", "Background", "Foreground"})})
	}
}

func addFinalizer(list []string, f string) []string {
	if slices.Contains(list, f) {
		return list
	}
	return append(list, f)
}

func removeFinalizer(list []string, f string) []string {
	return slices.DeleteFunc(list, func(s string) bool { return s == f })
}

// finishIfDone deletes an object whose deletion was pending once nothing holds it
// any more (the last finalizer was removed by an update).
func (s *Server) finishIfDone(ctx context.Context, op *writeOp, store *storage.Resource, o *storage.Object) {
	m, err := meta.Accessor(o.Obj)
	if err != nil || m.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 {
		return
	}
	if g := m.GetDeletionGracePeriodSeconds(); g != nil && *g > 0 {
		return
	}
	if f := op.res.Strategy.Finalized; f != nil && !f(o.Obj) {
		return
	}
	uid := m.GetUID()
	gone, err := store.Delete(ctx, op.namespace, m.GetName(), func(c runtime.Object) error {
		cm, _ := meta.Accessor(c)
		if cm.GetUID() != uid || len(cm.GetFinalizers()) > 0 {
			return apierrors.NewConflict(op.served.GroupResource(), m.GetName(), fmt.Errorf("changed"))
		}
		return nil
	})
	if err == nil && op.res.Release != nil {
		op.res.Release(ctx, gone.Obj)
	}
}

// okStatus is the Status a completed delete answers with.
func okStatus(res *registry.Resource, obj runtime.Object) *metav1.Status {
	m, _ := meta.Accessor(obj)
	var uid types.UID
	var name string
	if m != nil {
		uid, name = m.GetUID(), m.GetName()
	}
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Details:  &metav1.StatusDetails{Name: name, Group: res.Group, Kind: res.Resource, UID: uid},
	}
}

// Package registry describes every API resource tug serves: its names, how its objects
// are defaulted and validated, which parts a write may change, and how it prints as a
// table. The API server (internal/apiserver) is generic; everything that differs from
// one kind to another lives here, one file per kind.
package registry

import (
	"context"
	"reflect"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
)

// Scheme knows every type tug serves.
var Scheme = scheme.Scheme

func init() {
	// Clients may send options as meta.k8s.io/v1 as well as in a resource's group.
	Scheme.AddKnownTypes(metav1.SchemeGroupVersion, &metav1.DeleteOptions{}, &metav1.CreateOptions{}, &metav1.UpdateOptions{}, &metav1.PatchOptions{})
}

// Resource describes one resource of one group version, as served.
type Resource struct {
	Group    string
	Version  string
	Resource string // plural, lower case: "deployments"
	Kind     string
	// ListKind defaults to Kind+"List"; Singular to the lower-case kind.
	ListKind   string
	Singular   string
	Namespaced bool
	ShortNames []string
	Categories []string

	// New and NewList make empty objects of the served version.
	New     func() runtime.Object
	NewList func() runtime.Object

	// StoredAs, when set, names another Resource whose storage this one shares
	// (events.k8s.io/v1 events are stored as core/v1 events). ToStored and FromStored
	// convert between the two versions.
	StoredAs   *Resource
	ToStored   func(obj runtime.Object) (runtime.Object, error)
	FromStored func(obj runtime.Object) (runtime.Object, error)

	// Verbs the resource allows; nil means all the usual ones.
	Verbs []string
	// Create, for resources that are not stored (access reviews), answers a create.
	Create func(ctx context.Context, obj runtime.Object) (runtime.Object, error)

	Strategy Strategy

	// Status: the resource has a status subresource; writes to the main resource
	// keep the stored status and writes to /status keep everything else.
	Status bool
	// Subresources are further status-like subresources (a CSR's approval): a write
	// to one starts from the stored object, takes the status (or what its Take
	// says) from the request, then runs the subresource's Prepare and Validate.
	Subresources map[string]*SubresourceRules
	// Scale, when set, serves the scale subresource.
	Scale *ScaleRules
	// Generation: metadata.generation counts changes to the desired state.
	Generation bool
	// AllowCreateOnUpdate lets PUT create a missing object.
	AllowCreateOnUpdate bool
	// GracefulDelete returns how long a delete waits before the object is removed
	// (pods wait for their node agent); nil means immediately.
	GracefulDelete func(obj runtime.Object, requested *int64) int64

	// Allocate, when set, reserves what an object needs from a shared pool before
	// it is stored (service cluster IPs, node ports). old is nil on create. It
	// returns a function that gives the reservation back if the write then fails.
	// With dryRun it must reserve nothing lasting.
	Allocate func(ctx context.Context, obj, old runtime.Object, dryRun bool) (release func(), err error)
	// Release gives back what a deleted object held.
	Release func(ctx context.Context, obj runtime.Object)

	// Fields are the field-selector fields besides metadata.name and metadata.namespace.
	Fields func(obj runtime.Object) fields.Set
	// TTL gives objects a lifetime in seconds (events).
	TTL func(obj runtime.Object) int64

	// Columns and Row print the resource as a table (kubectl get). Without them the
	// table has Name and Created At.
	Columns []metav1.TableColumnDefinition
	Row     func(obj runtime.Object) []interface{}
}

// SubresourceRules are the write rules of a status-like subresource.
type SubresourceRules struct {
	// Take copies what a write to the subresource changes from the request
	// onto a copy of the stored object; nil means the status.
	Take     func(obj, req runtime.Object)
	Prepare  func(ctx context.Context, obj, old runtime.Object)
	Validate func(ctx context.Context, obj, old runtime.Object) field.ErrorList
}

// ScaleRules reads and writes the replica count behind a scale subresource.
type ScaleRules struct {
	// Get returns spec replicas, status replicas and the label selector as a string.
	Get func(obj runtime.Object) (specReplicas, statusReplicas int32, selector string)
	Set func(obj runtime.Object, replicas int32)
}

// Strategy holds the kind-specific rules of writes. Every field is optional.
type Strategy struct {
	// Default fills in defaults, as Kubernetes does when it decodes an object. It
	// runs on every create and update, so it must be idempotent.
	Default func(obj runtime.Object)
	// PrepareForCreate clears or sets what the server owns on create (after the
	// generic handling of metadata and status).
	PrepareForCreate func(ctx context.Context, obj runtime.Object)
	// PrepareForUpdate adjusts a main-resource update given the stored object.
	PrepareForUpdate func(ctx context.Context, obj, old runtime.Object)
	// PrepareForStatusUpdate adjusts a status update given the stored object.
	PrepareForStatusUpdate func(ctx context.Context, obj, old runtime.Object)
	// Validate checks a new object. Metadata is checked generically before it.
	Validate func(ctx context.Context, obj runtime.Object) field.ErrorList
	// ValidateCreate adds checks that apply only when an object is created.
	ValidateCreate func(ctx context.Context, obj runtime.Object) field.ErrorList
	// ValidateUpdate checks an update (main resource) against the stored object.
	ValidateUpdate func(ctx context.Context, obj, old runtime.Object) field.ErrorList
	// ValidateStatusUpdate checks a status update against the stored object.
	ValidateStatusUpdate func(ctx context.Context, obj, old runtime.Object) field.ErrorList
	// PrepareForDelete adjusts an object being marked for deletion (namespaces
	// become Terminating).
	PrepareForDelete func(ctx context.Context, obj runtime.Object)
	// Finalized reports whether kind-specific finalization is done (a namespace's
	// spec.finalizers); nil means there is none.
	Finalized func(obj runtime.Object) bool
	// StatusOnCreate keeps the status a client sends on create (nodes).
	StatusOnCreate bool
	// NameFunc validates metadata.name; nil means an RFC 1123 subdomain.
	NameFunc func(name string, prefix bool) []string
	// SpecFields lists the top-level JSON fields whose change bumps generation;
	// nil means every field except metadata and status.
	SpecFields []string
}

// GVR is the resource's group, version and resource.
func (r *Resource) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
}

// GVK is the resource's group, version and kind.
func (r *Resource) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// GroupResource is how errors name the resource ("deployments.apps").
func (r *Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.Group, Resource: r.Resource}
}

// Stored is the resource that owns the storage of this one (itself, usually).
func (r *Resource) Stored() *Resource {
	if r.StoredAs != nil {
		return r.StoredAs
	}
	return r
}

// AllVerbs is what a stored resource allows by default.
var AllVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// HasVerb reports whether the resource allows verb.
func (r *Resource) HasVerb(verb string) bool {
	for _, v := range r.verbs() {
		if v == verb {
			return true
		}
	}
	return false
}

func (r *Resource) verbs() []string {
	if r.Verbs != nil {
		return r.Verbs
	}
	return AllVerbs
}

// AllowedVerbs lists the verbs, sorted, for discovery.
func (r *Resource) AllowedVerbs() []string {
	v := append([]string(nil), r.verbs()...)
	sort.Strings(v)
	return v
}

// Set is every resource tug serves, indexed for the API server.
type Set struct {
	All     []*Resource
	byGVR   map[schema.GroupVersionResource]*Resource
	byGVK   map[schema.GroupVersionKind]*Resource
	Groups  []Group // in discovery order
	Version string  // not used; see apiserver
}

// Group is an API group and its versions, preferred first.
type Group struct {
	Name     string
	Versions []string
}

// NewSet indexes resources. Groups appear in the order their first resource does.
func NewSet(resources []*Resource) *Set {
	s := &Set{byGVR: map[schema.GroupVersionResource]*Resource{}, byGVK: map[schema.GroupVersionKind]*Resource{}}
	groupIdx := map[string]int{}
	for _, r := range resources {
		if r.ListKind == "" {
			r.ListKind = r.Kind + "List"
		}
		if r.Singular == "" {
			r.Singular = strings.ToLower(r.Kind)
		}
		s.All = append(s.All, r)
		s.byGVR[r.GVR()] = r
		if _, ok := s.byGVK[r.GVK()]; !ok {
			s.byGVK[r.GVK()] = r
		}
		i, ok := groupIdx[r.Group]
		if !ok {
			i = len(s.Groups)
			groupIdx[r.Group] = i
			s.Groups = append(s.Groups, Group{Name: r.Group})
		}
		found := false
		for _, v := range s.Groups[i].Versions {
			if v == r.Version {
				found = true
			}
		}
		if !found {
			s.Groups[i].Versions = append(s.Groups[i].Versions, r.Version)
		}
	}
	return s
}

// Lookup finds a resource by group, version and plural name.
func (s *Set) Lookup(gvr schema.GroupVersionResource) *Resource { return s.byGVR[gvr] }

// ByKind finds the resource that serves a kind.
func (s *Set) ByKind(gvk schema.GroupVersionKind) *Resource { return s.byGVK[gvk] }

// InGroupVersion lists the resources of one group version.
func (s *Set) InGroupVersion(group, version string) []*Resource {
	var out []*Resource
	for _, r := range s.All {
		if r.Group == group && r.Version == version {
			out = append(out, r)
		}
	}
	return out
}

// statusField finds the Status field of an API object struct, if any.
func statusField(obj runtime.Object) (reflect.Value, bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	f := v.Elem().FieldByName("Status")
	if !f.IsValid() || !f.CanSet() {
		return reflect.Value{}, false
	}
	return f, true
}

// ClearStatus resets an object's status to its zero value.
func ClearStatus(obj runtime.Object) {
	if f, ok := statusField(obj); ok {
		f.Set(reflect.Zero(f.Type()))
	}
}

// CopyStatus copies the status of from into to (same type).
func CopyStatus(to, from runtime.Object) {
	t, ok1 := statusField(to)
	f, ok2 := statusField(from)
	if ok1 && ok2 && t.Type() == f.Type() {
		t.Set(f)
	}
}

package registry

import (
	"context"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "apps", Version: "v1", Resource: "controllerrevisions", Kind: "ControllerRevision", Namespaced: true,
		New:     func() runtime.Object { return &appsv1.ControllerRevision{} },
		NewList: func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		Strategy: Strategy{
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				cr := obj.(*appsv1.ControllerRevision)
				var errs field.ErrorList
				if cr.Data.Raw == nil && cr.Data.Object == nil {
					errs = append(errs, field.Required(field.NewPath("data"), ""))
				}
				return append(errs, apivalidation.ValidateNonnegativeField(cr.Revision, field.NewPath("revision"))...)
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision)
				return extImmutable(n.Data, o.Data, field.NewPath("data"))
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("controller revision"),
			{Name: "Controller", Type: "string", Description: "The controller that owns the revision (kind.group/name)."},
			{Name: "Revision", Type: "integer", Description: "Revision number of the state it records."},
			extAgeColumn("controller revision"),
		},
		Row: func(obj runtime.Object) []interface{} {
			cr := obj.(*appsv1.ControllerRevision)
			return []interface{}{cr.Name, extControllerOf(cr), cr.Revision, Age(cr.CreationTimestamp)}
		},
	})
}

// extControllerOf prints an object's controlling owner as "kind.group/name".
func extControllerOf(obj metav1.Object) string {
	ref := metav1.GetControllerOf(obj)
	if ref == nil {
		return "<none>"
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return ref.Name
	}
	return strings.ToLower(schema.GroupKind{Group: gv.Group, Kind: ref.Kind}.String()) + "/" + ref.Name
}

package registry

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NamespaceNameLabel is set on every namespace to its own name (for selectors).
const NamespaceNameLabel = "kubernetes.io/metadata.name"

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "namespaces", Kind: "Namespace",
		ShortNames: []string{"ns"},
		New:        func() runtime.Object { return &corev1.Namespace{} },
		NewList:    func() runtime.Object { return &corev1.NamespaceList{} },
		Status:     true,
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
		},
		Strategy: Strategy{
			NameFunc: apivalidation.NameIsDNSLabel,
			Default: func(obj runtime.Object) {
				ns := obj.(*corev1.Namespace)
				if ns.Name != "" {
					if ns.Labels == nil {
						ns.Labels = map[string]string{}
					}
					ns.Labels[NamespaceNameLabel] = ns.Name
				}
				if ns.Status.Phase == "" {
					ns.Status.Phase = corev1.NamespaceActive
				}
			},
			PrepareForCreate: func(_ context.Context, obj runtime.Object) {
				ns := obj.(*corev1.Namespace)
				ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
				if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
					ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
				}
			},
			PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
				// spec.finalizers change only through the finalize subresource.
				obj.(*corev1.Namespace).Spec.Finalizers = old.(*corev1.Namespace).Spec.Finalizers
			},
			PrepareForDelete: func(_ context.Context, obj runtime.Object) {
				obj.(*corev1.Namespace).Status.Phase = corev1.NamespaceTerminating
			},
			Finalized: func(obj runtime.Object) bool {
				return len(obj.(*corev1.Namespace).Spec.Finalizers) == 0
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				ns := obj.(*corev1.Namespace)
				var errs field.ErrorList
				for i, f := range ns.Spec.Finalizers {
					p := field.NewPath("spec", "finalizers").Index(i)
					if f != corev1.FinalizerKubernetes {
						for _, msg := range validation.IsQualifiedName(string(f)) {
							errs = append(errs, field.Invalid(p, f, msg))
						}
						if !containsSlash(string(f)) {
							errs = append(errs, field.Invalid(p, f, "name is neither a standard finalizer name nor is it fully qualified"))
						}
					}
				}
				return errs
			},
			ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*corev1.Namespace), old.(*corev1.Namespace)
				if o.DeletionTimestamp != nil && n.Status.Phase != corev1.NamespaceTerminating {
					return field.ErrorList{field.Invalid(field.NewPath("status", "phase"), n.Status.Phase, "a namespace being deleted must stay Terminating")}
				}
				return nil
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the namespace."},
			{Name: "Status", Type: "string", Description: "Active, or Terminating while its content is being deleted."},
			{Name: "Age", Type: "string", Description: "Time since the namespace was created."},
		},
		Row: func(obj runtime.Object) []interface{} {
			ns := obj.(*corev1.Namespace)
			return []interface{}{ns.Name, string(ns.Status.Phase), Age(ns.CreationTimestamp)}
		},
	})
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

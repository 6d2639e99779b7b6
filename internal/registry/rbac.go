package registry

import (
	"context"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RBAC names only need to be valid path segments ("system:basic-user").
func rbacName(name string, prefix bool) []string { return path.IsValidPathSegmentName(name) }

func init() {
	roleColumns := []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "Name of the role."},
		{Name: "Created At", Type: "date", Description: "When the role was created."},
	}
	roleRow := func(obj runtime.Object) []interface{} {
		m, _ := metaOf(obj)
		return []interface{}{m.Name, m.CreationTimestamp.UTC().Format(time.RFC3339)}
	}
	bindingColumns := []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "Name of the binding."},
		{Name: "Role", Type: "string", Description: "The role the binding grants (Kind/name)."},
		{Name: "Age", Type: "string", Description: "Time since the binding was created."},
		{Name: "Users", Type: "string", Priority: 1, Description: "Users the binding applies to."},
		{Name: "Groups", Type: "string", Priority: 1, Description: "Groups the binding applies to."},
		{Name: "ServiceAccounts", Type: "string", Priority: 1, Description: "Service accounts (namespace/name) the binding applies to."},
	}
	register(
		&Resource{
			Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles", Kind: "Role", Namespaced: true,
			New:     func() runtime.Object { return &rbacv1.Role{} },
			NewList: func() runtime.Object { return &rbacv1.RoleList{} },
			Strategy: Strategy{NameFunc: rbacName, Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateRules(obj.(*rbacv1.Role).Rules, true)
			}},
			Columns: roleColumns, Row: roleRow,
		},
		&Resource{
			Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles", Kind: "ClusterRole",
			New:     func() runtime.Object { return &rbacv1.ClusterRole{} },
			NewList: func() runtime.Object { return &rbacv1.ClusterRoleList{} },
			Strategy: Strategy{NameFunc: rbacName, Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				cr := obj.(*rbacv1.ClusterRole)
				errs := validateRules(cr.Rules, false)
				if ar := cr.AggregationRule; ar != nil {
					p := field.NewPath("aggregationRule", "clusterRoleSelectors")
					if len(ar.ClusterRoleSelectors) == 0 {
						errs = append(errs, field.Required(p, "at least one clusterRoleSelector is required if aggregationRule is non-nil"))
					}
					for i := range ar.ClusterRoleSelectors {
						errs = append(errs, metav1validation.ValidateLabelSelector(&ar.ClusterRoleSelectors[i], metav1validation.LabelSelectorValidationOptions{}, p.Index(i))...)
					}
				}
				return errs
			}},
			Columns: roleColumns, Row: roleRow,
		},
		&Resource{
			Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings", Kind: "RoleBinding", Namespaced: true,
			New:     func() runtime.Object { return &rbacv1.RoleBinding{} },
			NewList: func() runtime.Object { return &rbacv1.RoleBindingList{} },
			Strategy: Strategy{
				NameFunc: rbacName,
				Default:  func(obj runtime.Object) { defaultSubjects(obj.(*rbacv1.RoleBinding).Subjects) },
				Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
					b := obj.(*rbacv1.RoleBinding)
					return append(validateRoleRef(b.RoleRef, true), validateSubjects(b.Subjects, true)...)
				},
				ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
					return immutableRoleRef(obj.(*rbacv1.RoleBinding).RoleRef, old.(*rbacv1.RoleBinding).RoleRef)
				},
			},
			Columns: bindingColumns,
			Row: func(obj runtime.Object) []interface{} {
				b := obj.(*rbacv1.RoleBinding)
				return bindingRow(b.ObjectMeta, b.RoleRef, b.Subjects)
			},
		},
		&Resource{
			Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings", Kind: "ClusterRoleBinding",
			New:     func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
			NewList: func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
			Strategy: Strategy{
				NameFunc: rbacName,
				Default:  func(obj runtime.Object) { defaultSubjects(obj.(*rbacv1.ClusterRoleBinding).Subjects) },
				Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
					b := obj.(*rbacv1.ClusterRoleBinding)
					return append(validateRoleRef(b.RoleRef, false), validateSubjects(b.Subjects, false)...)
				},
				ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
					return immutableRoleRef(obj.(*rbacv1.ClusterRoleBinding).RoleRef, old.(*rbacv1.ClusterRoleBinding).RoleRef)
				},
			},
			Columns: bindingColumns,
			Row: func(obj runtime.Object) []interface{} {
				b := obj.(*rbacv1.ClusterRoleBinding)
				return bindingRow(b.ObjectMeta, b.RoleRef, b.Subjects)
			},
		},
	)
}

func metaOf(obj runtime.Object) (*metav1.ObjectMeta, bool) {
	type accessor interface{ GetObjectMeta() metav1.Object }
	if a, ok := obj.(accessor); ok {
		m, ok := a.GetObjectMeta().(*metav1.ObjectMeta)
		return m, ok
	}
	return &metav1.ObjectMeta{}, false
}

func validateRules(rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		p := field.NewPath("rules").Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			for j, u := range r.NonResourceURLs {
				if !strings.HasPrefix(u, "/") && u != "*" {
					errs = append(errs, field.Invalid(p.Child("nonResourceURLs").Index(j), u, "must start with / (or be *)"))
				}
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

func validateRoleRef(ref rbacv1.RoleRef, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(p.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := []string{"ClusterRole"}
	if namespaced {
		kinds = []string{"Role", "ClusterRole"}
	}
	ok := false
	for _, k := range kinds {
		ok = ok || ref.Kind == k
	}
	if !ok {
		errs = append(errs, field.NotSupported(p.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range path.IsValidPathSegmentName(ref.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), ref.Name, msg))
		}
	}
	return errs
}

func immutableRoleRef(n, o rbacv1.RoleRef) field.ErrorList {
	if n != o {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), n, "cannot change roleRef")}
	}
	return nil
}

func defaultSubjects(subjects []rbacv1.Subject) {
	for i := range subjects {
		s := &subjects[i]
		if s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

func validateSubjects(subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, s := range subjects {
		p := field.NewPath("subjects").Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			if s.APIGroup != "" {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			if s.Namespace == "" && !namespaced {
				errs = append(errs, field.Required(p.Child("namespace"), "a service account subject of a cluster role binding needs a namespace"))
			}
		case rbacv1.UserKind, rbacv1.GroupKind:
			if s.APIGroup != rbacv1.GroupName {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
		}
	}
	return errs
}

func bindingRow(m metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject) []interface{} {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []interface{}{m.Name, ref.Kind + "/" + ref.Name, Age(m.CreationTimestamp), strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

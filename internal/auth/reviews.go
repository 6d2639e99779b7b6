package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"tug/internal/registry"
)

// RuleLister lists what a user may do in a namespace (for SelfSubjectRulesReview
// and for checking that a user holds the permissions it grants others).
type RuleLister interface {
	RulesFor(ctx context.Context, u *User, namespace string) ([]rbacv1.PolicyRule, error)
}

// RulesFor implements RuleLister: members of system:masters may do everything;
// others get what the next authorizer lists.
func (m MastersAuthorizer) RulesFor(ctx context.Context, u *User, namespace string) ([]rbacv1.PolicyRule, error) {
	if u.InGroup(GroupMasters) {
		return []rbacv1.PolicyRule{rule("*", "*", "*"), pathRule("*", "*")}, nil
	}
	if l, ok := m.Next.(RuleLister); ok {
		return l.RulesFor(ctx, u, namespace)
	}
	return nil, errors.New("the authorizer cannot list rules")
}

// ReviewResources are the access and identity reviews, answered by a: they store
// nothing, a create returns the question with its answer.
func ReviewResources(a Authorizer) []*registry.Resource {
	virtual := func(group, resource, kind string, namespaced bool, newObj func() runtime.Object, create func(context.Context, runtime.Object) (runtime.Object, error)) *registry.Resource {
		return &registry.Resource{
			Group: group, Version: "v1", Resource: resource, Kind: kind, Namespaced: namespaced,
			New: newObj, Verbs: []string{"create"}, Create: create,
		}
	}
	authz, authn := authzv1.GroupName, authnv1.GroupName
	return []*registry.Resource{
		virtual(authz, "selfsubjectaccessreviews", "SelfSubjectAccessReview", false,
			func() runtime.Object { return &authzv1.SelfSubjectAccessReview{} },
			func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
				return selfAccessReview(ctx, a, obj.(*authzv1.SelfSubjectAccessReview))
			}),
		virtual(authz, "subjectaccessreviews", "SubjectAccessReview", false,
			func() runtime.Object { return &authzv1.SubjectAccessReview{} },
			func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
				return accessReview(ctx, a, obj.(*authzv1.SubjectAccessReview))
			}),
		virtual(authz, "localsubjectaccessreviews", "LocalSubjectAccessReview", true,
			func() runtime.Object { return &authzv1.LocalSubjectAccessReview{} },
			func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
				return localAccessReview(ctx, a, obj.(*authzv1.LocalSubjectAccessReview))
			}),
		virtual(authz, "selfsubjectrulesreviews", "SelfSubjectRulesReview", false,
			func() runtime.Object { return &authzv1.SelfSubjectRulesReview{} },
			func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
				return rulesReview(ctx, a, obj.(*authzv1.SelfSubjectRulesReview))
			}),
		virtual(authn, "selfsubjectreviews", "SelfSubjectReview", false,
			func() runtime.Object { return &authnv1.SelfSubjectReview{} },
			func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
				return whoAmI(ctx, obj.(*authnv1.SelfSubjectReview))
			}),
	}
}

func requestUser(ctx context.Context) (*User, error) {
	u := UserFrom(ctx)
	if u == nil {
		return nil, apierrors.NewUnauthorized("the request carries no user")
	}
	return u, nil
}

func invalidReview(kind, msg string, path *field.Path, value any) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: authzv1.GroupName, Kind: kind}, "",
		field.ErrorList{field.Invalid(path, value, msg)})
}

// checkAttributes requires exactly one of the two kinds of attributes.
func checkAttributes(kind string, spec *authzv1.SubjectAccessReviewSpec, specPath *field.Path) error {
	if (spec.ResourceAttributes == nil) == (spec.NonResourceAttributes == nil) {
		return invalidReview(kind, "exactly one of resourceAttributes and nonResourceAttributes must be set", specPath.Child("resourceAttributes"), spec.ResourceAttributes)
	}
	return nil
}

// attributesOf turns a review's question into authorizer attributes.
func attributesOf(u *User, ra *authzv1.ResourceAttributes, nra *authzv1.NonResourceAttributes) Attributes {
	if ra != nil {
		return Attributes{User: u, Verb: ra.Verb, IsResource: true, APIGroup: ra.Group, APIVersion: ra.Version,
			Namespace: ra.Namespace, Resource: ra.Resource, Subresource: ra.Subresource, Name: ra.Name}
	}
	return Attributes{User: u, Verb: nra.Verb, Path: nra.Path}
}

func decide(ctx context.Context, a Authorizer, attrs Attributes) authzv1.SubjectAccessReviewStatus {
	d, err := a.Authorize(ctx, attrs)
	st := authzv1.SubjectAccessReviewStatus{Allowed: d.Allowed, Reason: d.Reason}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st
}

func selfAccessReview(ctx context.Context, a Authorizer, r *authzv1.SelfSubjectAccessReview) (runtime.Object, error) {
	u, err := requestUser(ctx)
	if err != nil {
		return nil, err
	}
	spec := authzv1.SubjectAccessReviewSpec{ResourceAttributes: r.Spec.ResourceAttributes, NonResourceAttributes: r.Spec.NonResourceAttributes}
	if err := checkAttributes("SelfSubjectAccessReview", &spec, field.NewPath("spec")); err != nil {
		return nil, err
	}
	r.Status = decide(ctx, a, attributesOf(u, r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes))
	return r, nil
}

// reviewedUser is the user a SubjectAccessReview asks about.
func reviewedUser(kind string, spec *authzv1.SubjectAccessReviewSpec) (*User, error) {
	if spec.User == "" && len(spec.Groups) == 0 {
		return nil, invalidReview(kind, "at least one of user and groups must be set", field.NewPath("spec", "user"), spec.User)
	}
	u := &User{Name: spec.User, UID: spec.UID, Groups: append([]string(nil), spec.Groups...)}
	if len(spec.Extra) > 0 {
		u.Extra = map[string][]string{}
		for k, v := range spec.Extra {
			u.Extra[k] = append([]string(nil), v...)
		}
	}
	return u, nil
}

func accessReview(ctx context.Context, a Authorizer, r *authzv1.SubjectAccessReview) (runtime.Object, error) {
	if err := checkAttributes("SubjectAccessReview", &r.Spec, field.NewPath("spec")); err != nil {
		return nil, err
	}
	u, err := reviewedUser("SubjectAccessReview", &r.Spec)
	if err != nil {
		return nil, err
	}
	r.Status = decide(ctx, a, attributesOf(u, r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes))
	return r, nil
}

func localAccessReview(ctx context.Context, a Authorizer, r *authzv1.LocalSubjectAccessReview) (runtime.Object, error) {
	const kind = "LocalSubjectAccessReview"
	spec := field.NewPath("spec")
	if r.Spec.NonResourceAttributes != nil {
		return nil, invalidReview(kind, "not allowed in a namespaced review", spec.Child("nonResourceAttributes"), r.Spec.NonResourceAttributes)
	}
	if err := checkAttributes(kind, &r.Spec, spec); err != nil {
		return nil, err
	}
	ra := r.Spec.ResourceAttributes
	if ra.Namespace == "" {
		ra.Namespace = r.Namespace
	}
	if ra.Namespace != r.Namespace {
		return nil, invalidReview(kind, fmt.Sprintf("must be the namespace of the review, %q", r.Namespace),
			spec.Child("resourceAttributes", "namespace"), ra.Namespace)
	}
	u, err := reviewedUser(kind, &r.Spec)
	if err != nil {
		return nil, err
	}
	r.Status = decide(ctx, a, attributesOf(u, ra, nil))
	return r, nil
}

func rulesReview(ctx context.Context, a Authorizer, r *authzv1.SelfSubjectRulesReview) (runtime.Object, error) {
	u, err := requestUser(ctx)
	if err != nil {
		return nil, err
	}
	st := authzv1.SubjectRulesReviewStatus{ResourceRules: []authzv1.ResourceRule{}, NonResourceRules: []authzv1.NonResourceRule{}}
	l, ok := a.(RuleLister)
	if !ok {
		st.Incomplete, st.EvaluationError = true, "the authorizer cannot list rules"
		r.Status = st
		return r, nil
	}
	rules, err := l.RulesFor(ctx, u, r.Spec.Namespace)
	if err != nil {
		st.Incomplete, st.EvaluationError = true, err.Error()
	}
	for _, pr := range rules {
		if len(pr.NonResourceURLs) > 0 {
			st.NonResourceRules = append(st.NonResourceRules, authzv1.NonResourceRule{Verbs: pr.Verbs, NonResourceURLs: pr.NonResourceURLs})
		}
		if len(pr.Resources) > 0 {
			st.ResourceRules = append(st.ResourceRules, authzv1.ResourceRule{Verbs: pr.Verbs, APIGroups: pr.APIGroups, Resources: pr.Resources, ResourceNames: pr.ResourceNames})
		}
	}
	r.Status = st
	return r, nil
}

func whoAmI(ctx context.Context, r *authnv1.SelfSubjectReview) (runtime.Object, error) {
	u, err := requestUser(ctx)
	if err != nil {
		return nil, err
	}
	r.Status = authnv1.SelfSubjectReviewStatus{UserInfo: userInfo(u)}
	return r, nil
}

func userInfo(u *User) authnv1.UserInfo {
	info := authnv1.UserInfo{Username: u.Name, UID: u.UID, Groups: append([]string(nil), u.Groups...)}
	if len(u.Extra) > 0 {
		info.Extra = map[string]authnv1.ExtraValue{}
		for k, v := range u.Extra {
			info.Extra[k] = authnv1.ExtraValue(v)
		}
	}
	return info
}

// TokenReviewResource answers authentication.k8s.io/v1 tokenreviews: whether a
// bearer token is valid here, and for whom (delegated authentication).
func TokenReviewResource(authn *Authenticator) *registry.Resource {
	return &registry.Resource{
		Group: authnv1.GroupName, Version: "v1", Resource: "tokenreviews", Kind: "TokenReview",
		New: func() runtime.Object { return &authnv1.TokenReview{} }, Verbs: []string{"create"},
		Create: func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
			tr := obj.(*authnv1.TokenReview)
			if tr.Spec.Token == "" {
				return nil, apierrors.NewInvalid(schema.GroupKind{Group: authnv1.GroupName, Kind: "TokenReview"}, "",
					field.ErrorList{field.Required(field.NewPath("spec", "token"), "")})
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tr.Spec.Token)
			u, err := authn.Authenticate(req)
			tr.Status = authnv1.TokenReviewStatus{Audiences: tr.Spec.Audiences}
			switch {
			case err != nil:
				tr.Status.Error = err.Error()
			case u == nil:
				tr.Status.Error = "the token is not valid"
			default:
				tr.Status.Authenticated = true
				tr.Status.User = userInfo(u)
			}
			return tr, nil
		},
	}
}

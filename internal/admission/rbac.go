package admission

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/auth"
)

// RuleResolver tells what a user holds and what a role grants.
type RuleResolver interface {
	// RulesFor lists the rules u holds in namespace ("" = cluster-wide only).
	RulesFor(ctx context.Context, u *auth.User, namespace string) ([]rbacv1.PolicyRule, error)
	// RoleRules lists the rules of the role a binding in namespace refers to.
	RoleRules(ctx context.Context, namespace string, ref rbacv1.RoleRef) ([]rbacv1.PolicyRule, error)
}

// RBACEscalation stops users from granting more than they have. Writing a Role or
// ClusterRole needs every permission it contains (or the escalate verb on it);
// writing a binding needs every permission of the role it refers to (or the bind
// verb on that role). Members of system:masters are exempt.
type RBACEscalation struct {
	Authorizer auth.Authorizer
	Rules      RuleResolver
}

// Admit implements Plugin.
func (e RBACEscalation) Admit(ctx context.Context, r *Request) error {
	if r.Resource.Group != rbacv1.GroupName || (r.Operation != Create && r.Operation != Update) || r.Subresource != "" {
		return nil
	}
	if r.User == nil || r.User.InGroup(auth.GroupMasters) {
		return nil
	}
	switch obj := r.Object.(type) {
	case *rbacv1.Role:
		if old, ok := r.OldObject.(*rbacv1.Role); ok && reflect.DeepEqual(old.Rules, obj.Rules) {
			return nil
		}
		return e.checkRole(ctx, r, "roles", obj.Namespace, obj.Rules)
	case *rbacv1.ClusterRole:
		if old, ok := r.OldObject.(*rbacv1.ClusterRole); ok && reflect.DeepEqual(old.Rules, obj.Rules) {
			return nil
		}
		return e.checkRole(ctx, r, "clusterroles", "", obj.Rules)
	case *rbacv1.RoleBinding:
		if old, ok := r.OldObject.(*rbacv1.RoleBinding); ok && old.RoleRef == obj.RoleRef && reflect.DeepEqual(old.Subjects, obj.Subjects) {
			return nil
		}
		return e.checkBinding(ctx, r, obj.Namespace, obj.RoleRef)
	case *rbacv1.ClusterRoleBinding:
		if old, ok := r.OldObject.(*rbacv1.ClusterRoleBinding); ok && old.RoleRef == obj.RoleRef && reflect.DeepEqual(old.Subjects, obj.Subjects) {
			return nil
		}
		return e.checkBinding(ctx, r, "", obj.RoleRef)
	}
	return nil
}

// may asks the authorizer whether the user has verb on a role.
func (e RBACEscalation) may(ctx context.Context, u *auth.User, verb, resource, namespace, name string) bool {
	d, err := e.Authorizer.Authorize(ctx, auth.Attributes{User: u, Verb: verb, IsResource: true,
		APIGroup: rbacv1.GroupName, APIVersion: "v1", Resource: resource, Namespace: namespace, Name: name})
	return err == nil && d.Allowed
}

func (e RBACEscalation) checkRole(ctx context.Context, r *Request, resource, namespace string, rules []rbacv1.PolicyRule) error {
	if e.may(ctx, r.User, "escalate", resource, namespace, r.Name) {
		return nil
	}
	return e.covered(ctx, r, namespace, rules, "")
}

func (e RBACEscalation) checkBinding(ctx context.Context, r *Request, namespace string, ref rbacv1.RoleRef) error {
	resource := "clusterroles"
	if ref.Kind == "Role" {
		resource = "roles"
	}
	// A RoleBinding may bind a ClusterRole; the bind permission is then looked
	// for in the binding's namespace too.
	if e.may(ctx, r.User, "bind", resource, namespace, ref.Name) {
		return nil
	}
	rules, err := e.Rules.RoleRules(ctx, namespace, ref)
	if err != nil {
		return forbidden(r, fmt.Sprintf("cannot check the permissions of %s %q, and you may not bind it: %v", ref.Kind, ref.Name, err))
	}
	return e.covered(ctx, r, namespace, rules, fmt.Sprintf(" (through %s %q)", ref.Kind, ref.Name))
}

// covered refuses the write unless the user holds every permission in rules.
func (e RBACEscalation) covered(ctx context.Context, r *Request, namespace string, rules []rbacv1.PolicyRule, via string) error {
	held, heldErr := e.Rules.RulesFor(ctx, r.User, namespace)
	missing := Uncovered(held, rules)
	if len(missing) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "user %q (groups=%q) may not grant permissions it does not hold%s; missing:", r.User.Name, r.User.Groups, via)
	for _, m := range missing {
		b.WriteString("\n" + describeRule(m))
	}
	if heldErr != nil {
		fmt.Fprintf(&b, "\n(some of the user's own permissions could not be read: %v)", heldErr)
	}
	return forbidden(r, b.String())
}

func forbidden(r *Request, msg string) error {
	return apierrors.NewForbidden(schema.GroupResource{Group: r.Resource.Group, Resource: r.Resource.Resource}, r.Name, fmt.Errorf("%s", msg))
}

// describeRule prints a rule compactly: {APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}.
func describeRule(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, vals []string) {
		if len(vals) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, vals))
		}
	}
	if len(r.NonResourceURLs) == 0 {
		parts = append(parts, fmt.Sprintf("APIGroups:%q", r.APIGroups))
	}
	add("Resources", r.Resources)
	add("ResourceNames", r.ResourceNames)
	add("NonResourceURLs", r.NonResourceURLs)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}

// Uncovered lists the parts of want that no rule in held grants, one permission
// per rule, with the verbs of the same group, resource and name merged.
func Uncovered(held, want []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	index := map[string]int{} // group/resource/name or url -> position in out
	for _, w := range want {
		for _, verb := range w.Verbs {
			for _, url := range w.NonResourceURLs {
				if slices.ContainsFunc(held, func(h rbacv1.PolicyRule) bool { return coversPath(&h, verb, url) }) {
					continue
				}
				key := "path " + url
				if i, ok := index[key]; ok {
					out[i].Verbs = append(out[i].Verbs, verb)
					continue
				}
				index[key] = len(out)
				out = append(out, rbacv1.PolicyRule{Verbs: []string{verb}, NonResourceURLs: []string{url}})
			}
			for _, group := range w.APIGroups {
				for _, res := range w.Resources {
					names := w.ResourceNames
					if len(names) == 0 {
						names = []string{""}
					}
					for _, name := range names {
						if slices.ContainsFunc(held, func(h rbacv1.PolicyRule) bool { return coversResource(&h, verb, group, res, name) }) {
							continue
						}
						key := group + "\x00" + res + "\x00" + name
						if i, ok := index[key]; ok {
							out[i].Verbs = append(out[i].Verbs, verb)
							continue
						}
						index[key] = len(out)
						m := rbacv1.PolicyRule{Verbs: []string{verb}, APIGroups: []string{group}, Resources: []string{res}}
						if name != "" {
							m.ResourceNames = []string{name}
						}
						out = append(out, m)
					}
				}
			}
		}
	}
	return out
}

// has: the list holds want or the wildcard. A wanted wildcard needs a held one.
func has(list []string, want string) bool {
	return slices.Contains(list, rbacv1.VerbAll) || slices.Contains(list, want)
}

func coversResource(h *rbacv1.PolicyRule, verb, group, resource, name string) bool {
	if !has(h.Verbs, verb) || !has(h.APIGroups, group) {
		return false
	}
	if !has(h.Resources, resource) {
		// "*/status" held covers "pods/status" wanted.
		_, sub, isSub := strings.Cut(resource, "/")
		if !isSub || !slices.Contains(h.Resources, "*/"+sub) {
			return false
		}
	}
	if len(h.ResourceNames) == 0 {
		return true
	}
	return name != "" && slices.Contains(h.ResourceNames, name)
}

func coversPath(h *rbacv1.PolicyRule, verb, url string) bool {
	if !has(h.Verbs, verb) {
		return false
	}
	for _, p := range h.NonResourceURLs {
		if p == rbacv1.NonResourceAll || p == url {
			return true
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(url, prefix) {
			return true
		}
	}
	return false
}

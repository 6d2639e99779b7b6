package auth

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// grant is one binding's role as seen by one of its subjects.
type grant struct {
	bindingKind string // RoleBinding or ClusterRoleBinding
	binding     string // name, "namespace/name" for a RoleBinding
	ref         rbacv1.RoleRef
	subject     string // `User "jane"`
	rules       []rbacv1.PolicyRule
	// missing, when set, says why the role could not be found.
	missing string
}

func (g *grant) describe() string {
	return fmt.Sprintf("%s %q of %s %q to %s", g.bindingKind, g.binding, g.ref.Kind, g.ref.Name, g.subject)
}

// rbacIndex maps subjects to the rules bound to them, so that authorizing a request
// looks only at the grants of the requesting user's name and groups.
type rbacIndex struct {
	rev          uint64
	roles        map[string][]rbacv1.PolicyRule // "namespace/name"
	clusterRoles map[string][]rbacv1.PolicyRule
	// cluster holds ClusterRoleBinding grants; namespaced, RoleBinding grants per
	// namespace. Both are keyed by subjectKey.
	cluster    map[string][]*grant
	namespaced map[string]map[string][]*grant
}

// Subject keys: one namespace of names per subject kind.
func userSubjectKey(name string) string          { return "user:" + name }
func groupSubjectKey(name string) string         { return "group:" + name }
func saSubjectKey(namespace, name string) string { return "sa:" + namespace + "/" + name }

// ServiceAccountUser splits "system:serviceaccount:NS:NAME".
func ServiceAccountUser(user string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	return namespace, name, ok && namespace != "" && name != "" && !strings.Contains(name, ":")
}

// subjectKeys lists the keys under which grants to u are filed.
func subjectKeys(u *User) []string {
	if u == nil {
		return nil
	}
	keys := make([]string, 0, len(u.Groups)+2)
	keys = append(keys, userSubjectKey(u.Name))
	if ns, name, ok := ServiceAccountUser(u.Name); ok {
		keys = append(keys, saSubjectKey(ns, name))
	}
	for _, g := range u.Groups {
		keys = append(keys, groupSubjectKey(g))
	}
	return keys
}

// subjectKey files a binding's subject; bindingNS fills in the namespace of a
// service account named without one.
func subjectKey(s rbacv1.Subject, bindingNS string) (key, desc string, ok bool) {
	switch s.Kind {
	case rbacv1.UserKind:
		return userSubjectKey(s.Name), fmt.Sprintf("User %q", s.Name), true
	case rbacv1.GroupKind:
		return groupSubjectKey(s.Name), fmt.Sprintf("Group %q", s.Name), true
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		if ns == "" {
			return "", "", false
		}
		return saSubjectKey(ns, s.Name), fmt.Sprintf("ServiceAccount %q", ns+"/"+s.Name), true
	}
	return "", "", false
}

func buildIndex(rev uint64, objs *RBACObjects) *rbacIndex {
	idx := &rbacIndex{
		rev:          rev,
		roles:        make(map[string][]rbacv1.PolicyRule, len(objs.Roles)),
		clusterRoles: make(map[string][]rbacv1.PolicyRule, len(objs.ClusterRoles)),
		cluster:      map[string][]*grant{},
		namespaced:   map[string]map[string][]*grant{},
	}
	for _, r := range objs.Roles {
		idx.roles[r.Namespace+"/"+r.Name] = r.Rules
	}
	for _, r := range objs.ClusterRoles {
		idx.clusterRoles[r.Name] = r.Rules
	}
	for _, b := range objs.ClusterRoleBindings {
		rules, missing := idx.resolve("", b.RoleRef)
		for _, s := range b.Subjects {
			key, desc, ok := subjectKey(s, "")
			if !ok {
				continue
			}
			idx.cluster[key] = append(idx.cluster[key], &grant{
				bindingKind: "ClusterRoleBinding", binding: b.Name, ref: b.RoleRef, subject: desc, rules: rules, missing: missing,
			})
		}
	}
	for _, b := range objs.RoleBindings {
		rules, missing := idx.resolve(b.Namespace, b.RoleRef)
		byKey := idx.namespaced[b.Namespace]
		if byKey == nil {
			byKey = map[string][]*grant{}
			idx.namespaced[b.Namespace] = byKey
		}
		for _, s := range b.Subjects {
			key, desc, ok := subjectKey(s, b.Namespace)
			if !ok {
				continue
			}
			byKey[key] = append(byKey[key], &grant{
				bindingKind: "RoleBinding", binding: b.Namespace + "/" + b.Name, ref: b.RoleRef, subject: desc, rules: rules, missing: missing,
			})
		}
	}
	return idx
}

// resolve finds the rules of the role ref names, from a binding in namespace.
func (idx *rbacIndex) resolve(namespace string, ref rbacv1.RoleRef) ([]rbacv1.PolicyRule, string) {
	if ref.APIGroup != "" && ref.APIGroup != rbacv1.GroupName {
		return nil, fmt.Sprintf("roleRef.apiGroup %q is not %s", ref.APIGroup, rbacv1.GroupName)
	}
	switch ref.Kind {
	case "ClusterRole":
		if rules, ok := idx.clusterRoles[ref.Name]; ok {
			return rules, ""
		}
		return nil, fmt.Sprintf("clusterrole.rbac.authorization.k8s.io %q not found", ref.Name)
	case "Role":
		if namespace != "" {
			if rules, ok := idx.roles[namespace+"/"+ref.Name]; ok {
				return rules, ""
			}
		}
		return nil, fmt.Sprintf("role.rbac.authorization.k8s.io %q not found", ref.Name)
	}
	return nil, fmt.Sprintf("roleRef.kind %q is neither Role nor ClusterRole", ref.Kind)
}

// grantsFor lists the grants that apply to u for a request in namespace
// (cluster-wide ones first).
func (idx *rbacIndex) grantsFor(u *User, namespace string) []*grant {
	keys := subjectKeys(u)
	var out []*grant
	for _, k := range keys {
		out = append(out, idx.cluster[k]...)
	}
	if namespace != "" {
		if byKey := idx.namespaced[namespace]; byKey != nil {
			for _, k := range keys {
				out = append(out, byKey[k]...)
			}
		}
	}
	return out
}

// ruleAllows reports whether one policy rule covers a request.
func ruleAllows(r *rbacv1.PolicyRule, a Attributes) bool {
	if !matchesAny(r.Verbs, a.Verb) {
		return false
	}
	if !a.IsResource {
		return nonResourceAllows(r.NonResourceURLs, a.Path)
	}
	if len(r.Resources) == 0 || !matchesAny(r.APIGroups, a.APIGroup) {
		return false
	}
	if !resourceAllows(r.Resources, a.Resource, a.Subresource) {
		return false
	}
	return len(r.ResourceNames) == 0 || (a.Name != "" && slices.Contains(r.ResourceNames, a.Name))
}

// matchesAny: the list holds want or the wildcard.
func matchesAny(list []string, want string) bool {
	for _, s := range list {
		if s == want || s == rbacv1.VerbAll {
			return true
		}
	}
	return false
}

// resourceAllows matches "*", "resource", "resource/sub" and "*/sub".
func resourceAllows(list []string, resource, sub string) bool {
	full := resource
	if sub != "" {
		full = resource + "/" + sub
	}
	for _, s := range list {
		switch {
		case s == rbacv1.ResourceAll || s == full:
			return true
		case sub != "" && strings.HasPrefix(s, "*/") && s[2:] == sub:
			return true
		}
	}
	return false
}

// nonResourceAllows matches exact paths, "*", and "prefix*".
func nonResourceAllows(list []string, path string) bool {
	for _, s := range list {
		if s == path || s == rbacv1.NonResourceAll {
			return true
		}
		if prefix, ok := strings.CutSuffix(s, "*"); ok && strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}

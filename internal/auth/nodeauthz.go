package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// NodeUserPrefix starts the user name of a node's credential: system:node:NAME.
const NodeUserPrefix = "system:node:"

// nodeScoped are the core resources a node may read only as far as the pods bound
// to it use them. For members of system:nodes the NodeAuthorizer alone decides
// requests on them: it never defers to RBAC, so a broad grant elsewhere cannot
// widen a node's reach.
var nodeScoped = map[string]refKind{
	"secrets":                refSecret,
	"configmaps":             refConfigMap,
	"persistentvolumeclaims": refClaim,
	"persistentvolumes":      refClaim, // through the claims bound to them
	"serviceaccounts":        refServiceAccount,
}

// NodeAuthorizer narrows what a node's credential may read to what its own pods
// need: a node may get a secret, config map, persistent volume claim or service
// account only while a pod bound to it uses that object, a persistent volume only
// while such a claim is bound to it, and may ask for tokens only of its pods'
// service accounts. Everything else on those resources is denied for nodes, and
// every other request goes to Next unchanged.
type NodeAuthorizer struct {
	Next  Authorizer
	Graph *NodeGraph
}

// nodeMay says whether a is a request a node may make on a node-scoped resource
// for an object its pods use (get one object, ask for a service account token,
// update a claim's status), or why it may not.
func nodeMay(a Attributes) (bool, string) {
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	switch {
	case a.Subresource == "" && a.Verb == "get":
		if a.Name == "" {
			return false, fmt.Sprintf("a node may get only %s it names", a.Resource)
		}
		return true, ""
	case a.Subresource == "" && (a.Verb == "list" || a.Verb == "watch"):
		return false, fmt.Sprintf("a node may not %s %s; it may get, one by one, those that pods bound to it use", a.Verb, a.Resource)
	case res == "serviceaccounts/token" && a.Verb == "create",
		res == "persistentvolumeclaims/status" && (a.Verb == "update" || a.Verb == "patch"):
		return a.Name != "", fmt.Sprintf("a node may %s only %s it names", a.Verb, res)
	}
	return false, fmt.Sprintf("a node may not %s %s", a.Verb, res)
}

// nodeName returns the node a member of system:nodes speaks for.
func nodeName(u *User) (string, bool) {
	name, ok := strings.CutPrefix(u.Name, NodeUserPrefix)
	return name, ok && name != ""
}

// Authorize implements Authorizer.
func (n *NodeAuthorizer) Authorize(ctx context.Context, a Attributes) (Decision, error) {
	kind, scoped := nodeScoped[a.Resource]
	if !a.IsResource || a.APIGroup != "" || !scoped || !a.User.InGroup(GroupNodes) {
		if n.Next == nil {
			return Decision{}, nil
		}
		return n.Next.Authorize(ctx, a)
	}
	node, ok := nodeName(a.User)
	if !ok {
		return Decision{Reason: fmt.Sprintf("the user is in group %s but is not named %s<node name>", GroupNodes, NodeUserPrefix)}, nil
	}
	if ok, why := nodeMay(a); !ok {
		return Decision{Reason: why}, nil
	}
	if n.related(ctx, node, kind, a) {
		return Decision{Allowed: true, Reason: fmt.Sprintf("Node: a pod bound to node %q uses this object", node)}, nil
	}
	return Decision{Reason: fmt.Sprintf("no relationship found between node %q and this object", node)}, nil
}

// related reports whether a pod bound to node uses the object a names. A "no" is
// given only after the graph has caught up with the pod store.
func (n *NodeAuthorizer) related(ctx context.Context, node string, kind refKind, a Attributes) bool {
	g := n.Graph
	if g == nil {
		return false
	}
	check := func() bool {
		if a.Resource == "persistentvolumes" {
			return g.usesVolume(ctx, node, a.Name)
		}
		return g.uses(node, objRef{kind: kind, namespace: a.Namespace, name: a.Name})
	}
	if check() {
		return true
	}
	g.settle(ctx)
	return check()
}

// RulesFor implements RuleLister. For a node, the rules RBAC grants it on the
// node-scoped resources do not apply (this authorizer decides those); in their
// place come rules naming the objects its pods use now. A wildcard RBAC rule that
// would cover them is kept as it is, and the answer is marked incomplete.
func (n *NodeAuthorizer) RulesFor(ctx context.Context, u *User, namespace string) ([]rbacv1.PolicyRule, error) {
	l, ok := n.Next.(RuleLister)
	if !ok {
		return nil, errors.New("the authorizer cannot list rules")
	}
	rules, err := l.RulesFor(ctx, u, namespace)
	if !u.InGroup(GroupNodes) {
		return rules, err
	}
	out, wildcard := withoutNodeScoped(rules)
	if wildcard {
		err = errors.Join(err, errors.New("for nodes, secrets, configmaps, persistentvolumeclaims, persistentvolumes and serviceaccounts are decided per object by the node authorizer; wildcard rules listed may not apply to them"))
	}
	if node, ok := nodeName(u); ok && n.Graph != nil {
		out = append(out, n.Graph.rulesFor(ctx, node, namespace)...)
	}
	return out, err
}

// withoutNodeScoped removes the node-scoped resources (and their subresources)
// from the core-group part of rules. wildcard reports a rule whose resource
// wildcard covers them.
func withoutNodeScoped(rules []rbacv1.PolicyRule) (out []rbacv1.PolicyRule, wildcard bool) {
	for _, r := range rules {
		coreAt := -1
		for i, g := range r.APIGroups {
			if g == "" || g == rbacv1.APIGroupAll {
				coreAt = i
				break
			}
		}
		if len(r.Resources) == 0 || coreAt < 0 {
			out = append(out, r)
			continue
		}
		var kept []string
		for _, res := range r.Resources {
			base, sub, _ := strings.Cut(res, "/")
			if _, scoped := nodeScoped[base]; scoped {
				continue
			}
			if base == rbacv1.ResourceAll && (sub == "" || sub == "token" || sub == "status") {
				wildcard = true
			}
			kept = append(kept, res)
		}
		if len(kept) == len(r.Resources) {
			out = append(out, r)
			continue
		}
		if r.APIGroups[coreAt] == "" && len(r.APIGroups) > 1 {
			// The other groups keep every resource the rule lists.
			others := r.DeepCopy()
			others.APIGroups = append(others.APIGroups[:coreAt:coreAt], others.APIGroups[coreAt+1:]...)
			out = append(out, *others)
			r = *r.DeepCopy()
			r.APIGroups = []string{""}
		}
		if len(kept) > 0 {
			r = *r.DeepCopy()
			r.Resources = kept
			out = append(out, r)
		}
	}
	return out, wildcard
}

// rulesFor lists, as rules naming objects, what node may do on the node-scoped
// resources in namespace (persistent volumes, being cluster-wide, always come).
func (g *NodeGraph) rulesFor(ctx context.Context, node, namespace string) []rbacv1.PolicyRule {
	named := func(verbs, resource string, names []string) rbacv1.PolicyRule {
		r := rule(verbs, "core", resource)
		r.ResourceNames = names
		return r
	}
	var out []rbacv1.PolicyRule
	if namespace != "" {
		names := g.namesIn(node, namespace)
		if s := names[refSecret]; len(s) > 0 {
			out = append(out, named("get", "secrets", s))
		}
		if s := names[refConfigMap]; len(s) > 0 {
			out = append(out, named("get", "configmaps", s))
		}
		if s := names[refClaim]; len(s) > 0 {
			out = append(out, named("get", "persistentvolumeclaims", s), named("patch update", "persistentvolumeclaims/status", s))
		}
		if s := names[refServiceAccount]; len(s) > 0 {
			out = append(out, named("get", "serviceaccounts", s), named("create", "serviceaccounts/token", s))
		}
	}
	if v := g.volumes(ctx, node); len(v) > 0 {
		out = append(out, named("get", "persistentvolumes", v))
	}
	return out
}

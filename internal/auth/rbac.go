package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
)

// MastersAuthorizer allows members of system:masters everything. It stands in front
// of RBAC, like Kubernetes' privileged-group authorizer.
type MastersAuthorizer struct{ Next Authorizer }

// Authorize implements Authorizer.
func (m MastersAuthorizer) Authorize(ctx context.Context, a Attributes) (Decision, error) {
	if a.User.InGroup(GroupMasters) {
		return Decision{Allowed: true, Reason: "member of system:masters"}, nil
	}
	if m.Next != nil {
		return m.Next.Authorize(ctx, a)
	}
	return Decision{}, nil
}

// RBACObjects are the four kinds of objects role-based access control reads.
// They are shared with the store and must not be modified.
type RBACObjects struct {
	Roles               []*rbacv1.Role
	ClusterRoles        []*rbacv1.ClusterRole
	RoleBindings        []*rbacv1.RoleBinding
	ClusterRoleBindings []*rbacv1.ClusterRoleBinding
}

// RBACSource supplies the RBAC objects. Revision must be cheap: it is read on
// every request, and the authorizer re-reads the objects only when it changes.
type RBACSource interface {
	Revision() uint64
	RBACObjects(ctx context.Context) (*RBACObjects, error)
}

// RBACAuthorizer answers from Roles, ClusterRoles and their bindings. It keeps an
// index of who is granted what, rebuilt when the source's revision moves.
type RBACAuthorizer struct {
	src   RBACSource
	mu    sync.Mutex // serialises rebuilds
	index atomic.Pointer[rbacIndex]
}

// NewRBACAuthorizer returns an authorizer over src.
func NewRBACAuthorizer(src RBACSource) *RBACAuthorizer {
	a := &RBACAuthorizer{src: src}
	a.index.Store(&rbacIndex{rev: ^uint64(0)})
	return a
}

// current returns an index no older than the source's revision (or the last one
// that could be built, if reading the source fails).
func (a *RBACAuthorizer) current(ctx context.Context) *rbacIndex {
	rev := a.src.Revision()
	idx := a.index.Load()
	if idx.rev == rev {
		return idx
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if idx = a.index.Load(); idx.rev == rev {
		return idx
	}
	objs, err := a.src.RBACObjects(ctx)
	if err != nil {
		slog.Warn("RBAC objects could not be read; authorizing with the previous ones", "err", err)
		return idx
	}
	idx = buildIndex(rev, objs)
	a.index.Store(idx)
	return idx
}

// Authorize implements Authorizer. A denial carries no reason unless some binding
// that applies to the user could not be evaluated (its role is missing).
func (a *RBACAuthorizer) Authorize(ctx context.Context, attrs Attributes) (Decision, error) {
	idx := a.current(ctx)
	var broken []string
	for _, g := range idx.grantsFor(attrs.User, attrs.Namespace) {
		if g.missing != "" {
			broken = append(broken, g.missing)
			continue
		}
		for i := range g.rules {
			if ruleAllows(&g.rules[i], attrs) {
				return Decision{Allowed: true, Reason: "RBAC: allowed by " + g.describe()}, nil
			}
		}
	}
	if len(broken) > 0 {
		return Decision{Reason: "RBAC: " + strings.Join(dedupe(broken), ", ")}, nil
	}
	return Decision{}, nil
}

// RulesFor lists the rules granted to u in namespace (cluster-wide grants
// included; namespace "" gives only those). The error names bindings whose role
// is missing, in which case the list may be incomplete.
func (a *RBACAuthorizer) RulesFor(ctx context.Context, u *User, namespace string) ([]rbacv1.PolicyRule, error) {
	idx := a.current(ctx)
	var rules []rbacv1.PolicyRule
	var broken []string
	for _, g := range idx.grantsFor(u, namespace) {
		if g.missing != "" {
			broken = append(broken, g.missing)
			continue
		}
		rules = append(rules, g.rules...)
	}
	if len(broken) > 0 {
		return rules, fmt.Errorf("%s", strings.Join(dedupe(broken), ", "))
	}
	return rules, nil
}

// RoleRules returns the rules of the role a binding in namespace refers to
// (namespace "" for a ClusterRoleBinding).
// A role written a moment ago (a manifest with a Role and its RoleBinding) may not
// have reached the index yet, so a missing role is looked for again until
// roleWait has passed.
func (a *RBACAuthorizer) RoleRules(ctx context.Context, namespace string, ref rbacv1.RoleRef) ([]rbacv1.PolicyRule, error) {
	deadline := time.Now().Add(roleWait)
	for {
		rules, missing := a.current(ctx).resolve(namespace, ref)
		if missing == "" {
			return rules, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s", missing)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s", missing)
		case <-time.After(roleWait / 20):
		}
	}
}

// roleWait bounds how long RoleRules waits for a missing role to appear.
var roleWait = 300 * time.Millisecond

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

package auth

import (
	"context"
	"slices"
)

// Well-known users and groups.
const (
	GroupMasters         = "system:masters"
	GroupAuthenticated   = "system:authenticated"
	GroupUnauthenticated = "system:unauthenticated"
	GroupNodes           = "system:nodes"
	GroupBootstrappers   = "system:bootstrappers"
	GroupServiceAccounts = "system:serviceaccounts"
	UserAnonymous        = "system:anonymous"
	UserAdmin            = "tug-admin"
	UserScheduler        = "system:kube-scheduler"
	UserControllers      = "system:kube-controller-manager"
	UserAPIServer        = "system:apiserver"
	// UserAPIServerKubeletClient is the API server's identity towards node
	// agents (logs, exec, attach, port-forward, node proxy).
	UserAPIServerKubeletClient = "kube-apiserver-kubelet-client"
)

// User is an authenticated identity.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// InGroup reports whether the user is a member of group.
func (u *User) InGroup(group string) bool { return u != nil && slices.Contains(u.Groups, group) }

type userKey struct{}

// WithUser returns a context carrying the user a request acts as.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user a request acts as, or nil.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}

// Attributes describe a request for authorization.
type Attributes struct {
	User *User
	Verb string
	// Resource requests.
	IsResource  bool
	APIGroup    string
	APIVersion  string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
	// Non-resource requests.
	Path string
}

// Decision is an authorizer's answer.
type Decision struct {
	Allowed bool
	// Reason explains the decision (the rule or binding that allowed it).
	Reason string
}

// Authorizer decides whether a request may proceed.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (Decision, error)
}

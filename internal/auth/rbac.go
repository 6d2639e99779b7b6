package auth

import "context"

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

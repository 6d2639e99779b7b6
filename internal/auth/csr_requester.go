package auth

import (
	"context"

	"tug/internal/registry"
)

// The registry records who asked for a CertificateSigningRequest; it learns the
// requester through this hook because it cannot import this package.
func init() {
	registry.RequestUserInfo = func(ctx context.Context) (registry.RequestingUser, bool) {
		u := UserFrom(ctx)
		if u == nil {
			return registry.RequestingUser{}, false
		}
		return registry.RequestingUser{Name: u.Name, UID: u.UID, Groups: u.Groups, Extra: u.Extra}, true
	}
}

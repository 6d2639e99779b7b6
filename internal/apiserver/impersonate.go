package apiserver

import (
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"tug/internal/auth"
)

// withImpersonation lets a user act as another (kubectl --as / --as-group) when RBAC
// grants it the impersonate verb on the users, groups, uids or extras asked for.
func (s *Server) withImpersonation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asUser := r.Header.Get("Impersonate-User")
		asGroups := r.Header.Values("Impersonate-Group")
		asUID := r.Header.Get("Impersonate-Uid")
		extra := map[string][]string{}
		for k, v := range r.Header {
			if rest, ok := strings.CutPrefix(k, "Impersonate-Extra-"); ok {
				extra[strings.ToLower(rest)] = v
			}
		}
		if asUser == "" {
			if len(asGroups) > 0 || asUID != "" || len(extra) > 0 {
				writeError(w, r, apierrors.NewBadRequest("Impersonate-Group, Impersonate-Uid and Impersonate-Extra need Impersonate-User"))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		u := auth.UserFrom(r.Context())
		// check writes the refusal (the usual Forbidden naming the resource) and
		// reports false unless the user may impersonate what a names.
		check := func(a auth.Attributes) bool {
			a.User, a.Verb, a.IsResource = u, "impersonate", true
			d, err := s.cfg.Authorizer.Authorize(r.Context(), a)
			if err == nil && d.Allowed {
				return true
			}
			writeError(w, r, forbidden(a, d.Reason))
			return false
		}
		// A service account is impersonated through the serviceaccounts resource.
		if ns, name, ok := serviceAccountName(asUser); ok {
			if !check(auth.Attributes{Resource: "serviceaccounts", Namespace: ns, Name: name}) {
				return
			}
		} else if !check(auth.Attributes{Resource: "users", Name: asUser}) {
			return
		}
		for _, g := range asGroups {
			if !check(auth.Attributes{Resource: "groups", Name: g}) {
				return
			}
		}
		if asUID != "" && !check(auth.Attributes{APIGroup: "authentication.k8s.io", Resource: "uids", Name: asUID}) {
			return
		}
		for k, vals := range extra {
			for _, v := range vals {
				if !check(auth.Attributes{APIGroup: "authentication.k8s.io", Resource: "userextras", Subresource: k, Name: v}) {
					return
				}
			}
		}
		nu := &auth.User{Name: asUser, UID: asUID, Groups: append([]string(nil), asGroups...)}
		if len(extra) > 0 {
			nu.Extra = extra
		}
		if ns, _, ok := serviceAccountName(asUser); ok {
			nu.Groups = append(nu.Groups, auth.GroupServiceAccounts, auth.GroupServiceAccounts+":"+ns)
		}
		if asUser != auth.UserAnonymous && !nu.InGroup(auth.GroupAuthenticated) {
			nu.Groups = append(nu.Groups, auth.GroupAuthenticated)
		}
		for k := range r.Header {
			if strings.HasPrefix(k, "Impersonate-") {
				r.Header.Del(k)
			}
		}
		next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), nu)))
	})
}

func serviceAccountName(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	return ns, name, ok && ns != "" && name != ""
}

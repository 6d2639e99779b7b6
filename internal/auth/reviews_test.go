package auth

import (
	"context"
	"strings"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"tug/internal/registry"
)

func reviewByName(t *testing.T, rs []*registry.Resource, name string) *registry.Resource {
	t.Helper()
	for _, r := range rs {
		if r.Resource == name {
			if r.Create == nil || len(r.Verbs) != 1 || r.Verbs[0] != "create" || r.New == nil {
				t.Fatalf("%s is not a create-only virtual resource", name)
			}
			return r
		}
	}
	t.Fatalf("no %s resource", name)
	return nil
}

func TestAccessReviews(t *testing.T) {
	authz := MastersAuthorizer{Next: NewRBACAuthorizer(testPolicy())}
	rs := ReviewResources(authz)
	jane := WithUser(context.Background(), user("jane"))
	admin := WithUser(context.Background(), user("root", GroupMasters))
	podsIn := func(verb, ns string) *authzv1.ResourceAttributes {
		return &authzv1.ResourceAttributes{Verb: verb, Resource: "configmaps", Namespace: ns}
	}
	tests := []struct {
		name     string
		resource string
		ctx      context.Context
		obj      runtime.Object
		allowed  bool
		invalid  bool
	}{
		{"self allowed", "selfsubjectaccessreviews", jane,
			&authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: podsIn("create", "ns1")}}, true, false},
		{"self denied elsewhere", "selfsubjectaccessreviews", jane,
			&authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: podsIn("create", "ns2")}}, false, false},
		{"self non-resource", "selfsubjectaccessreviews", jane,
			&authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{NonResourceAttributes: &authzv1.NonResourceAttributes{Verb: "get", Path: "/api"}}}, true, false},
		{"self needs one kind of attributes", "selfsubjectaccessreviews", jane,
			&authzv1.SelfSubjectAccessReview{}, false, true},
		{"self masters", "selfsubjectaccessreviews", admin,
			&authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: podsIn("delete", "anywhere")}}, true, false},
		{"subject jane", "subjectaccessreviews", admin,
			&authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{User: "jane", ResourceAttributes: podsIn("update", "ns1")}}, true, false},
		{"subject group", "subjectaccessreviews", admin,
			&authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{Groups: []string{"devs"}, ResourceAttributes: &authzv1.ResourceAttributes{Verb: "create", Group: "apps", Resource: "deployments", Namespace: "ns1"}}}, true, false},
		{"subject needs a user", "subjectaccessreviews", admin,
			&authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{ResourceAttributes: podsIn("update", "ns1")}}, false, true},
		{"local fills the namespace", "localsubjectaccessreviews", admin,
			&authzv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1"}, Spec: authzv1.SubjectAccessReviewSpec{User: "jane", ResourceAttributes: podsIn("create", "")}}, true, false},
		{"local other namespace", "localsubjectaccessreviews", admin,
			&authzv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1"}, Spec: authzv1.SubjectAccessReviewSpec{User: "jane", ResourceAttributes: podsIn("create", "ns2")}}, false, true},
		{"local refuses paths", "localsubjectaccessreviews", admin,
			&authzv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1"}, Spec: authzv1.SubjectAccessReviewSpec{User: "jane", NonResourceAttributes: &authzv1.NonResourceAttributes{Verb: "get", Path: "/api"}}}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := reviewByName(t, rs, tc.resource).Create(tc.ctx, tc.obj)
			if tc.invalid {
				if !apierrors.IsInvalid(err) {
					t.Fatalf("err = %v, want Invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var st authzv1.SubjectAccessReviewStatus
			switch o := out.(type) {
			case *authzv1.SelfSubjectAccessReview:
				st = o.Status
			case *authzv1.SubjectAccessReview:
				st = o.Status
			case *authzv1.LocalSubjectAccessReview:
				st = o.Status
			}
			if st.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (reason %q)", st.Allowed, tc.allowed, st.Reason)
			}
		})
	}
}

func TestRulesReview(t *testing.T) {
	authz := MastersAuthorizer{Next: NewRBACAuthorizer(testPolicy())}
	rr := reviewByName(t, ReviewResources(authz), "selfsubjectrulesreviews")
	tests := []struct {
		name       string
		user       *User
		namespace  string
		want       string // "verbs resources" of a resource rule
		wantPath   string
		incomplete bool
	}{
		{"jane in ns1", user("jane"), "ns1", "create update configmaps", "/apis/*", false},
		{"jane in ns2", user("jane"), "ns2", "create selfsubjectaccessreviews selfsubjectrulesreviews", "/api", false},
		{"masters", user("root", GroupMasters), "default", "* *", "*", false},
		{"broken binding", user("unlucky"), "ns1", "create selfsubjectaccessreviews selfsubjectrulesreviews", "/version", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := rr.Create(WithUser(context.Background(), tc.user),
				&authzv1.SelfSubjectRulesReview{Spec: authzv1.SelfSubjectRulesReviewSpec{Namespace: tc.namespace}})
			if err != nil {
				t.Fatal(err)
			}
			st := out.(*authzv1.SelfSubjectRulesReview).Status
			if st.Incomplete != tc.incomplete {
				t.Fatalf("incomplete = %v (%q), want %v", st.Incomplete, st.EvaluationError, tc.incomplete)
			}
			var rules, paths []string
			for _, r := range st.ResourceRules {
				rules = append(rules, strings.Join(append(append([]string(nil), r.Verbs...), r.Resources...), " "))
			}
			for _, r := range st.NonResourceRules {
				paths = append(paths, r.NonResourceURLs...)
			}
			if !contains(rules, tc.want) {
				t.Errorf("resource rules %q lack %q", rules, tc.want)
			}
			if !contains(paths, tc.wantPath) {
				t.Errorf("paths %q lack %q", paths, tc.wantPath)
			}
			if tc.namespace == "ns2" && contains(rules, "create update configmaps") {
				t.Errorf("a role of ns1 shows in ns2: %q", rules)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestWhoAmI(t *testing.T) {
	rs := ReviewResources(MastersAuthorizer{})
	r := reviewByName(t, rs, "selfsubjectreviews")
	u := &User{Name: "jane", UID: "42", Groups: []string{"devs", GroupAuthenticated}, Extra: map[string][]string{"scopes": {"a"}}}
	out, err := r.Create(WithUser(context.Background(), u), &authnv1.SelfSubjectReview{})
	if err != nil {
		t.Fatal(err)
	}
	info := out.(*authnv1.SelfSubjectReview).Status.UserInfo
	if info.Username != "jane" || info.UID != "42" || strings.Join(info.Groups, ",") != "devs,system:authenticated" || info.Extra["scopes"][0] != "a" {
		t.Fatalf("userInfo = %+v", info)
	}
	if _, err := r.Create(context.Background(), &authnv1.SelfSubjectReview{}); !apierrors.IsUnauthorized(err) {
		t.Fatalf("without a user: err = %v, want Unauthorized", err)
	}
}

func TestTokenReview(t *testing.T) {
	authn := &Authenticator{}
	tokens := &StaticTokens{}
	tokens.Set("good-token", &User{Name: "system:node:n1", Groups: []string{GroupNodes}})
	authn.AddTokenAuthenticator(tokens)
	r := TokenReviewResource(authn)
	tests := []struct {
		token   string
		valid   bool
		user    string
		invalid bool
	}{
		{"good-token", true, "system:node:n1", false},
		{"bad-token", false, "", false},
		{"", false, "", true},
	}
	for _, tc := range tests {
		out, err := r.Create(context.Background(), &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: tc.token, Audiences: []string{"api"}}})
		if tc.invalid {
			if !apierrors.IsInvalid(err) {
				t.Errorf("token %q: err = %v, want Invalid", tc.token, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		st := out.(*authnv1.TokenReview).Status
		if st.Authenticated != tc.valid || st.User.Username != tc.user || (!tc.valid && st.Error == "") {
			t.Errorf("token %q: status %+v", tc.token, st)
		}
		if tc.valid && !contains(st.User.Groups, GroupAuthenticated) {
			t.Errorf("token %q: groups %v lack %s", tc.token, st.User.Groups, GroupAuthenticated)
		}
	}
}

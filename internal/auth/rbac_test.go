package auth

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeRBAC is an in-memory RBACSource that counts how often it is read.
type fakeRBAC struct {
	objs  RBACObjects
	rev   atomic.Uint64
	reads atomic.Int32
}

func (f *fakeRBAC) Revision() uint64 { return f.rev.Load() }
func (f *fakeRBAC) RBACObjects(context.Context) (*RBACObjects, error) {
	f.reads.Add(1)
	o := f.objs
	return &o, nil
}

func role(ns, name string, rules ...rbacv1.PolicyRule) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
}

func roleBinding(ns, name, kind, roleName string, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: roleName}, Subjects: subjects}
}

func saSubject(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
}

func testPolicy() *fakeRBAC {
	f := &fakeRBAC{}
	f.objs.ClusterRoles = append(BootstrapClusterRoles(),
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"}, Rules: []rbacv1.PolicyRule{rule("get list", "core", "pods")}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "logs"}, Rules: []rbacv1.PolicyRule{rule("get", "core", "*/log")}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "metrics"}, Rules: []rbacv1.PolicyRule{pathRule("get", "/metrics /debug/*")}},
	)
	f.objs.ClusterRoleBindings = append(BootstrapClusterRoleBindings(),
		clusterBinding("logs", userSubject("logger")),
		clusterBinding("metrics", userSubject("scraper")),
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dangling"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "gone"}, Subjects: []rbacv1.Subject{userSubject("unlucky")}},
	)
	f.objs.Roles = []*rbacv1.Role{
		role("ns1", "cm-writer", rule("create update", "core", "configmaps")),
		role("ns1", "one-secret", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"token"}}),
		role("ns1", "deploy-scale", rule("*", "apps", "deployments/scale")),
	}
	f.objs.RoleBindings = []*rbacv1.RoleBinding{
		roleBinding("ns1", "jane-cm", "Role", "cm-writer", userSubject("jane")),
		roleBinding("ns1", "jane-secret", "Role", "one-secret", userSubject("jane")),
		roleBinding("ns1", "devs-edit", "ClusterRole", "edit", groupSubject("devs")),
		roleBinding("ns1", "bot-read", "ClusterRole", "pod-reader", saSubject("", "bot")),
		roleBinding("ns1", "all-sa-view", "ClusterRole", "view", groupSubject("system:serviceaccounts:ns2")),
		roleBinding("ns1", "scaler", "Role", "deploy-scale", userSubject("scaler")),
		roleBinding("ns1", "viewers", "ClusterRole", "view", groupSubject("viewers")),
		roleBinding("ns1", "bad-ref", "Role", "nope", userSubject("unlucky")),
	}
	return f
}

func user(name string, groups ...string) *User {
	return &User{Name: name, Groups: append(groups, GroupAuthenticated)}
}

func res(verb, group, resource, sub, ns, name string) Attributes {
	return Attributes{Verb: verb, IsResource: true, APIGroup: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name}
}

func path(verb, p string) Attributes { return Attributes{Verb: verb, Path: p} }

func TestRBACAuthorize(t *testing.T) {
	a := NewRBACAuthorizer(testPolicy())
	tests := []struct {
		name   string
		user   *User
		attrs  Attributes
		allow  bool
		reason string // substring of the reason
	}{
		{"role in its namespace", user("jane"), res("create", "", "configmaps", "", "ns1", ""), true, `RoleBinding "ns1/jane-cm" of Role "cm-writer" to User "jane"`},
		{"role verb not granted", user("jane"), res("delete", "", "configmaps", "", "ns1", "x"), false, ""},
		{"role in another namespace", user("jane"), res("create", "", "configmaps", "", "ns2", ""), false, ""},
		{"role at cluster scope", user("jane"), res("create", "", "configmaps", "", "", ""), false, ""},
		{"resourceNames allows that name", user("jane"), res("get", "", "secrets", "", "ns1", "token"), true, "one-secret"},
		{"resourceNames refuses another name", user("jane"), res("get", "", "secrets", "", "ns1", "other"), false, ""},
		{"resourceNames refuses lists", user("jane"), res("list", "", "secrets", "", "ns1", ""), false, ""},
		{"cluster role through rolebinding to group", user("bob", "devs"), res("delete", "apps", "deployments", "", "ns1", "web"), true, `Group "devs"`},
		{"rolebinding does not reach other namespaces", user("bob", "devs"), res("get", "", "pods", "", "ns2", ""), false, ""},
		{"edit cannot write roles", user("bob", "devs"), res("create", "rbac.authorization.k8s.io", "roles", "", "ns1", ""), false, ""},
		{"edit execs into pods", user("bob", "devs"), res("create", "", "pods", "exec", "ns1", "web"), true, ""},
		{"edit cannot add debug containers", user("bob", "devs"), res("patch", "", "pods", "ephemeralcontainers", "ns1", "web"), false, ""},
		{"wrong api group", user("bob", "devs"), res("get", "example.com", "pods", "", "ns1", ""), false, ""},
		{"subresource needs its own rule", user("jane"), res("update", "", "configmaps", "status", "ns1", "x"), false, ""},
		{"rule for a subresource only", user("scaler"), res("update", "apps", "deployments", "scale", "ns1", "web"), true, ""},
		{"subresource rule does not grant the parent", user("scaler"), res("update", "apps", "deployments", "", "ns1", "web"), false, ""},
		{"*/sub in any namespace", user("logger"), res("get", "", "pods", "log", "ns9", "p"), true, ""},
		{"*/sub not another subresource", user("logger"), res("get", "", "pods", "exec", "ns9", "p"), false, ""},
		{"service account by subject", user("system:serviceaccount:ns1:bot", "system:serviceaccounts", "system:serviceaccounts:ns1"), res("list", "", "pods", "", "ns1", ""), true, `ServiceAccount "ns1/bot"`},
		{"same account name in another namespace", user("system:serviceaccount:ns2:bot", "system:serviceaccounts", "system:serviceaccounts:ns2"), res("list", "", "pods", "", "ns1", ""), true, `Group "system:serviceaccounts:ns2"`},
		{"service account group grants view only", user("system:serviceaccount:ns2:bot", "system:serviceaccounts", "system:serviceaccounts:ns2"), res("get", "", "secrets", "", "ns1", "token"), false, ""},
		{"masters through cluster-admin", user("root", GroupMasters), res("delete", "anything", "things", "", "", "x"), true, `ClusterRoleBinding "cluster-admin"`},
		{"cluster-admin paths", user("root", GroupMasters), path("get", "/debug/pprof"), true, ""},
		{"discovery path", user("jane"), path("get", "/apis/apps/v1"), true, "system:discovery"},
		{"discovery verb", user("jane"), path("post", "/apis"), false, ""},
		{"unauthenticated version", &User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}, path("get", "/version"), true, "system:public-info-viewer"},
		{"unauthenticated discovery", &User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}, path("get", "/api"), false, ""},
		{"exact path", user("scraper"), path("get", "/metrics"), true, ""},
		{"exact path is not a prefix", user("scraper"), path("get", "/metricsz"), false, ""},
		{"prefix path", user("scraper"), path("get", "/debug/vars"), true, ""},
		{"basic user", user("jane"), res("create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ""), true, "system:basic-user"},
		{"view reads deployments", user("v", "viewers"), res("list", "apps", "deployments", "", "ns1", ""), true, "view"},
		{"view cannot write", user("v", "viewers"), res("update", "apps", "deployments", "", "ns1", "x"), false, ""},
		{"view cannot read secrets", user("v", "viewers"), res("get", "", "secrets", "", "ns1", "x"), false, ""},
		{"node reads pods", user("system:node:n1", GroupNodes), res("watch", "", "pods", "", "", ""), true, "system:node"},
		{"node updates its status", user("system:node:n1", GroupNodes), res("patch", "", "nodes", "status", "", "n1"), true, ""},
		{"node cannot delete nodes", user("system:node:n1", GroupNodes), res("delete", "", "nodes", "", "", "n1"), false, ""},
		{"scheduler binds", user(UserScheduler), res("create", "", "pods", "binding", "ns1", "p"), true, ""},
		{"dns account", user("system:serviceaccount:kube-system:coredns"), res("watch", "discovery.k8s.io", "endpointslices", "", "", ""), true, ""},
		{"missing cluster role explains", user("unlucky"), res("get", "", "pods", "", "ns1", ""), false, `clusterrole.rbac.authorization.k8s.io "gone" not found`},
		{"missing role explains", user("unlucky"), res("get", "", "pods", "", "ns1", ""), false, `role.rbac.authorization.k8s.io "nope" not found`},
		{"no user", nil, res("get", "", "pods", "", "ns1", ""), false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.attrs.User = tc.user
			d, err := a.Authorize(context.Background(), tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.allow {
				t.Fatalf("allowed = %v, want %v (reason %q)", d.Allowed, tc.allow, d.Reason)
			}
			if tc.reason == "" && !tc.allow && d.Reason != "" {
				t.Fatalf("reason = %q, want none", d.Reason)
			}
			if !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("reason = %q, want it to contain %q", d.Reason, tc.reason)
			}
		})
	}
}

func TestRBACIndexRebuildsOnlyOnChange(t *testing.T) {
	src := testPolicy()
	a := NewRBACAuthorizer(src)
	ctx := context.Background()
	attrs := res("get", "", "pods", "", "ns3", "")
	attrs.User = user("newbie")
	for i := 0; i < 5; i++ {
		if d, _ := a.Authorize(ctx, attrs); d.Allowed {
			t.Fatal("allowed before any binding")
		}
	}
	if n := src.reads.Load(); n != 1 {
		t.Fatalf("source read %d times for an unchanged revision, want 1", n)
	}
	src.objs.RoleBindings = append(src.objs.RoleBindings, roleBinding("ns3", "b", "ClusterRole", "view", userSubject("newbie")))
	if d, _ := a.Authorize(ctx, attrs); d.Allowed {
		t.Fatal("allowed before the revision moved: the index should not be re-read")
	}
	src.rev.Add(1)
	if d, _ := a.Authorize(ctx, attrs); !d.Allowed {
		t.Fatalf("not allowed after the binding appeared: %q", d.Reason)
	}
	if n := src.reads.Load(); n != 2 {
		t.Fatalf("source read %d times, want 2", n)
	}
}

func TestRulesFor(t *testing.T) {
	a := NewRBACAuthorizer(testPolicy())
	ctx := context.Background()
	tests := []struct {
		name      string
		user      *User
		namespace string
		want      []string // verbs+resources of some rules that must be present
		notWant   string
		wantErr   bool
	}{
		{"namespace includes role and cluster grants", user("jane"), "ns1", []string{"create update configmaps", "create selfsubjectaccessreviews selfsubjectrulesreviews"}, "", false},
		{"other namespace only cluster grants", user("jane"), "ns2", []string{"create selfsubjectaccessreviews selfsubjectrulesreviews"}, "configmaps", false},
		{"broken binding is reported", user("unlucky"), "ns1", nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := a.RulesFor(ctx, tc.user, tc.namespace)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			var got []string
			for _, r := range rules {
				got = append(got, strings.Join(append(append([]string(nil), r.Verbs...), r.Resources...), " "))
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("rules lack %q:\n%s", w, all)
				}
			}
			if tc.notWant != "" && strings.Contains(all, tc.notWant) {
				t.Errorf("rules mention %q:\n%s", tc.notWant, all)
			}
		})
	}
}

func TestRoleRules(t *testing.T) {
	a := NewRBACAuthorizer(testPolicy())
	ctx := context.Background()
	tests := []struct {
		ns      string
		ref     rbacv1.RoleRef
		want    int
		wantErr bool
	}{
		{"ns1", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "cm-writer"}, 1, false},
		{"ns2", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "cm-writer"}, 0, true},
		{"", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pod-reader"}, 1, false},
		{"ns1", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "missing"}, 0, true},
		{"ns1", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Other", Name: "pod-reader"}, 0, true},
	}
	for _, tc := range tests {
		rules, err := a.RoleRules(ctx, tc.ns, tc.ref)
		if (err != nil) != tc.wantErr || len(rules) != tc.want {
			t.Errorf("RoleRules(%q, %v) = %d rules, %v; want %d, error %v", tc.ns, tc.ref, len(rules), err, tc.want, tc.wantErr)
		}
	}
}

// BenchmarkRBACAuthorize measures a decision with many bindings in the cluster:
// the cost should follow the user's own grants, not the number of bindings.
func BenchmarkRBACAuthorize(b *testing.B) {
	src := testPolicy()
	for i := 0; i < 5000; i++ {
		ns := fmt.Sprintf("team-%d", i%100)
		src.objs.RoleBindings = append(src.objs.RoleBindings,
			roleBinding(ns, fmt.Sprintf("b-%d", i), "ClusterRole", "edit", userSubject(fmt.Sprintf("user-%d", i))))
	}
	a := NewRBACAuthorizer(src)
	attrs := res("update", "apps", "deployments", "", "team-7", "web")
	attrs.User = user("user-107", "devs", "qa")
	ctx := context.Background()
	if d, _ := a.Authorize(ctx, attrs); !d.Allowed {
		b.Fatal("not allowed")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Authorize(ctx, attrs)
	}
}

// A binding written right after its role must not fail because the index has not
// seen the role yet.
func TestRoleRulesWaitsForANewRole(t *testing.T) {
	src := testPolicy()
	a := NewRBACAuthorizer(src)
	ctx := context.Background()
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "fresh"}
	if _, err := a.RoleRules(ctx, "ns1", ref); err == nil {
		t.Fatal("found a role that does not exist")
	}
	// The role is stored, and the source notices a little later.
	src.objs.Roles = append(src.objs.Roles, role("ns1", "fresh", rule("get", "core", "pods")))
	go func() {
		time.Sleep(roleWait / 4)
		src.rev.Add(1)
	}()
	rules, err := a.RoleRules(ctx, "ns1", ref)
	if err != nil || len(rules) != 1 {
		t.Fatalf("RoleRules = %v, %v; want the new role's rule", rules, err)
	}
}

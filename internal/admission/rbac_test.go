package admission

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"tug/internal/auth"
)

// staticRBAC is a fixed RBAC source.
type staticRBAC struct{ objs auth.RBACObjects }

func (s *staticRBAC) Revision() uint64 { return 1 }
func (s *staticRBAC) RBACObjects(context.Context) (*auth.RBACObjects, error) {
	o := s.objs
	return &o, nil
}

func pr(verbs, group, resources string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: strings.Fields(verbs), APIGroups: []string{group}, Resources: strings.Fields(resources), ResourceNames: names}
}

func ref(kind, name string) rbacv1.RoleRef {
	return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: name}
}

func escalationFixture() RBACEscalation {
	u := func(name string) []rbacv1.Subject { return []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: name}} }
	src := &staticRBAC{objs: auth.RBACObjects{
		ClusterRoles: append(auth.BootstrapClusterRoles(),
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "secret-reader"}, Rules: []rbacv1.PolicyRule{pr("get list", "", "secrets")}},
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "binder"}, Rules: []rbacv1.PolicyRule{
				pr("create", rbacv1.GroupName, "rolebindings"), pr("bind", rbacv1.GroupName, "clusterroles", "secret-reader")}},
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "escalator"}, Rules: []rbacv1.PolicyRule{
				pr("create escalate", rbacv1.GroupName, "roles")}},
		),
		ClusterRoleBindings: auth.BootstrapClusterRoleBindings(),
		Roles: []*rbacv1.Role{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "pod-reader"}, Rules: []rbacv1.PolicyRule{pr("get list", "", "pods")}},
		},
		RoleBindings: []*rbacv1.RoleBinding{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "alice-admin"}, RoleRef: ref("ClusterRole", "admin"), Subjects: u("alice")},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "bob-binder"}, RoleRef: ref("ClusterRole", "binder"), Subjects: u("bob")},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "eve-escalator"}, RoleRef: ref("ClusterRole", "escalator"), Subjects: u("eve")},
		},
	}}
	a := auth.NewRBACAuthorizer(src)
	return RBACEscalation{Authorizer: auth.MastersAuthorizer{Next: a}, Rules: a}
}

func TestRBACEscalation(t *testing.T) {
	e := escalationFixture()
	user := func(name string, groups ...string) *auth.User {
		return &auth.User{Name: name, Groups: append(groups, auth.GroupAuthenticated)}
	}
	role := func(ns string, rules ...rbacv1.PolicyRule) *rbacv1.Role {
		return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "r"}, Rules: rules}
	}
	binding := func(ns string, r rbacv1.RoleRef) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b"}, RoleRef: r,
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "mallory"}}}
	}
	tests := []struct {
		name    string
		user    *auth.User
		op      string
		obj     runtime.Object
		old     runtime.Object
		missing string // "" = allowed; else a piece of the refusal
	}{
		{"admin grants what it holds", user("alice"), Create, role("ns1", pr("get list", "apps", "deployments"), pr("create", "", "pods/exec")), nil, ""},
		{"admin cannot grant cluster things", user("alice"), Create, role("ns1", pr("get", "", "nodes")), nil, `Resources:["nodes"]`},
		{"admin cannot grant in another namespace", user("alice"), Create, role("ns2", pr("get", "", "pods")), nil, `Resources:["pods"]`},
		{"wildcard needs wildcard", user("alice"), Create, role("ns1", pr("*", "", "pods")), nil, `Verbs:["*"]`},
		{"subresource wildcard held", user("root", auth.GroupMasters), Create, role("ns1", pr("*", "*", "*")), nil, ""},
		{"resource names narrower than held", user("alice"), Create, role("ns1", pr("get", "", "secrets", "token")), nil, ""},
		{"escalate verb", user("eve"), Create, role("ns1", pr("delete", "", "nodes")), nil, ""},
		{"escalate is per namespace", user("eve"), Create, role("ns2", pr("delete", "", "nodes")), nil, `Resources:["nodes"]`},
		{"unchanged rules on update", user("carol"), Update, role("ns1", pr("delete", "", "nodes")), role("ns1", pr("delete", "", "nodes")), ""},
		{"changed rules on update", user("carol"), Update, role("ns1", pr("delete", "", "nodes")), role("ns1"), `Verbs:["delete"]`},
		{"cluster role needs cluster-wide rules", user("alice"), Create,
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Rules: []rbacv1.PolicyRule{pr("get", "", "pods")}}, nil, `Resources:["pods"]`},
		{"cluster role of paths", user("carol"), Create,
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*", "/metrics"}}}}, nil, `NonResourceURLs:["/metrics"]`},
		{"bind a role whose rules are held", user("alice"), Create, binding("ns1", ref("Role", "pod-reader")), nil, ""},
		{"bind edit as admin", user("alice"), Create, binding("ns1", ref("ClusterRole", "edit")), nil, ""},
		{"bind cluster-admin as admin", user("alice"), Create, binding("ns1", ref("ClusterRole", "cluster-admin")), nil, `through ClusterRole "cluster-admin"`},
		{"bind verb on the cluster role", user("bob"), Create, binding("ns1", ref("ClusterRole", "secret-reader")), nil, ""},
		{"bind verb names one role", user("bob"), Create, binding("ns1", ref("ClusterRole", "view")), nil, `Resources:["pods"]`},
		{"bind a missing role", user("alice"), Create, binding("ns1", ref("Role", "nope")), nil, `role.rbac.authorization.k8s.io "nope" not found`},
		{"cluster binding", user("alice"), Create,
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cb"}, RoleRef: ref("ClusterRole", "view")}, nil, `Resources:["pods"]`},
		{"masters are exempt", user("root", auth.GroupMasters), Create,
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cb"}, RoleRef: ref("ClusterRole", "cluster-admin")}, nil, ""},
		{"binding update keeping ref and subjects", user("carol"), Update, binding("ns1", ref("ClusterRole", "cluster-admin")), binding("ns1", ref("ClusterRole", "cluster-admin")), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Operation: tc.op, User: tc.user, Object: tc.obj, OldObject: tc.old}
			m, _ := tc.obj.(metav1.Object)
			r.Name, r.Namespace = m.GetName(), m.GetNamespace()
			switch tc.obj.(type) {
			case *rbacv1.Role:
				r.Resource = rolesRes
			case *rbacv1.ClusterRole:
				r.Resource = clusterRolesRes
			case *rbacv1.RoleBinding:
				r.Resource = bindingsRes
			case *rbacv1.ClusterRoleBinding:
				r.Resource = clusterBindRes
			}
			err := e.Admit(context.Background(), r)
			if tc.missing == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.missing) {
				t.Fatalf("err = %v, want Forbidden mentioning %s", err, tc.missing)
			}
		})
	}
}

func TestUncovered(t *testing.T) {
	tests := []struct {
		name string
		held []rbacv1.PolicyRule
		want []rbacv1.PolicyRule
		out  string
	}{
		{"all held", []rbacv1.PolicyRule{pr("get list", "", "pods")}, []rbacv1.PolicyRule{pr("list", "", "pods")}, ""},
		{"verbs merged", []rbacv1.PolicyRule{pr("get", "", "pods")}, []rbacv1.PolicyRule{pr("get list watch", "", "pods")},
			`{APIGroups:[""], Resources:["pods"], Verbs:["list" "watch"]}`},
		{"*/sub held", []rbacv1.PolicyRule{pr("update", "", "*/status")}, []rbacv1.PolicyRule{pr("update", "", "pods/status nodes/status")}, ""},
		{"name not held", []rbacv1.PolicyRule{pr("get", "", "secrets", "a")}, []rbacv1.PolicyRule{pr("get", "", "secrets")},
			`{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`},
		{"path prefix held", []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}}},
			[]rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/apps", "/api"}}}, `{NonResourceURLs:["/api"], Verbs:["get"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range Uncovered(tc.held, tc.want) {
				got = append(got, describeRule(r))
			}
			if s := strings.Join(got, "\n"); s != tc.out {
				t.Fatalf("uncovered = %q, want %q", s, tc.out)
			}
		})
	}
}

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// requireRBAC skips when the server does not serve the RBAC kinds yet.
func requireRBAC(t *testing.T, s *Server) {
	t.Helper()
	out, _, err := s.Kubectl("api-resources", "--api-group=rbac.authorization.k8s.io", "-o", "name")
	if err != nil || !strings.Contains(out, "rolebindings") {
		t.Skip("rbac.authorization.k8s.io is not served")
	}
}

// userKubeconfig writes a kubeconfig for a client certificate the cluster CA
// signs for user in groups, and returns its path.
func userKubeconfig(t *testing.T, s *Server, user string, groups ...string) string {
	t.Helper()
	pki := filepath.Join(filepath.Dir(s.Kubeconfig), "pki")
	ca, err := tls.LoadX509KeyPair(filepath.Join(pki, "ca.crt"), filepath.Join(pki, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: user, Organization: groups},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), ca.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range cfg.AuthInfos {
		ai.ClientCertificateData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		ai.ClientKeyData = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	}
	path := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// canI runs `kubectl auth can-i` and returns its yes/no answer.
func canI(t *testing.T, s *Server, args ...string) string {
	t.Helper()
	out, errOut, err := s.Kubectl(append([]string{"auth", "can-i"}, args...)...)
	answer := strings.TrimSpace(out)
	if answer != "yes" && answer != "no" {
		t.Fatalf("kubectl auth can-i %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return answer
}

func TestRBACThroughKubectl(t *testing.T) {
	s := shared
	requireRBAC(t, s)
	ns, other := namespace(t, s), namespace(t, s)
	user := fmt.Sprintf("jane-%d", time.Now().UnixNano()%100000)
	k(t, s, "-n", ns, "create", "role", "cm-editor", "--verb=get,list,create", "--resource=configmaps")
	k(t, s, "-n", ns, "create", "rolebinding", "cm-editor", "--role=cm-editor", "--user="+user)

	// The authorizer's index follows the store; give it a moment.
	eventually(t, 5*time.Second, func() error {
		if a := canI(t, s, "create", "configmaps", "--as="+user, "-n", ns); a != "yes" {
			return fmt.Errorf("can-i create configmaps = %s", a)
		}
		return nil
	})
	tests := []struct{ verb, resource, ns, want string }{
		{"list", "configmaps", ns, "yes"},
		{"delete", "configmaps", ns, "no"},
		{"create", "configmaps", other, "no"},
		{"get", "secrets", ns, "no"},
		{"create", "selfsubjectaccessreviews.authorization.k8s.io", "", "yes"},
	}
	for _, tc := range tests {
		args := []string{tc.verb, tc.resource, "--as=" + user}
		if tc.ns != "" {
			args = append(args, "-n", tc.ns)
		}
		if got := canI(t, s, args...); got != tc.want {
			t.Errorf("can-i %s %s -n %s as %s = %s, want %s", tc.verb, tc.resource, tc.ns, user, got, tc.want)
		}
	}
	k(t, s, "-n", ns, "create", "configmap", "made-by-jane", "--from-literal=a=b", "--as="+user)

	errOut := kFail(t, s, "get", "configmaps", "-n", other, "--as="+user)
	want := fmt.Sprintf(`configmaps is forbidden: User %q cannot list resource "configmaps" in API group "" in the namespace %q`, user, other)
	if !strings.Contains(errOut, want) {
		t.Errorf("403 message:\n%s\nwant it to contain:\n%s", errOut, want)
	}

	list := k(t, s, "auth", "can-i", "--list", "--as="+user, "-n", ns)
	if !strings.Contains(list, "configmaps") || !strings.Contains(list, "[get list create]") || !strings.Contains(list, "/version") {
		t.Errorf("can-i --list lacks the role's rule or the discovery paths:\n%s", list)
	}

	if out := k(t, s, "auth", "whoami"); !strings.Contains(out, "system:masters") {
		t.Errorf("whoami as admin:\n%s", out)
	}
	out := k(t, s, "auth", "whoami", "--as="+user, "--as-group=devs")
	if !strings.Contains(out, user) || !strings.Contains(out, "[devs system:authenticated]") {
		t.Errorf("whoami --as:\n%s", out)
	}
}

func TestImpersonationNeedsPermission(t *testing.T) {
	s := shared
	requireRBAC(t, s)
	bob := fmt.Sprintf("bob-%d", time.Now().UnixNano()%100000)
	kc := userKubeconfig(t, s, bob, "devs")
	if out := k(t, s, "--kubeconfig", kc, "auth", "whoami"); !strings.Contains(out, bob) {
		t.Fatalf("whoami with the new certificate:\n%s", out)
	}
	errOut := kFail(t, s, "--kubeconfig", kc, "get", "configmaps", "-n", "default", "--as=jane")
	if want := fmt.Sprintf(`users "jane" is forbidden: User %q cannot impersonate resource "users" in API group "" at the cluster scope`, bob); !strings.Contains(errOut, want) {
		t.Fatalf("impersonation refusal:\n%s\nwant:\n%s", errOut, want)
	}
	k(t, s, "create", "clusterrole", bob+"-imp", "--verb=impersonate", "--resource=users", "--resource-name=jane")
	k(t, s, "create", "clusterrolebinding", bob+"-imp", "--clusterrole="+bob+"-imp", "--user="+bob)
	t.Cleanup(func() {
		_, _, _ = s.Kubectl("delete", "clusterrolebinding", bob+"-imp", "--wait=false")
		_, _, _ = s.Kubectl("delete", "clusterrole", bob+"-imp", "--wait=false")
	})
	eventually(t, 5*time.Second, func() error {
		out, errOut, err := s.Kubectl("--kubeconfig", kc, "auth", "whoami", "--as=jane")
		if err != nil || !strings.Contains(out, "jane") {
			return fmt.Errorf("whoami --as=jane: %v %s", err, errOut)
		}
		return nil
	})
	// The grant names one user.
	kFail(t, s, "--kubeconfig", kc, "auth", "whoami", "--as=joe")
}

func TestRBACEscalationRefused(t *testing.T) {
	s := shared
	requireRBAC(t, s)
	ns := namespace(t, s)
	carol := fmt.Sprintf("carol-%d", time.Now().UnixNano()%100000)
	kc := userKubeconfig(t, s, carol)
	k(t, s, "-n", ns, "create", "rolebinding", "carol-admin", "--clusterrole=admin", "--user="+carol)
	eventually(t, 5*time.Second, func() error {
		if a := canI(t, s, "create", "roles", "-n", ns, "--as="+carol); a != "yes" {
			return fmt.Errorf("carol cannot create roles yet")
		}
		return nil
	})
	role := fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: too-much, namespace: %s}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get]}
- {apiGroups: [""], resources: [configmaps], verbs: [get]}
`, ns)
	_, errOut, err := kStdin(t, s, role, "--kubeconfig", kc, "create", "--validate=false", "-f", "-")
	if err == nil || !strings.Contains(errOut, "forbidden") || !strings.Contains(errOut, `Resources:["nodes"]`) || strings.Contains(errOut, `Resources:["configmaps"]`) {
		t.Errorf("a role with permissions carol lacks: err=%v\n%s", err, errOut)
	}
	k(t, s, "--kubeconfig", kc, "-n", ns, "create", "role", "fine", "--verb=get", "--resource=configmaps")
	k(t, s, "--kubeconfig", kc, "-n", ns, "create", "rolebinding", "dave-edit", "--clusterrole=edit", "--user=dave")
	errOut = kFail(t, s, "--kubeconfig", kc, "-n", ns, "create", "rolebinding", "dave-root", "--clusterrole=cluster-admin", "--user=dave")
	if !strings.Contains(errOut, "forbidden") || !strings.Contains(errOut, `ClusterRole "cluster-admin"`) {
		t.Errorf("binding cluster-admin as a namespace admin:\n%s", errOut)
	}
}

func TestNamespaceLifecycleAdmission(t *testing.T) {
	s := shared
	errOut := kFail(t, s, "-n", "no-such-namespace", "create", "configmap", "x", "--from-literal=a=b")
	if !strings.Contains(errOut, `namespaces "no-such-namespace" not found`) {
		t.Errorf("create in a missing namespace:\n%s", errOut)
	}
	for _, name := range []string{"default", "kube-system", "kube-public"} {
		errOut := kFail(t, s, "delete", "namespace", name, "--wait=false")
		if want := fmt.Sprintf(`namespaces %q is forbidden: this namespace may not be deleted`, name); !strings.Contains(errOut, want) {
			t.Errorf("delete namespace %s:\n%s", name, errOut)
		}
	}

	ns := namespace(t, s)
	// A finalizer on content keeps the namespace Terminating while we look.
	k(t, s, "-n", ns, "create", "configmap", "hold", "--from-literal=a=b")
	k(t, s, "-n", ns, "patch", "configmap", "hold", "--type=merge", "-p", `{"metadata":{"finalizers":["e2e.tug.dev/hold"]}}`)
	t.Cleanup(func() {
		_, _, _ = s.Kubectl("-n", ns, "patch", "configmap", "hold", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
	})
	k(t, s, "delete", "namespace", ns, "--wait=false")
	errOut = kFail(t, s, "-n", ns, "create", "configmap", "late", "--from-literal=a=b")
	want := fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", ns)
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, "forbidden") {
		t.Errorf("create in a terminating namespace:\n%s\nwant: %s", errOut, want)
	}
	// Changing existing content is still allowed.
	k(t, s, "-n", ns, "label", "configmap", "hold", "still=here")
}

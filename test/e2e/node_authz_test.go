package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// checkNodeReads checks, with a joined node's own kubeconfig, that the node reads
// the secrets and config maps pods bound to it use and nothing else: not the
// secret of a pod on another node, not an unused one, not a list; and that
// access reviews answer what is enforced.
func checkNodeReads(t *testing.T, s *Server, kc, node, other string) {
	t.Helper()
	ns := namespace(t, s)
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: mine}
stringData: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: theirs}
stringData: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: unused}
stringData: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: mine}
data: {k: v}
---
apiVersion: v1
kind: Pod
metadata: {name: mine}
spec:
  nodeName: %s
  containers:
  - name: c
    image: busybox:1.36
    env: [{name: K, valueFrom: {secretKeyRef: {name: mine, key: k}}}]
  volumes: [{name: cm, configMap: {name: mine}}]
---
apiVersion: v1
kind: Pod
metadata: {name: theirs}
spec:
  nodeName: %s
  containers: [{name: c, image: busybox:1.36}]
  volumes: [{name: s, secret: {secretName: theirs}}]
`, node, other)
	if out, errOut, err := kStdin(t, s, manifest, "-n", ns, "create", "-f", "-"); err != nil {
		t.Fatalf("create: %v\n%s%s", err, out, errOut)
	}
	asNode := func(args ...string) (string, error) { return kubectlAs(s, kc, append([]string{"-n", ns}, args...)...) }
	if got, err := asNode("get", "secret", "mine", "-o", "jsonpath={.data.k}"); err != nil || got != "dg==" {
		t.Fatalf("node %s reading the secret its pod uses: %q, %v", node, got, err)
	}
	if _, err := asNode("get", "configmap", "mine"); err != nil {
		t.Fatalf("node %s reading the config map its pod uses: %v", node, err)
	}
	refused := []struct {
		args []string
		want string
	}{
		{[]string{"get", "secret", "theirs"}, fmt.Sprintf(`no relationship found between node %q and this object`, node)},
		{[]string{"get", "secret", "unused"}, fmt.Sprintf(`no relationship found between node %q and this object`, node)},
		{[]string{"get", "secrets"}, "may not list secrets"},
		{[]string{"get", "configmaps", "-A"}, "may not list configmaps"},
		{[]string{"delete", "secret", "mine", "--wait=false"}, "may not delete secrets"},
	}
	for _, r := range refused {
		out, err := asNode(r.args...)
		if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, r.want) {
			t.Errorf("kubectl %s as %s: err=%v %q, want Forbidden: %s", strings.Join(r.args, " "), node, err, out, r.want)
		}
	}

	// Access reviews go through the same decision: the node asking for itself,
	// and an administrator asking about the node.
	canI := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, _, _ := s.KubectlCtx(ctx, nil, append([]string{"-n", ns, "auth", "can-i"}, args...)...) // "no" exits 1
		return strings.TrimSpace(out)
	}
	reviews := []struct {
		args []string
		want string
	}{
		{[]string{"--kubeconfig", kc, "get", "secrets/mine"}, "yes"},
		{[]string{"--kubeconfig", kc, "get", "secrets/theirs"}, "no"},
		{[]string{"--kubeconfig", kc, "list", "secrets"}, "no"},
		{[]string{"--as", "system:node:" + node, "--as-group", "system:nodes", "get", "secrets/mine"}, "yes"},
		{[]string{"--as", "system:node:" + node, "--as-group", "system:nodes", "get", "secrets/unused"}, "no"},
		{[]string{"--as", "system:node:" + other, "--as-group", "system:nodes", "get", "secrets/theirs"}, "yes"},
	}
	for _, r := range reviews {
		// A "no" comes with the reason: "no - no relationship found ...".
		if got := canI(r.args...); got != r.want && !strings.HasPrefix(got, r.want+" - ") {
			t.Errorf("kubectl auth can-i %s: %q, want %q", strings.Join(r.args, " "), got, r.want)
		}
	}

	// Once the pod is gone, so is the node's access to what it used.
	k(t, s, "-n", ns, "delete", "pod", "mine", "--grace-period=0", "--force", "--wait=false")
	eventually(t, 30*time.Second, func() error {
		out, err := asNode("get", "secret", "mine")
		if err == nil || !strings.Contains(out, "no relationship found") {
			return fmt.Errorf("node %s still reads the secret of its deleted pod: %v %q", node, err, out)
		}
		return nil
	})
}

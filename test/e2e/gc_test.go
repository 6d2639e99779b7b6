package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	policyv1client "k8s.io/client-go/kubernetes/typed/policy/v1"
)

// gone waits until `kubectl get what...` in ns finds nothing.
func gone(t *testing.T, s *Server, ns string, what ...string) {
	t.Helper()
	eventually(t, 90*time.Second, func() error {
		args := append(append([]string{"get"}, what...), "--no-headers", "--ignore-not-found")
		if out := kn(t, s, ns, args...); strings.TrimSpace(out) != "" {
			return fmt.Errorf("still there:\n%s", out)
		}
		return nil
	})
}

func webDeployment(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  replicas: %d
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers: [{name: c, image: "nginx:1"}]
`, name, replicas, name, name)
}

// owners prints "name:ownerKind/ownerName,..." for each object of a kind.
func owners(t *testing.T, s *Server, ns, what, selector string) []string {
	t.Helper()
	out := kn(t, s, ns, "get", what, "-l", selector, "-o", `jsonpath={range .items[*]}{.metadata.name}:{range .metadata.ownerReferences[*]}{.kind}/{.name},{end}{"\n"}{end}`)
	l := lines(out)
	sort.Strings(l)
	return l
}

func TestGarbageCollection(t *testing.T) {
	s := workloadServer(t)
	ns := namespace(t, s)

	t.Run("orphan leaves the dependents without the owner reference", func(t *testing.T) {
		createIn(t, s, ns, webDeployment("orph", 3))
		rolledOut(t, s, ns, "deployment/orph")
		kn(t, s, ns, "delete", "deployment", "orph", "--cascade=orphan", "--timeout=60s")
		gone(t, s, ns, "deployment/orph")
		rs := owners(t, s, ns, "rs", "app=orph")
		if len(rs) != 1 || !strings.HasSuffix(rs[0], ":") {
			t.Fatalf("the replica set should stay, without owner: %v", rs)
		}
		rsName := strings.TrimSuffix(rs[0], ":")
		kn(t, s, ns, "delete", "rs", rsName, "--cascade=orphan", "--timeout=60s")
		gone(t, s, ns, "rs/"+rsName)
		time.Sleep(time.Second)
		pods := owners(t, s, ns, "pods", "app=orph")
		if len(pods) != 3 {
			t.Fatalf("the pods should stay: %v", pods)
		}
		for _, p := range pods {
			if !strings.HasSuffix(p, ":") {
				t.Errorf("pod kept an owner reference: %s", p)
			}
		}
		kn(t, s, ns, "delete", "pods", "-l", "app=orph", "--timeout=60s")
	})

	t.Run("foreground deletes the dependents first", func(t *testing.T) {
		createIn(t, s, ns, webDeployment("fg", 3))
		rolledOut(t, s, ns, "deployment/fg")
		// kubectl waits for the deployment itself to be gone; by then nothing it
		// owned may remain.
		kn(t, s, ns, "delete", "deployment", "fg", "--cascade=foreground", "--timeout=90s")
		if out := kn(t, s, ns, "get", "deployment,rs,pods", "-l", "app=fg", "--no-headers", "--ignore-not-found"); strings.TrimSpace(out) != "" {
			t.Fatalf("left after a foreground delete returned: %s", out)
		}
	})

	t.Run("background deletes the dependents after the owner", func(t *testing.T) {
		createIn(t, s, ns, webDeployment("bg", 2))
		rolledOut(t, s, ns, "deployment/bg")
		kn(t, s, ns, "delete", "deployment", "bg")
		gone(t, s, ns, "rs,pods", "-l", "app=bg")
	})

	t.Run("owners that are missing or replaced", func(t *testing.T) {
		kn(t, s, ns, "create", "configmap", "owner")
		uid := kn(t, s, ns, "get", "configmap", "owner", "-o", "jsonpath={.metadata.uid}")
		dependent := func(name, ownerName, ownerUID string) string {
			return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: %s, uid: %s}]
`, name, ownerName, ownerUID)
		}
		createIn(t, s, ns,
			dependent("kept", "owner", uid),
			dependent("never-existed", "nobody", "7d2f0a0e-0000-4000-8000-000000000001"),
			dependent("wrong-uid", "owner", "7d2f0a0e-0000-4000-8000-000000000002"))
		gone(t, s, ns, "configmap/never-existed")
		gone(t, s, ns, "configmap/wrong-uid")
		if out := strings.TrimSpace(kn(t, s, ns, "get", "configmap", "kept", "-o", "name")); out != "configmap/kept" {
			t.Fatalf("a dependent of a live owner was deleted: %q", out)
		}
		kn(t, s, ns, "delete", "configmap", "owner")
		gone(t, s, ns, "configmap/kept")
	})

	t.Run("deleting a namespace deletes its content, then the namespace", func(t *testing.T) {
		ns2 := namespace(t, s)
		createIn(t, s, ns2, webDeployment("web", 3))
		kn(t, s, ns2, "create", "service", "clusterip", "web", "--tcp=80")
		kn(t, s, ns2, "create", "configmap", "c", "--from-literal=a=b")
		kn(t, s, ns2, "create", "secret", "generic", "s", "--from-literal=a=b")
		rolledOut(t, s, ns2, "deployment/web")
		eventually(t, 30*time.Second, func() error {
			if out := strings.TrimSpace(kn(t, s, ns2, "get", "serviceaccount", "default", "-o", "name", "--ignore-not-found")); out != "serviceaccount/default" {
				return fmt.Errorf("no default service account yet")
			}
			return nil
		})
		k(t, s, "delete", "namespace", ns2, "--timeout=90s")
		if out, _, err := s.Kubectl("get", "namespace", ns2); err == nil {
			t.Fatalf("namespace still there after delete returned: %s", out)
		}
	})
}

func TestDefaultServiceAccountIsRecreated(t *testing.T) {
	ns := namespace(t, shared)
	eventually(t, 30*time.Second, func() error {
		if out := strings.TrimSpace(kn(t, shared, ns, "get", "serviceaccount", "default", "-o", "name", "--ignore-not-found")); out != "serviceaccount/default" {
			return fmt.Errorf("no default service account")
		}
		return nil
	})
	uid := kn(t, shared, ns, "get", "serviceaccount", "default", "-o", "jsonpath={.metadata.uid}")
	kn(t, shared, ns, "delete", "serviceaccount", "default")
	eventually(t, 30*time.Second, func() error {
		now := kn(t, shared, ns, "get", "serviceaccount", "default", "-o", "jsonpath={.metadata.uid}", "--ignore-not-found")
		if now == "" || now == uid {
			return fmt.Errorf("not recreated yet")
		}
		return nil
	})
}

func TestPodDisruptionBudgetStatus(t *testing.T) {
	s := workloadServer(t)
	ns := namespace(t, s)
	createIn(t, s, ns, webDeployment("web", 4))
	kn(t, s, ns, "create", "pdb", "web", "--selector=app=web", "--max-unavailable=25%")
	rolledOut(t, s, ns, "deployment/web")
	eventually(t, 60*time.Second, func() error {
		out := kn(t, s, ns, "get", "pdb", "web", "-o", `jsonpath={.status.currentHealthy} {.status.desiredHealthy} {.status.disruptionsAllowed} {.status.expectedPods} {.status.conditions[0].reason}`)
		if out != "4 3 1 4 SufficientPods" {
			return fmt.Errorf("status %q", out)
		}
		return nil
	})
	// One eviction spends the allowance; a second one is refused until the
	// replacement pod is healthy.
	pods := podsOf(t, s, ns, "app=web")
	cs := clientset(t, s)
	if err := evict(cs, ns, pods[0]); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	if err := evict(cs, ns, pods[1]); err == nil || !strings.Contains(err.Error(), "disruption budget") {
		t.Fatalf("second eviction: %v", err)
	}
	eventually(t, 60*time.Second, func() error {
		out := kn(t, s, ns, "get", "pdb", "web", "-o", `jsonpath={.status.currentHealthy} {.status.disruptionsAllowed}`)
		if out != "4 1" {
			return fmt.Errorf("status %q", out)
		}
		return nil
	})
}

func evict(cs interface {
	PolicyV1() policyv1client.PolicyV1Interface
}, ns, pod string) error {
	return cs.PolicyV1().Evictions(ns).Evict(context.Background(), &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pod}})
}

package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestExplainAndCreateTwice(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	out := k(t, s, "explain", "pod.spec.containers")
	if !strings.Contains(out, "FIELD: containers") || !strings.Contains(out, "image") {
		t.Fatalf("explain:\n%s", out)
	}
	out = k(t, s, "explain", "deployment.spec.strategy", "--recursive")
	if !strings.Contains(out, "maxSurge") {
		t.Fatalf("explain --recursive:\n%s", out)
	}
	m := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: twice\ndata:\n  a: b\n"
	if _, errOut, err := kStdin(t, s, m, "-n", ns, "create", "-f", "-"); err != nil {
		t.Fatal(errOut)
	}
	_, errOut, err := kStdin(t, s, m, "-n", ns, "create", "-f", "-")
	if err == nil || !strings.Contains(errOut, "AlreadyExists") || !strings.Contains(errOut, `configmaps "twice" already exists`) {
		t.Fatalf("second create -f: %v %s", err, errOut)
	}
}

// TestRestartKeepsState restarts a server on the same data: objects, resource
// versions and credentials survive, and watches resume.
func TestRestartKeepsState(t *testing.T) {
	s := newServer(t)
	k(t, s, "create", "namespace", "keep")
	k(t, s, "-n", "keep", "create", "configmap", "c", "--from-literal=a=b")
	rv := k(t, s, "-n", "keep", "get", "cm", "c", "-o", "jsonpath={.metadata.resourceVersion}")
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := k(t, s, "-n", "keep", "get", "cm", "c", "-o", "jsonpath={.metadata.resourceVersion} {.data.a}"); got != rv+" b" {
		t.Fatalf("after restart: %q, want %q", got, rv+" b")
	}
	k(t, s, "-n", "keep", "create", "configmap", "d")
	out := k(t, s, "get", "ns")
	if !strings.Contains(out, "keep") || !strings.Contains(out, "kube-system") {
		t.Fatalf("namespaces after restart:\n%s", out)
	}
}

// TestExternalEtcd runs a second API server on the first one's etcd (--etcd-servers):
// what one writes, the other serves.
func TestExternalEtcd(t *testing.T) {
	a := newServer(t)
	var url string
	re := regexp.MustCompile(`clientURL=(http://127\.0\.0\.1:\d+)`)
	eventually(t, 10*time.Second, func() error {
		m := re.FindStringSubmatch(a.LogTail(50))
		if m == nil {
			return errString("no etcd client URL in the log yet")
		}
		url = m[1]
		return nil
	})
	b := newServer(t, "--etcd-servers", url)
	k(t, b, "create", "configmap", "from-b", "--from-literal=x=1")
	eventually(t, 10*time.Second, func() error {
		out, _, err := a.Kubectl("get", "cm", "from-b", "-o", "jsonpath={.data.x}")
		if err != nil || out != "1" {
			return errString("not visible on the first server yet: " + out)
		}
		return nil
	})
	// A watch on one server sees a change made through the other.
	k(t, a, "label", "cm", "from-b", "via=a")
	eventually(t, 10*time.Second, func() error {
		out, _, _ := b.Kubectl("get", "cm", "-l", "via=a", "-o", "name")
		if strings.TrimSpace(out) != "configmap/from-b" {
			return errString("label not visible on the second server: " + out)
		}
		return nil
	})
}

type errString string

func (e errString) Error() string { return string(e) }

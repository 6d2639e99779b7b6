package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func TestVersionAndDiscovery(t *testing.T) {
	s := shared
	out, errOut, err := s.Kubectl("version")
	if err != nil {
		t.Fatalf("kubectl version: %v %s", err, errOut)
	}
	if !strings.Contains(out, "Server Version: v1.32.") {
		t.Fatalf("server version not 1.32:\n%s", out)
	}
	if strings.Contains(strings.ToLower(out+errOut), "warning") {
		t.Fatalf("kubectl warned about the server version:\n%s%s", out, errOut)
	}
	res := k(t, s, "api-resources")
	for _, want := range []string{"namespaces", "configmaps"} {
		if !strings.Contains(res, want) {
			t.Errorf("api-resources lacks %s:\n%s", want, res)
		}
	}
	ns := k(t, s, "get", "ns", "-o", "name")
	for _, want := range []string{"namespace/default", "namespace/kube-system", "namespace/kube-public", "namespace/kube-node-lease"} {
		if !strings.Contains(ns, want) {
			t.Errorf("missing %s in:\n%s", want, ns)
		}
	}
	// Legacy discovery, used by `kubectl auth can-i` and drain, and the groups list.
	raw := k(t, s, "get", "--raw", "/api/v1")
	var rl metav1.APIResourceList
	if err := json.Unmarshal([]byte(raw), &rl); err != nil || rl.GroupVersion != "v1" {
		t.Fatalf("/api/v1: %v %s", err, raw)
	}
	k(t, s, "get", "--raw", "/apis")
}

func TestUnauthenticatedIs401(t *testing.T) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(shared.URL + "/api/v1/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st metav1.Status
	_ = json.NewDecoder(resp.Body).Decode(&st)
	if resp.StatusCode != 401 || st.Reason != metav1.StatusReasonUnauthorized {
		t.Fatalf("anonymous list: got %d %+v, want 401 Unauthorized", resp.StatusCode, st)
	}
	resp2, err := client.Get(shared.URL + "/version")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Fatalf("/version without credentials: %d, want 200", resp2.StatusCode)
	}
}

func TestConfigMapLifecycle(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	k(t, s, "-n", ns, "create", "configmap", "app", "--from-literal=color=blue")
	// Creating it again is a 409 AlreadyExists.
	errOut := kFail(t, s, "-n", ns, "create", "configmap", "app", "--from-literal=color=red")
	if !strings.Contains(errOut, `configmaps "app" already exists`) {
		t.Fatalf("second create: %s", errOut)
	}
	if got := k(t, s, "-n", ns, "get", "cm", "app", "-o", "jsonpath={.data.color}"); got != "blue" {
		t.Fatalf("data after failed create: %q", got)
	}
	// The three patch types.
	k(t, s, "-n", ns, "patch", "cm", "app", "-p", `{"data":{"size":"L"}}`)
	k(t, s, "-n", ns, "patch", "cm", "app", "--type=merge", "-p", `{"data":{"shape":"round"}}`)
	k(t, s, "-n", ns, "patch", "cm", "app", "--type=json", "-p", `[{"op":"replace","path":"/data/color","value":"green"}]`)
	data := k(t, s, "-n", ns, "get", "cm", "app", "-o", "jsonpath={.data}")
	for _, want := range []string{`"color":"green"`, `"size":"L"`, `"shape":"round"`} {
		if !strings.Contains(data, want) {
			t.Errorf("after patches data=%s lacks %s", data, want)
		}
	}
	// A JSON patch that fails changes nothing.
	kFail(t, s, "-n", ns, "patch", "cm", "app", "--type=json", "-p", `[{"op":"remove","path":"/data/nope"}]`)
	// label / annotate, and label selectors.
	k(t, s, "-n", ns, "label", "cm", "app", "tier=web")
	k(t, s, "-n", ns, "annotate", "cm", "app", "owner=team-a")
	k(t, s, "-n", ns, "create", "configmap", "other")
	if got := k(t, s, "-n", ns, "get", "cm", "-l", "tier=web", "-o", "name"); strings.TrimSpace(got) != "configmap/app" {
		t.Fatalf("label selector: %q", got)
	}
	if got := k(t, s, "-n", ns, "get", "cm", "-l", "tier!=web", "-o", "name"); !strings.Contains(got, "configmap/other") || strings.Contains(got, "configmap/app") {
		t.Fatalf("negative label selector: %q", got)
	}
	if got := k(t, s, "-n", ns, "get", "cm", "--field-selector", "metadata.name=other", "-o", "name"); strings.TrimSpace(got) != "configmap/other" {
		t.Fatalf("field selector: %q", got)
	}
	errOut = kFail(t, s, "-n", ns, "get", "cm", "--field-selector", "spec.bogus=1")
	if !strings.Contains(errOut, "field label not supported") {
		t.Fatalf("unsupported field selector: %s", errOut)
	}
	if got := k(t, s, "-n", ns, "get", "cm", "app", "-o", "jsonpath={.metadata.annotations.owner}"); got != "team-a" {
		t.Fatalf("annotation: %q", got)
	}
	// Output formats.
	y := k(t, s, "-n", ns, "get", "cm", "app", "-o", "yaml")
	if !strings.Contains(y, "kind: ConfigMap") || !strings.Contains(y, "resourceVersion:") || !strings.Contains(y, "uid:") {
		t.Fatalf("-o yaml:\n%s", y)
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal([]byte(k(t, s, "-n", ns, "get", "cm", "app", "-o", "json")), &cm); err != nil || cm.Name != "app" || cm.CreationTimestamp.IsZero() {
		t.Fatalf("-o json: %v %+v", err, cm)
	}
	table := lines(k(t, s, "-n", ns, "get", "cm"))
	if len(table) < 3 || !strings.HasPrefix(table[0], "NAME") || !strings.Contains(table[0], "DATA") || !strings.Contains(table[0], "AGE") {
		t.Fatalf("table:\n%s", strings.Join(table, "\n"))
	}
	// delete
	k(t, s, "-n", ns, "delete", "cm", "app")
	errOut = kFail(t, s, "-n", ns, "get", "cm", "app")
	if !strings.Contains(errOut, `configmaps "app" not found`) {
		t.Fatalf("get after delete: %s", errOut)
	}
}

func TestDryRunServerChangesNothing(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	out := k(t, s, "-n", ns, "create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server", "-o", "yaml")
	if !strings.Contains(out, "name: dry") {
		t.Fatalf("dry-run output:\n%s", out)
	}
	kFail(t, s, "-n", ns, "get", "cm", "dry")
	k(t, s, "-n", ns, "create", "configmap", "real", "--from-literal=a=b")
	k(t, s, "-n", ns, "patch", "cm", "real", "-p", `{"data":{"a":"changed"}}`, "--dry-run=server")
	if got := k(t, s, "-n", ns, "get", "cm", "real", "-o", "jsonpath={.data.a}"); got != "b" {
		t.Fatalf("dry-run patch changed data to %q", got)
	}
	k(t, s, "-n", ns, "delete", "cm", "real", "--dry-run=server")
	k(t, s, "-n", ns, "get", "cm", "real")
}

func TestChunkedList(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	for i := 0; i < 7; i++ {
		k(t, s, "-n", ns, "create", "configmap", "c"+string(rune('a'+i)))
	}
	got := lines(k(t, s, "-n", ns, "get", "cm", "--chunk-size=2", "-o", "name"))
	// kube-root-ca.crt may or may not exist; count ours.
	n := 0
	for _, l := range got {
		if strings.HasPrefix(l, "configmap/c") && len(l) == len("configmap/ca") {
			n++
		}
	}
	if n != 7 {
		t.Fatalf("chunked list returned %d of 7:\n%v", n, got)
	}
	tbl := lines(k(t, s, "-n", ns, "get", "cm", "--chunk-size=3"))
	if !strings.HasPrefix(tbl[0], "NAME") {
		t.Fatalf("chunked table: %v", tbl)
	}
}

func TestInvalidInput(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	cases := []struct {
		name     string
		manifest string
		args     []string
		want     []string
	}{
		{"bad name", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n", nil,
			[]string{"Invalid", "metadata.name", "RFC 1123"}},
		{"missing name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", nil,
			[]string{"metadata.name", "name or generateName is required"}},
		{"bad label", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    'a b': c\n", nil,
			[]string{"Invalid", "metadata.labels"}},
		{"malformed yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n", nil,
			[]string{"error"}},
		{"unknown field strict", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\nbogus: 1\n", []string{"--validate=strict"},
			[]string{"bogus"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"-n", ns, "create", "-f", "-"}, c.args...)
			_, errOut, err := kStdin(t, s, c.manifest, args...)
			if err == nil {
				t.Fatalf("create succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
	// Nothing was stored.
	if got := k(t, s, "-n", ns, "get", "cm", "-o", "name"); strings.Contains(got, "strict") || strings.Contains(got, "configmap/x") {
		t.Fatalf("invalid objects were stored: %s", got)
	}
	// Objects cannot be created in a namespace that does not exist.
	errOut := kFail(t, s, "-n", "no-such-ns", "create", "configmap", "x")
	// kubectl prints the Status message, as against Kubernetes: namespaces "no-such-ns" not found.
	if !strings.Contains(errOut, `namespaces "no-such-ns" not found`) {
		t.Fatalf("create in a missing namespace: %s", errOut)
	}
}

func TestGetWatch(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	k(t, s, "-n", ns, "create", "configmap", "before")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type result struct{ out string }
	done := make(chan result, 1)
	go func() {
		out, _, _ := s.KubectlCtx(ctx, nil, "-n", ns, "get", "cm", "-w", "--request-timeout=8s")
		done <- result{out}
	}()
	time.Sleep(1500 * time.Millisecond)
	k(t, s, "-n", ns, "create", "configmap", "during")
	r := <-done
	if !strings.Contains(r.out, "before") || !strings.Contains(r.out, "during") {
		t.Fatalf("get -w output:\n%s", r.out)
	}
}

// TestClientGoWatch drives a watch with client-go: events arrive in order, a watch
// resumes from a resourceVersion, and selectors filter.
func TestClientGoWatch(t *testing.T) {
	s := shared
	ns := namespace(t, s)
	cs := clientset(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w1", Labels: map[string]string{"app": "x"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion, LabelSelector: "app=x"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w2", Labels: map[string]string{"app": "x"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first.Data = map[string]string{"k": "v"}
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, first, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "w2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ  watch.EventType
		name string
	}{{watch.Added, "w2"}, {watch.Modified, "w1"}, {watch.Deleted, "w2"}}
	for _, wnt := range want {
		select {
		case ev := <-w.ResultChan():
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if !ok || ev.Type != wnt.typ || cm.Name != wnt.name {
				t.Fatalf("got %s %v, want %s %s", ev.Type, ev.Object, wnt.typ, wnt.name)
			}
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s %s", wnt.typ, wnt.name)
		}
	}
	// A stale resourceVersion on update is a Conflict.
	first.Data = map[string]string{"k": "stale"}
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, first, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "the object has been modified") {
		t.Fatalf("stale update: %v", err)
	}
}

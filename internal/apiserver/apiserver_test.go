package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestParseRequestInfo(t *testing.T) {
	cases := []struct {
		method, url                                   string
		verb, group, version, ns, resource, name, sub string
		isResource                                    bool
	}{
		{"GET", "/api/v1/namespaces/default/pods", "list", "", "v1", "default", "pods", "", "", true},
		{"GET", "/api/v1/namespaces/default/pods?watch=true", "watch", "", "v1", "default", "pods", "", "", true},
		{"GET", "/api/v1/namespaces/default/pods/nginx", "get", "", "v1", "default", "pods", "nginx", "", true},
		{"POST", "/api/v1/namespaces/default/pods/nginx/eviction", "create", "", "v1", "default", "pods", "nginx", "eviction", true},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/web/scale", "patch", "apps", "v1", "ns", "deployments", "web", "scale", true},
		{"DELETE", "/apis/apps/v1/namespaces/ns/deployments", "deletecollection", "apps", "v1", "ns", "deployments", "", "", true},
		{"GET", "/api/v1/namespaces", "list", "", "v1", "", "namespaces", "", "", true},
		{"GET", "/api/v1/namespaces/demo", "get", "", "v1", "", "namespaces", "demo", "", true},
		{"PUT", "/api/v1/namespaces/demo/finalize", "update", "", "v1", "", "namespaces", "demo", "finalize", true},
		{"GET", "/api/v1/nodes/n1", "get", "", "v1", "", "nodes", "n1", "", true},
		{"GET", "/apis/apps/v1", "get", "apps", "v1", "", "", "", "", false},
		{"GET", "/version", "get", "", "", "", "", "", "", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.url, nil)
		info := parseRequestInfo(r)
		if info.Verb != c.verb || info.Group != c.group || info.Version != c.version || info.Namespace != c.ns ||
			info.Resource != c.resource || info.Name != c.name || info.Subresource != c.sub || info.IsResource != c.isResource {
			t.Errorf("%s %s: got %+v", c.method, c.url, info)
		}
	}
	// A WebSocket exec is a GET that creates a session: authorized as create.
	r := httptest.NewRequest("GET", "/api/v1/namespaces/d/pods/p/exec?command=sh", nil)
	r.Header.Set("Connection", "Upgrade")
	if v := parseRequestInfo(r).Verb; v != "create" {
		t.Errorf("websocket exec verb = %s, want create", v)
	}
}

func TestNegotiate(t *testing.T) {
	cases := []struct {
		accept, media, as, asVersion string
		fail                         bool
	}{
		{"", mediaJSON, "", "", false},
		{"application/json, */*", mediaJSON, "", "", false},
		{"application/vnd.kubernetes.protobuf,application/json", mediaProtobuf, "", "", false},
		{"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", mediaJSON, "Table", "v1", false},
		{"application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json", mediaJSON, "", "", false},
		{"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", mediaJSON, "PartialObjectMetadataList", "v1", false},
		{"application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json", mediaJSON, "PartialObjectMetadataList", "v1", false},
		{"application/json;as=Bogus;v=v1;g=meta.k8s.io,application/yaml", mediaYAML, "", "", false},
		{"text/html", "", "", "", true},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/api/v1/pods", nil)
		r.Header.Set("Accept", c.accept)
		o, err := negotiate(r)
		if c.fail {
			if err == nil {
				t.Errorf("%q: want 406", c.accept)
			} else if st := statusFor(err); st.Code != http.StatusNotAcceptable {
				t.Errorf("%q: code %d, want 406", c.accept, st.Code)
			}
			continue
		}
		if err != nil || o.media != c.media || o.as != c.as || o.asVersion != c.asVersion {
			t.Errorf("%q: got %+v %v", c.accept, o, err)
		}
	}
}

func TestApplyPatchTypes(t *testing.T) {
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"a": "1"}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "nginx", Image: "nginx:1"}, {Name: "side", Image: "busybox:1"},
		}}}},
	}
	orig, _ := json.Marshal(dep)
	decode := func(b []byte) *appsv1.Deployment {
		var d appsv1.Deployment
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	// Strategic merge: containers merge by name, the other container is kept.
	out, err := applyPatch(types.StrategicMergePatchType, orig, []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:2"}]}}}}`), &appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	d := decode(out)
	if len(d.Spec.Template.Spec.Containers) != 2 || d.Spec.Template.Spec.Containers[1].Image != "busybox:2" || d.Spec.Template.Spec.Containers[0].Image != "nginx:1" {
		t.Fatalf("strategic merge: %+v", d.Spec.Template.Spec.Containers)
	}
	// Merge patch: lists are replaced; null deletes a key.
	out, err = applyPatch(types.MergePatchType, orig, []byte(`{"metadata":{"labels":{"a":null,"b":"2"}},"spec":{"template":{"spec":{"containers":[{"name":"only","image":"x"}]}}}}`), &appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	d = decode(out)
	if len(d.Spec.Template.Spec.Containers) != 1 || d.Labels["b"] != "2" || d.Labels["a"] != "" {
		t.Fatalf("merge patch: %+v %+v", d.Labels, d.Spec.Template.Spec.Containers)
	}
	// JSON patch, including a failing test operation (422) and a malformed patch (400).
	out, err = applyPatch(types.JSONPatchType, orig, []byte(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:2"}]`), &appsv1.Deployment{})
	if err != nil || decode(out).Spec.Template.Spec.Containers[0].Image != "nginx:2" {
		t.Fatalf("json patch: %v", err)
	}
	_, err = applyPatch(types.JSONPatchType, orig, []byte(`[{"op":"test","path":"/metadata/name","value":"other"}]`), &appsv1.Deployment{})
	if st := statusFor(err); st.Code != http.StatusUnprocessableEntity {
		t.Fatalf("failing test op: %v", err)
	}
	_, err = applyPatch(types.JSONPatchType, orig, []byte(`{"not":"a list"}`), &appsv1.Deployment{})
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("malformed json patch: %v", err)
	}
	_, err = applyPatch(types.StrategicMergePatchType, orig, []byte(`[1,2]`), &appsv1.Deployment{})
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("malformed strategic patch: %v", err)
	}
}

func TestPropagationPolicy(t *testing.T) {
	orphan, bg := true, false
	fg := metav1.DeletePropagationForeground
	bogus := metav1.DeletionPropagation("Sideways")
	cases := []struct {
		opts metav1.DeleteOptions
		want metav1.DeletionPropagation
		bad  bool
	}{
		{metav1.DeleteOptions{}, metav1.DeletePropagationBackground, false},
		{metav1.DeleteOptions{OrphanDependents: &orphan}, metav1.DeletePropagationOrphan, false},
		{metav1.DeleteOptions{OrphanDependents: &bg}, metav1.DeletePropagationBackground, false},
		{metav1.DeleteOptions{PropagationPolicy: &fg}, metav1.DeletePropagationForeground, false},
		{metav1.DeleteOptions{PropagationPolicy: &bogus}, "", true},
		{metav1.DeleteOptions{PropagationPolicy: &fg, OrphanDependents: &orphan}, "", true},
	}
	for i, c := range cases {
		got, err := propagationPolicy(&c.opts)
		if c.bad != (err != nil) || got != c.want {
			t.Errorf("case %d: got %q %v", i, got, err)
		}
		if c.bad && !apierrors.IsInvalid(err) {
			t.Errorf("case %d: want 422 Invalid, got %v", i, err)
		}
	}
}

func TestSpecChanged(t *testing.T) {
	a := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{MinReadySeconds: 1}}
	b := a.DeepCopy()
	b.Labels = map[string]string{"x": "y"}
	b.Status.Replicas = 3
	if specChanged(b, a, nil) {
		t.Fatal("metadata and status changes must not bump generation")
	}
	b.Spec.MinReadySeconds = 2
	if !specChanged(b, a, nil) {
		t.Fatal("a spec change must bump generation")
	}
}

func TestStatusForNonAPIError(t *testing.T) {
	st := statusFor(errString("boom"))
	if st.Code != 500 || st.Kind != "Status" || !strings.Contains(st.Message, "boom") {
		t.Fatalf("%+v", st)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// An unknown path answers 404 with empty details, as clients expect (kubectl debug
// reads details.name to tell a missing subresource from a missing pod).
func TestUnknownPathHasEmptyDetails(t *testing.T) {
	rec := httptest.NewRecorder()
	writeError(rec, httptest.NewRequest("GET", "/api/v1/namespaces/default/pods/p/nosuch", nil), notFoundPath())
	body := rec.Body.String()
	if rec.Code != 404 || !strings.Contains(body, `"reason":"NotFound"`) || !strings.Contains(body, `"details":{}`) {
		t.Fatalf("%d %s", rec.Code, body)
	}
}

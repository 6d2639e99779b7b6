package openapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/spec3"
)

// patchSupport mirrors how kubectl decides that the server validates fields:
// the first PATCH operation of the kind must declare the fieldValidation query
// parameter, and strategic merge patch must be among its body types.
func patchSupport(doc *spec3.OpenAPI, gvk schema.GroupVersionKind) error {
	for path, p := range doc.Paths.Paths {
		op := p.Patch
		if op == nil {
			continue
		}
		g, ok := op.Extensions[extGVK].(map[string]interface{})
		if !ok || g["group"] != gvk.Group || g["version"] != gvk.Version || g["kind"] != gvk.Kind {
			continue
		}
		found := false
		for _, param := range op.Parameters {
			if param.Name == "fieldValidation" && param.In == "query" {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: PATCH has no fieldValidation parameter", path)
		}
		if op.RequestBody == nil || op.RequestBody.Content["application/strategic-merge-patch+json"] == nil {
			return fmt.Errorf("%s: PATCH does not take strategic merge patches", path)
		}
		return nil
	}
	return fmt.Errorf("no PATCH operation for %s", gvk)
}

func TestPaths(t *testing.T) {
	h := testHandler(t)
	apps := v3Doc(t, h, "apis/apps/v1")
	core := v3Doc(t, h, "api/v1")
	authz := v3Doc(t, h, "apis/authorization.k8s.io/v1")

	for _, gvk := range []schema.GroupVersionKind{
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Version: "v1", Kind: "ConfigMap"},
		{Version: "v1", Kind: "Namespace"},
		{Version: "v1", Kind: "Pod"},
	} {
		doc := core
		if gvk.Group == "apps" {
			doc = apps
		}
		if err := patchSupport(doc, gvk); err != nil {
			t.Errorf("%s: %v", gvk, err)
		}
	}

	type opWant struct {
		doc     *spec3.OpenAPI
		path    string
		method  string
		action  string // "" = the operation must not exist
		id      string
		kind    string
		params  []string // query parameters the operation must declare
		bodyCTs []string
	}
	dep := "/apis/apps/v1/namespaces/{namespace}/deployments"
	tests := []opWant{
		{apps, dep, "get", "list", "listAppsV1NamespacedDeployment", "Deployment", []string{"labelSelector", "fieldSelector", "limit", "continue", "watch", "resourceVersion"}, nil},
		{apps, dep, "post", "post", "createAppsV1NamespacedDeployment", "Deployment", []string{"dryRun", "fieldManager", "fieldValidation"}, []string{"*/*"}},
		{apps, dep, "delete", "deletecollection", "deleteAppsV1CollectionNamespacedDeployment", "Deployment", []string{"labelSelector", "propagationPolicy"}, []string{"*/*"}},
		{apps, dep + "/{name}", "get", "get", "readAppsV1NamespacedDeployment", "Deployment", nil, nil},
		{apps, dep + "/{name}", "put", "put", "replaceAppsV1NamespacedDeployment", "Deployment", []string{"fieldValidation"}, []string{"*/*"}},
		{apps, dep + "/{name}", "patch", "patch", "patchAppsV1NamespacedDeployment", "Deployment", []string{"dryRun", "fieldManager", "fieldValidation", "force"},
			[]string{"application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"}},
		{apps, dep + "/{name}", "delete", "delete", "deleteAppsV1NamespacedDeployment", "Deployment", []string{"gracePeriodSeconds", "propagationPolicy"}, []string{"*/*"}},
		{apps, dep + "/{name}/status", "patch", "patch", "patchAppsV1NamespacedDeploymentStatus", "Deployment", []string{"fieldValidation"}, nil},
		{apps, dep + "/{name}/scale", "patch", "patch", "patchAppsV1NamespacedDeploymentScale", "Scale", []string{"fieldValidation", "force"}, nil},
		{apps, dep + "/{name}/scale", "get", "get", "readAppsV1NamespacedDeploymentScale", "Scale", nil, nil},
		{apps, "/apis/apps/v1/deployments", "get", "list", "listAppsV1DeploymentForAllNamespaces", "Deployment", []string{"watch"}, nil},
		{apps, "/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}", "get", "watch", "watchAppsV1NamespacedDeployment", "Deployment", nil, nil},
		{core, "/api/v1/namespaces", "get", "list", "listCoreV1Namespace", "Namespace", nil, nil},
		{core, "/api/v1/namespaces/{name}/status", "put", "put", "replaceCoreV1NamespaceStatus", "Namespace", nil, nil},
		{core, "/api/v1/namespaces/{namespace}/configmaps/{name}/status", "get", "", "", "", nil, nil},
		{authz, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "post", "post", "createAuthorizationV1SelfSubjectAccessReview", "SelfSubjectAccessReview", []string{"fieldValidation"}, nil},
		{authz, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "get", "", "", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var op *spec3.Operation
			if p := tt.doc.Paths.Paths[tt.path]; p != nil {
				op = map[string]*spec3.Operation{"get": p.Get, "put": p.Put, "post": p.Post, "patch": p.Patch, "delete": p.Delete}[tt.method]
			}
			if tt.action == "" {
				if op != nil {
					t.Fatalf("unexpected operation %s", op.OperationId)
				}
				return
			}
			if op == nil {
				t.Fatal("missing")
			}
			if op.OperationId != tt.id || op.Extensions[extAction] != tt.action {
				t.Errorf("id %q action %v, want %q %q", op.OperationId, op.Extensions[extAction], tt.id, tt.action)
			}
			if g, _ := op.Extensions[extGVK].(map[string]interface{}); g["kind"] != tt.kind {
				t.Errorf("kind %v, want %s", g, tt.kind)
			}
			have := map[string]bool{}
			for _, p := range op.Parameters {
				have[p.Name] = p.In == "query"
			}
			for _, p := range tt.params {
				if !have[p] {
					t.Errorf("no query parameter %s", p)
				}
			}
			if tt.bodyCTs != nil {
				var got []string
				if op.RequestBody != nil {
					for ct := range op.RequestBody.Content {
						got = append(got, ct)
					}
				}
				sort.Strings(got)
				if strings.Join(got, ",") != strings.Join(tt.bodyCTs, ",") {
					t.Errorf("body types %v, want %v", got, tt.bodyCTs)
				}
			}
		})
	}

	// Path parameters live on the path item.
	item := apps.Paths.Paths[dep+"/{name}"]
	var names []string
	for _, p := range item.Parameters {
		names = append(names, p.In+":"+p.Name)
	}
	if strings.Join(names, ",") != "path:name,path:namespace,query:pretty" {
		t.Errorf("path parameters %v", names)
	}
}

// TestDocumentsAreSelfContained checks every $ref of every document resolves
// within that document.
func TestDocumentsAreSelfContained(t *testing.T) {
	h := testHandler(t)
	check := func(name string, body []byte, prefix string, defs map[string]json.RawMessage) {
		var walk func(v interface{})
		walk = func(v interface{}) {
			switch x := v.(type) {
			case map[string]interface{}:
				if r, ok := x["$ref"].(string); ok {
					if !strings.HasPrefix(r, prefix) {
						t.Errorf("%s: ref %q does not start with %q", name, r, prefix)
					} else if _, ok := defs[strings.TrimPrefix(r, prefix)]; !ok {
						t.Errorf("%s: dangling ref %q", name, r)
					}
				}
				for _, e := range x {
					walk(e)
				}
			case []interface{}:
				for _, e := range x {
					walk(e)
				}
			}
		}
		var v interface{}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		walk(v)
	}
	var v2 struct {
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	json.Unmarshal(h.docs.v2.json, &v2)
	check("v2", h.docs.v2.json, "#/definitions/", v2.Definitions)
	for key, b := range h.docs.v3 {
		var d struct {
			Components struct {
				Schemas map[string]json.RawMessage `json:"schemas"`
			} `json:"components"`
		}
		json.Unmarshal(b.json, &d)
		check(key, b.json, "#/components/schemas/", d.Components.Schemas)
	}
}

func get(t *testing.T, h http.Handler, target string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServeV3(t *testing.T) {
	h := testHandler(t)
	resp := get(t, h, "/openapi/v3?timeout=32s", "Accept", "application/json, */*")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("index: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var index struct {
		Paths map[string]struct {
			URL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(readAll(t, resp), &index); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range index.Paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, " ") != "api/v1 apis/apps/v1 apis/authorization.k8s.io/v1" {
		t.Fatalf("index keys %v", keys)
	}

	url := index.Paths["apis/apps/v1"].URL
	resp = get(t, h, url+"&timeout=32s", "Accept", "application/json")
	body := readAll(t, resp)
	hash := fmt.Sprintf("%X", sha512.Sum512(body))
	tests := []struct{ header, want string }{
		{"Content-Type", "application/json"},
		{"Etag", `"` + hash + `"`},
		{"Cache-Control", "public, immutable"},
	}
	for _, tt := range tests {
		if got := resp.Header.Get(tt.header); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.header, got, tt.want)
		}
	}
	if !strings.HasSuffix(url, "?hash="+hash) {
		t.Errorf("index URL %q does not carry the document's hash %s", url, hash)
	}
	exp, err := http.ParseTime(resp.Header.Get("Expires"))
	if err != nil || exp.Before(time.Now().AddDate(0, 11, 0)) {
		t.Errorf("Expires %q, want about a year ahead", resp.Header.Get("Expires"))
	}

	// Without a hash: the document, not marked immutable.
	resp = get(t, h, "/openapi/v3/apis/apps/v1")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "" || !bytes.Equal(readAll(t, resp), body) {
		t.Errorf("no hash: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	// A stale hash is redirected to the current one.
	resp = get(t, h, "/openapi/v3/apis/apps/v1?hash=0123")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != url {
		t.Errorf("stale hash: %d to %q, want 301 to %q", resp.StatusCode, resp.Header.Get("Location"), url)
	}
	// Revalidation.
	resp = get(t, h, url, "If-None-Match", `"`+hash+`"`)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	// Compression.
	resp = get(t, h, url, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	if !bytes.Equal(unz, body) {
		t.Error("gzipped document differs")
	}
	// Unknown group versions and paths.
	for _, p := range []string{"/openapi/v3/apis/nope/v1", "/openapi/v4"} {
		if resp := get(t, h, p); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestServeV2(t *testing.T) {
	h := testHandler(t)
	resp := get(t, h, "/openapi/v2?timeout=32s", "Accept", "application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("json: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Swagger     string                     `json:"swagger"`
		Definitions map[string]json.RawMessage `json:"definitions"`
		Paths       map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(readAll(t, resp), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Swagger != "2.0" || doc.Definitions["io.k8s.api.apps.v1.Deployment"] == nil || doc.Paths["/api/v1/namespaces/{namespace}/pods/{name}"] == nil {
		t.Errorf("v2 document lacks what it should hold")
	}

	for _, accept := range []string{
		"application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
		"application/com.github.proto-openapi.spec.v2.v1.0+protobuf, application/json",
	} {
		resp = get(t, h, "/openapi/v2", "Accept", accept)
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != mediaV2ProtoDot {
			t.Fatalf("protobuf: %d %q", resp.StatusCode, ct)
		}
		var pb openapi_v2.Document
		if err := proto.Unmarshal(readAll(t, resp), &pb); err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, d := range pb.GetDefinitions().GetAdditionalProperties() {
			names[d.GetName()] = true
		}
		if len(names) != len(doc.Definitions) || !names["io.k8s.api.core.v1.Pod"] {
			t.Errorf("protobuf has %d definitions, JSON %d", len(names), len(doc.Definitions))
		}
	}
	if resp := get(t, h, "/openapi/v2", "Accept", "text/html"); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("text/html: %d, want 406", resp.StatusCode)
	}
}

func TestNegotiate(t *testing.T) {
	offers := []string{mediaJSON, mediaV2Proto, mediaV2ProtoDot}
	tests := []struct{ accept, want string }{
		{"", mediaJSON},
		{"*/*", mediaJSON},
		{"application/json, */*", mediaJSON},
		{mediaV2Proto, mediaV2Proto},
		{"application/json;q=0.5, " + mediaV2ProtoDot, mediaV2ProtoDot},
		{"text/html", ""},
		{"application/*", mediaJSON},
	}
	for _, tt := range tests {
		if got := negotiate(tt.accept, offers...); got != tt.want {
			t.Errorf("negotiate(%q) = %q, want %q", tt.accept, got, tt.want)
		}
	}
}

// TestDeterministic: the same registry gives byte-identical documents, so a
// restarted server keeps its hashes and clients keep their caches.
func TestDeterministic(t *testing.T) {
	a, err := New(testSet(), "v1.32.4")
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(testSet(), "v1.32.4")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.docs.index.json, b.docs.index.json) || a.docs.v2.hash != b.docs.v2.hash {
		t.Error("two builds of one registry differ")
	}
}

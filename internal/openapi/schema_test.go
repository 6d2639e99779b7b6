package openapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestDefinitionName(t *testing.T) {
	tests := []struct {
		v    interface{}
		want string
	}{
		{appsv1.Deployment{}, "io.k8s.api.apps.v1.Deployment"},
		{corev1.Pod{}, "io.k8s.api.core.v1.Pod"},
		{metav1.ObjectMeta{}, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
		{metav1.Time{}, "io.k8s.apimachinery.pkg.apis.meta.v1.Time"},
		{resource.Quantity{}, "io.k8s.apimachinery.pkg.api.resource.Quantity"},
		{intstr.IntOrString{}, "io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
		{runtime.RawExtension{}, "io.k8s.apimachinery.pkg.runtime.RawExtension"},
	}
	for _, tt := range tests {
		if got := definitionName(reflect.TypeOf(tt.v)); got != tt.want {
			t.Errorf("definitionName(%T) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// testDocs builds the documents of the test registry once per test binary.
var testDocsCache *Handler

func testHandler(t *testing.T) *Handler {
	t.Helper()
	if testDocsCache == nil {
		h, err := New(testSet(), "v1.32.4")
		if err != nil {
			t.Fatal(err)
		}
		testDocsCache = h
	}
	return testDocsCache
}

// v3Doc parses a group version's v3 document the way kubectl does.
func v3Doc(t *testing.T, h *Handler, key string) *spec3.OpenAPI {
	t.Helper()
	b, ok := h.docs.v3[key]
	if !ok {
		t.Fatalf("no v3 document %q", key)
	}
	var doc spec3.OpenAPI
	if err := json.Unmarshal(b.json, &doc); err != nil {
		t.Fatalf("parse %s: %v", key, err)
	}
	return &doc
}

// lookup follows a dotted path of property names ("spec.template") from a
// definition, through refs, allOf wrappers and array items ("containers[]").
func lookup(t *testing.T, defs map[string]*spec.Schema, def, path string) *spec.Schema {
	t.Helper()
	s, ok := defs[def]
	if !ok {
		t.Fatalf("no definition %s", def)
	}
	resolve := func(s *spec.Schema) *spec.Schema {
		if len(s.AllOf) == 1 {
			s = &s.AllOf[0]
		}
		if r := s.Ref.String(); r != "" {
			name := r[strings.LastIndex(r, "/")+1:]
			d, ok := defs[name]
			if !ok {
				t.Fatalf("dangling ref %s", r)
			}
			return d
		}
		return s
	}
	if path == "" {
		return s
	}
	for _, part := range strings.Split(path, ".") {
		items := strings.HasSuffix(part, "[]")
		part = strings.TrimSuffix(part, "[]")
		p, ok := resolve(s).Properties[part]
		if !ok {
			t.Fatalf("%s: no property %q in %s", def, part, path)
		}
		s = &p
		if items {
			if s.Items == nil || s.Items.Schema == nil {
				t.Fatalf("%s.%s is not an array", def, path)
			}
			s = s.Items.Schema
		}
	}
	return s
}

func TestSchemas(t *testing.T) {
	h := testHandler(t)
	v2 := h.Schemas()
	v3 := v3Doc(t, h, "apis/apps/v1").Components.Schemas
	const (
		deploy    = "io.k8s.api.apps.v1.Deployment"
		podSpec   = "io.k8s.api.core.v1.PodSpec"
		container = "io.k8s.api.core.v1.Container"
	)
	tests := []struct {
		name  string
		defs  map[string]*spec.Schema
		def   string
		path  string
		check func(s *spec.Schema) string // returns what is wrong, or ""
	}{
		{"kind has its group version kind", v2, deploy, "", hasExt(extGVK, []interface{}{map[string]interface{}{"group": "apps", "version": "v1", "kind": "Deployment"}})},
		{"list kind too", v2, "io.k8s.api.apps.v1.DeploymentList", "", hasExt(extGVK, []interface{}{map[string]interface{}{"group": "apps", "version": "v1", "kind": "DeploymentList"}})},
		{"description from SwaggerDoc", v2, deploy, "", func(s *spec.Schema) string {
			return want(s.Description == appsv1.Deployment{}.SwaggerDoc()[""], "description %q", s.Description)
		}},
		{"v2 refs use #/definitions", v2, deploy, "metadata", func(s *spec.Schema) string {
			return want(s.Ref.String() == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ref %q", s.Ref.String())
		}},
		{"v3 refs are wrapped in allOf with the field's description", v3, deploy, "spec", func(s *spec.Schema) string {
			ok := len(s.AllOf) == 1 && s.AllOf[0].Ref.String() == "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec" && s.Description != "" && s.Ref.String() == ""
			return want(ok, "got %+v", s.SchemaProps)
		}},
		{"required from json tags", v2, "io.k8s.api.apps.v1.DeploymentSpec", "", func(s *spec.Schema) string {
			return want(reflect.DeepEqual(s.Required, []string{"selector", "template"}), "required %v", s.Required)
		}},
		{"container name is required", v2, container, "", func(s *spec.Schema) string {
			return want(reflect.DeepEqual(s.Required, []string{"name"}), "required %v", s.Required)
		}},
		{"+optional without omitempty is not required", v2, "io.k8s.api.core.v1.TypedLocalObjectReference", "", func(s *spec.Schema) string {
			return want(reflect.DeepEqual(s.Required, []string{"kind", "name"}), "required %v", s.Required)
		}},
		{"containers merge by name", v2, podSpec, "containers", allOf(
			hasExt(extPatchStrategy, "merge"), hasExt(extPatchMergeKey, "name"),
			hasExt(extListType, "map"), hasExt(extListMapKeys, []interface{}{"name"}))},
		{"ports are keyed by port and protocol", v2, container, "ports", allOf(
			hasExt(extPatchMergeKey, "containerPort"), hasExt(extListType, "map"),
			hasExt(extListMapKeys, []interface{}{"containerPort", "protocol"}))},
		{"protocol defaults to TCP", v2, "io.k8s.api.core.v1.ContainerPort", "protocol", func(s *spec.Schema) string {
			return want(s.Default == "TCP", "default %v", s.Default)
		}},
		{"enum values", v2, container, "imagePullPolicy", func(s *spec.Schema) string {
			return want(reflect.DeepEqual(s.Enum, []interface{}{"Always", "IfNotPresent", "Never"}), "enum %v", s.Enum)
		}},
		{"volumes merge and retain keys", v2, podSpec, "volumes", hasExt(extPatchStrategy, "merge,retainKeys")},
		{"strategy retains keys", v2, "io.k8s.api.apps.v1.DeploymentSpec", "strategy", hasExt(extPatchStrategy, "retainKeys")},
		{"plain lists are atomic", v2, container, "command", hasExt(extListType, "atomic")},
		{"finalizers are a set", v2, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", hasExt(extListType, "set")},
		{"atomic struct", v2, "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", "", hasExt(extMapType, "atomic")},
		{"atomic map", v2, podSpec, "nodeSelector", hasExt(extMapType, "atomic")},
		{"maps", v2, "io.k8s.api.core.v1.ConfigMap", "data", func(s *spec.Schema) string {
			ok := s.Type.Contains("object") && s.AdditionalProperties != nil && s.AdditionalProperties.Schema.Type.Contains("string")
			return want(ok, "got %+v", s.SchemaProps)
		}},
		{"bytes", v2, "io.k8s.api.core.v1.ConfigMap", "binaryData", func(s *spec.Schema) string {
			a := s.AdditionalProperties.Schema
			return want(a.Type.Contains("string") && a.Format == "byte", "got %+v", a.SchemaProps)
		}},
		{"int32", v2, "io.k8s.api.apps.v1.DeploymentSpec", "replicas", func(s *spec.Schema) string {
			return want(s.Type.Contains("integer") && s.Format == "int32", "got %v %v", s.Type, s.Format)
		}},
		{"time", v2, "io.k8s.apimachinery.pkg.apis.meta.v1.Time", "", func(s *spec.Schema) string {
			return want(s.Type.Contains("string") && s.Format == "date-time" && s.Description != "", "got %+v", s.SchemaProps)
		}},
		{"int-or-string, v2", v2, "io.k8s.apimachinery.pkg.util.intstr.IntOrString", "", allOf(
			func(s *spec.Schema) string {
				return want(s.Type.Contains("string") && s.Format == "int-or-string", "got %+v", s.SchemaProps)
			}, hasExt(extIntOrString, true))},
		{"int-or-string, v3", v3, "io.k8s.apimachinery.pkg.util.intstr.IntOrString", "", func(s *spec.Schema) string {
			return want(len(s.Type) == 0 && len(s.OneOf) == 2 && s.OneOf[0].Type.Contains("integer") && s.OneOf[1].Type.Contains("string"), "got %+v", s.SchemaProps)
		}},
		{"quantity, v3", v3, "io.k8s.apimachinery.pkg.api.resource.Quantity", "", func(s *spec.Schema) string {
			return want(len(s.Type) == 0 && len(s.OneOf) == 2 && s.OneOf[0].Type.Contains("string") && s.OneOf[1].Type.Contains("number"), "got %+v", s.SchemaProps)
		}},
		{"raw extension is any object", v2, "io.k8s.apimachinery.pkg.runtime.RawExtension", "", func(s *spec.Schema) string {
			return want(s.Type.Contains("object") && len(s.Properties) == 0, "got %+v", s.SchemaProps)
		}},
		{"resource limits are quantities", v2, container, "resources.limits", func(s *spec.Schema) string {
			r := s.AdditionalProperties.Schema.Ref.String()
			return want(strings.HasSuffix(r, "/io.k8s.apimachinery.pkg.api.resource.Quantity"), "ref %q", r)
		}},
		{"embedded structs are inlined", v2, "io.k8s.api.core.v1.Volume", "configMap", func(s *spec.Schema) string {
			return want(strings.HasSuffix(s.Ref.String(), ".ConfigMapVolumeSource"), "ref %q", s.Ref.String())
		}},
		{"type meta is inlined", v2, deploy, "apiVersion", func(s *spec.Schema) string {
			return want(s.Type.Contains("string") && s.Description != "", "got %+v", s.SchemaProps)
		}},
		{"shared meta types name the served group versions", v2, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "", hasExt(extGVK, []interface{}{
			map[string]interface{}{"group": "", "version": "v1", "kind": "DeleteOptions"},
			map[string]interface{}{"group": "apps", "version": "v1", "kind": "DeleteOptions"},
			map[string]interface{}{"group": "authorization.k8s.io", "version": "v1", "kind": "DeleteOptions"},
		})},
		{"scale is autoscaling/v1", v3, "io.k8s.api.autoscaling.v1.Scale", "", hasExt(extGVK, []interface{}{map[string]interface{}{"group": "autoscaling", "version": "v1", "kind": "Scale"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := lookup(t, tt.defs, tt.def, tt.path)
			if msg := tt.check(s); msg != "" {
				t.Errorf("%s %s: %s", tt.def, tt.path, msg)
			}
		})
	}
}

func want(ok bool, format string, args ...interface{}) string {
	if ok {
		return ""
	}
	b, _ := json.Marshal(args)
	return strings.TrimSpace(format) + " " + string(b)
}

func hasExt(key string, v interface{}) func(*spec.Schema) string {
	return func(s *spec.Schema) string {
		got := s.Extensions[key]
		// Compare as JSON: parsed documents hold []interface{}, built ones may too.
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(v)
		return want(string(a) == string(b), key+": got %s", string(a))
	}
}

func allOf(checks ...func(*spec.Schema) string) func(*spec.Schema) string {
	return func(s *spec.Schema) string {
		for _, c := range checks {
			if msg := c(s); msg != "" {
				return msg
			}
		}
		return ""
	}
}

// TestGolden compares a few v3 schemas with testdata/golden. Descriptions are
// replaced by a marker: they come from the API packages and are checked above.
// Run with -update to rewrite the files after an intended change.
func TestGolden(t *testing.T) {
	h := testHandler(t)
	doc := v3Doc(t, h, "apis/apps/v1")
	for _, name := range []string{
		"io.k8s.api.apps.v1.DeploymentSpec",
		"io.k8s.api.apps.v1.DeploymentStrategy",
		"io.k8s.api.core.v1.ContainerPort",
		"io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString",
	} {
		t.Run(name, func(t *testing.T) {
			raw, err := json.Marshal(doc.Components.Schemas[name])
			if err != nil {
				t.Fatal(err)
			}
			var v interface{}
			json.Unmarshal(raw, &v)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			enc.Encode(markDescriptions(v))
			got := buf.Bytes()
			file := filepath.Join("testdata", "golden", name+".json")
			if *update {
				os.MkdirAll(filepath.Dir(file), 0o755)
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantB, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(wantB) != string(got) {
				t.Errorf("%s differs from %s:\n%s", name, file, got)
			}
		})
	}
}

func markDescriptions(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		for k, e := range x {
			if k == "description" {
				x[k] = "<doc>"
			} else {
				x[k] = markDescriptions(e)
			}
		}
	case []interface{}:
		for i := range x {
			x[i] = markDescriptions(x[i])
		}
	}
	return v
}

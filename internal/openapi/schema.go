package openapi

import (
	"encoding/json"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Extension keys Kubernetes clients read.
const (
	extGVK           = "x-kubernetes-group-version-kind"
	extAction        = "x-kubernetes-action"
	extPatchStrategy = "x-kubernetes-patch-strategy"
	extPatchMergeKey = "x-kubernetes-patch-merge-key"
	extListType      = "x-kubernetes-list-type"
	extListMapKeys   = "x-kubernetes-list-map-keys"
	extMapType       = "x-kubernetes-map-type"
	extIntOrString   = "x-kubernetes-int-or-string"
)

const v2RefPrefix = "#/definitions/"

// marker is what the API packages' comment markers say about one field.
type marker struct {
	listType string
	mapKeys  []string
	mapType  string
	def      string // the default, as JSON
	optional bool   // +optional on a field without omitempty
}

// schemaTyper is implemented by the library types that are written as a JSON
// scalar (Time, Quantity, IntOrString...).
type schemaTyper interface {
	OpenAPISchemaType() []string
	OpenAPISchemaFormat() string
}

// oneOfTyper gives the alternatives of such a type in OpenAPI v3.
type oneOfTyper interface {
	OpenAPIV3OneOfTypes() []string
}

type swaggerDoccer interface {
	SwaggerDoc() map[string]string
}

var (
	schemaTyperType = reflect.TypeOf((*schemaTyper)(nil)).Elem()
	oneOfTyperType  = reflect.TypeOf((*oneOfTyper)(nil)).Elem()
	marshalerType   = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	swaggerDocType  = reflect.TypeOf((*swaggerDoccer)(nil)).Elem()
)

// scalarDocs describes the library types that carry no SwaggerDoc, by definition name.
var scalarDocs = map[string]string{
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time":       "A point in time, written in RFC 3339 form with second precision, for example 2024-05-01T12:00:00Z.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime":  "A point in time, written in RFC 3339 form with microsecond precision, for example 2024-05-01T12:00:00.000000Z.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration":   "A length of time written as a duration string such as \"90s\" or \"1h30m\".",
	"io.k8s.apimachinery.pkg.api.resource.Quantity":   "An exact amount, written as a string of a number and an optional suffix: a binary multiple (Ki, Mi, Gi, Ti, Pi, Ei), a decimal multiple (k, M, G, T, P, E, or m for one thousandth), or a decimal exponent (e3). Examples: \"250m\", \"128Mi\", \"1.5\", \"2e3\". A plain JSON number is accepted as well.",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "Either an integer or a string, for example a port number or a port name, or a count or a percentage such as \"25%\".",
	"io.k8s.apimachinery.pkg.runtime.RawExtension":    "An embedded object of any kind, written in full, including its apiVersion and kind.",
}

// schemaBuilder derives Swagger 2.0 definitions from Go types by reflection.
type schemaBuilder struct {
	defs  spec.Definitions
	names map[reflect.Type]string
	// oneOf holds, by definition name, the v3 alternatives of scalar library types.
	oneOf map[string][]string
	// kinds gives the group/version/kinds a Go type is served as.
	kinds func(reflect.Type) []schema.GroupVersionKind
	refs  map[string]spec.Ref
}

func newSchemaBuilder(kinds func(reflect.Type) []schema.GroupVersionKind) *schemaBuilder {
	return &schemaBuilder{
		defs:  spec.Definitions{},
		names: map[reflect.Type]string{},
		oneOf: map[string][]string{},
		kinds: kinds,
		refs:  map[string]spec.Ref{},
	}
}

// goName is a type's package path and name ("k8s.io/api/core/v1.Pod"), the key
// of the marker tables.
func goName(t reflect.Type) string {
	p := t.PkgPath()
	if i := strings.LastIndex(p, "/vendor/"); i >= 0 {
		p = p[i+len("/vendor/"):]
	}
	return p + "." + t.Name()
}

// definitionName is how Kubernetes names a type's schema: the package path with
// its leading domain reversed and slashes as dots ("io.k8s.api.core.v1.Pod").
func definitionName(t reflect.Type) string {
	n := goName(t)
	first, rest, _ := strings.Cut(n, "/")
	if strings.Contains(first, ".") {
		parts := strings.Split(first, ".")
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		first = strings.Join(parts, ".")
	}
	if rest == "" {
		return first
	}
	return first + "." + strings.ReplaceAll(rest, "/", ".")
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || reflect.PointerTo(t).Implements(iface)
}

// refTo returns a schema that refers to the definition of t, building it first.
func (b *schemaBuilder) refTo(t reflect.Type) spec.Schema {
	name := b.define(t)
	r, ok := b.refs[name]
	if !ok {
		r = spec.MustCreateRef(v2RefPrefix + name)
		b.refs[name] = r
	}
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: r}}
}

// define builds the definition of a named struct type and returns its name.
func (b *schemaBuilder) define(t reflect.Type) string {
	if name, ok := b.names[t]; ok {
		return name
	}
	name := definitionName(t)
	b.names[t] = name
	var s spec.Schema
	switch {
	case implements(t, schemaTyperType):
		st := reflect.New(t).Interface().(schemaTyper)
		s.Type = st.OpenAPISchemaType()
		s.Format = st.OpenAPISchemaFormat()
		if implements(t, oneOfTyperType) {
			b.oneOf[name] = reflect.New(t).Interface().(oneOfTyper).OpenAPIV3OneOfTypes()
		}
		if s.Format == "int-or-string" {
			s.AddExtension(extIntOrString, true)
		}
	case implements(t, marshalerType):
		// Written by its own marshaller (RawExtension, FieldsV1): any JSON object.
		s.Type = spec.StringOrArray{"object"}
	default:
		s.Type = spec.StringOrArray{"object"}
		s.Properties = map[string]spec.Schema{}
		b.addFields(&s, t)
		if len(s.Properties) == 0 {
			s.Properties = nil
		}
	}
	if d := swaggerDoc(t)[""]; d != "" {
		s.Description = d
	} else {
		s.Description = scalarDocs[name]
	}
	if mt := structMapType[goName(t)]; mt != "" {
		s.AddExtension(extMapType, mt)
	}
	if gvks := b.kinds(t); len(gvks) > 0 {
		l := make([]interface{}, 0, len(gvks))
		for _, g := range gvks {
			l = append(l, map[string]interface{}{"group": g.Group, "version": g.Version, "kind": g.Kind})
		}
		s.AddExtension(extGVK, l)
	}
	b.defs[name] = s
	return name
}

func swaggerDoc(t reflect.Type) map[string]string {
	if !implements(t, swaggerDocType) {
		return nil
	}
	return reflect.New(t).Interface().(swaggerDoccer).SwaggerDoc()
}

// jsonField reads a field's json tag the way encoding/json does.
func jsonField(f reflect.StructField) (name string, omitempty, inline, skip bool) {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false, false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	omitempty = strings.Contains(","+opts+",", ",omitempty,")
	if name == "" && f.Anonymous {
		return "", omitempty, true, false
	}
	if !f.IsExported() {
		return "", false, false, true
	}
	if name == "" {
		name = f.Name
	}
	return name, omitempty, false, false
}

// addFields adds the properties of struct t (and of the structs it embeds).
func (b *schemaBuilder) addFields(s *spec.Schema, t reflect.Type) {
	docs := swaggerDoc(t)
	owner := goName(t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, omitempty, inline, skip := jsonField(f)
		if skip {
			continue
		}
		if inline {
			if ft := deref(f.Type); ft.Kind() == reflect.Struct {
				b.addFields(s, ft)
			}
			continue
		}
		m := fieldMarkers[owner+"."+name]
		p := b.fieldSchema(f, m, omitempty)
		p.Description = docs[name]
		s.Properties[name] = p
		if !omitempty && !m.optional {
			s.Required = append(s.Required, name)
		}
	}
}

// fieldSchema is the schema of one struct field, with its default, patch
// strategy and list or map shape.
func (b *schemaBuilder) fieldSchema(f reflect.StructField, m marker, omitempty bool) spec.Schema {
	s := b.typeSchema(f.Type)
	switch {
	case m.def != "":
		var v interface{}
		if json.Unmarshal([]byte(m.def), &v) == nil {
			s.Default = v
		}
	case f.Type.Kind() == reflect.Struct:
		s.Default = map[string]interface{}{}
	case !omitempty:
		s.Default = zeroScalar(f.Type)
	}
	strategy, mergeKey := f.Tag.Get("patchStrategy"), f.Tag.Get("patchMergeKey")
	if strategy != "" {
		s.AddExtension(extPatchStrategy, strategy)
	}
	if mergeKey != "" {
		s.AddExtension(extPatchMergeKey, mergeKey)
	}
	ft := deref(f.Type)
	switch {
	case (ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array) && ft.Elem().Kind() != reflect.Uint8:
		listType, keys := m.listType, m.mapKeys
		if listType == "" {
			// Without a marker, the patch strategy decides, as it does for apply.
			merge := strings.Contains(strategy, "merge")
			switch {
			case merge && mergeKey != "":
				listType, keys = "map", []string{mergeKey}
			case merge:
				listType = "set"
			default:
				listType = "atomic"
			}
		}
		s.AddExtension(extListType, listType)
		if listType == "map" {
			k := make([]interface{}, len(keys))
			for i, key := range keys {
				k[i] = key
			}
			s.AddExtension(extListMapKeys, k)
		}
	case ft.Kind() == reflect.Map && m.mapType != "":
		s.AddExtension(extMapType, m.mapType)
	}
	return s
}

// zeroScalar is the zero value of a scalar Go type as JSON, or nil.
func zeroScalar(t reflect.Type) interface{} {
	switch t.Kind() {
	case reflect.String:
		return ""
	case reflect.Bool:
		return false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return 0
	}
	return nil
}

// elemDefault is the default of a list item or map value of Go type t.
func elemDefault(t reflect.Type) interface{} {
	if t.Kind() == reflect.Struct {
		return map[string]interface{}{}
	}
	return zeroScalar(t)
}

// typeSchema is the schema of a Go type: a reference for named structs, inline
// for everything else.
func (b *schemaBuilder) typeSchema(t reflect.Type) spec.Schema {
	t = deref(t)
	switch t.Kind() {
	case reflect.Struct:
		if t.Name() == "" {
			s := spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}, Properties: map[string]spec.Schema{}}}
			b.addFields(&s, t)
			return s
		}
		return b.refTo(t)
	case reflect.Map:
		v := b.typeSchema(t.Elem())
		v.Default = elemDefault(t.Elem())
		return spec.Schema{SchemaProps: spec.SchemaProps{
			Type:                 spec.StringOrArray{"object"},
			AdditionalProperties: &spec.SchemaOrBool{Allows: true, Schema: &v},
		}}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return scalar("string", "byte")
		}
		it := b.typeSchema(t.Elem())
		it.Default = elemDefault(t.Elem())
		return spec.Schema{SchemaProps: spec.SchemaProps{
			Type:  spec.StringOrArray{"array"},
			Items: &spec.SchemaOrArray{Schema: &it},
		}}
	case reflect.String:
		s := scalar("string", "")
		if vals, ok := enumValues[goName(t)]; ok && t.Name() != "" {
			for _, v := range vals {
				s.Enum = append(s.Enum, v)
			}
		}
		return s
	case reflect.Bool:
		return scalar("boolean", "")
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return scalar("integer", "int32")
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return scalar("integer", "int64")
	case reflect.Float32:
		return scalar("number", "float")
	case reflect.Float64:
		return scalar("number", "double")
	}
	// Interfaces and anything else: any object.
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}}}
}

func scalar(typ, format string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}, Format: format}}
}

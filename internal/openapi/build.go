package openapi

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/openapiconv"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"tug/internal/registry"
)

// documents is everything the handler serves, built once.
type documents struct {
	defs  spec.Definitions // the v2 definitions
	v2    *blob
	index *blob
	v3    map[string]*blob // by index key: "api/v1", "apis/apps/v1"
}

var runtimeObjectType = reflect.TypeOf((*kruntime.Object)(nil)).Elem()

// hashOf is the content hash that names a document version: the SHA-512 of the
// bytes, in upper-case hex, as the real server computes it.
func hashOf(b []byte) string {
	return fmt.Sprintf("%X", sha512.Sum512(b))
}

// indexKey is where a group version's v3 document lives under /openapi/v3/.
func indexKey(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// kindsFunc tells which group/version/kinds a Go type is served as: the kinds and
// list kinds of the registry's resources, and for the other API types (options,
// Status, WatchEvent, Scale) what the scheme registers, limited for the shared
// meta types to the group versions served.
func kindsFunc(set *registry.Set, served map[schema.GroupVersion]bool) func(reflect.Type) []schema.GroupVersionKind {
	byType := map[reflect.Type][]schema.GroupVersionKind{}
	add := func(obj kruntime.Object, gvk schema.GroupVersionKind) {
		t := deref(reflect.TypeOf(obj))
		for _, k := range byType[t] {
			if k == gvk {
				return
			}
		}
		byType[t] = append(byType[t], gvk)
	}
	for _, r := range set.All {
		if r.New != nil {
			add(r.New(), r.GVK())
		}
		if r.NewList != nil {
			add(r.NewList(), schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.ListKind})
		}
	}
	metaPkg := reflect.TypeOf(metav1.Status{}).PkgPath()
	return func(t reflect.Type) []schema.GroupVersionKind {
		if l, ok := byType[t]; ok {
			return l
		}
		if !reflect.PointerTo(t).Implements(runtimeObjectType) {
			return nil
		}
		gvks, _, err := registry.Scheme.ObjectKinds(reflect.New(t).Interface().(kruntime.Object))
		if err != nil {
			return nil
		}
		var out []schema.GroupVersionKind
		for _, k := range gvks {
			if k.Version == kruntime.APIVersionInternal {
				continue
			}
			if t.PkgPath() == metaPkg && !served[k.GroupVersion()] {
				continue
			}
			out = append(out, k)
		}
		sort.Slice(out, func(i, j int) bool {
			a, b := out[i], out[j]
			if a.Group != b.Group {
				return a.Group < b.Group
			}
			if a.Version != b.Version {
				return a.Version < b.Version
			}
			return a.Kind < b.Kind
		})
		return out
	}
}

type securityScheme struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	Name        string `json:"name"`
	In          string `json:"in"`
}

var bearerSecurity = map[string]securityScheme{"BearerToken": {
	Type: "apiKey", Name: "authorization", In: "header", Description: "A bearer token in the Authorization header.",
}}

// v2Document is a Swagger 2.0 document without its definitions, which
// withObject appends: each definition is encoded once and shared by every
// document that holds it.
type v2Document struct {
	Swagger             string                    `json:"swagger"`
	Info                *spec.Info                `json:"info"`
	Paths               map[string]v2PathItem     `json:"paths"`
	SecurityDefinitions map[string]securityScheme `json:"securityDefinitions"`
	Security            []map[string][]string     `json:"security"`
}

// v3Document is an OpenAPI 3.0 document without components.schemas.
type v3Document struct {
	OpenAPI    string                `json:"openapi"`
	Info       *spec.Info            `json:"info"`
	Paths      map[string]v3PathItem `json:"paths"`
	Components struct {
		SecuritySchemes map[string]securityScheme `json:"securitySchemes"`
	} `json:"components"`
}

// withObject appends a member key: {name: raw, ...} (names sorted) to the
// innermost object that doc ends in, depth levels down: doc must end in depth
// closing braces.
func withObject(doc []byte, depth int, key string, names []string, raw map[string]json.RawMessage) []byte {
	tail := doc[len(doc)-depth:]
	size := len(doc) + len(key) + 8
	for _, n := range names {
		size += len(n) + len(raw[n]) + 4
	}
	out := make([]byte, 0, size)
	out = append(out, doc[:len(doc)-depth]...)
	out = append(out, ',')
	out = strconv.AppendQuote(out, key)
	out = append(out, ':', '{')
	for i, n := range names {
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendQuote(out, n)
		out = append(out, ':')
		out = append(out, raw[n]...)
	}
	out = append(out, '}')
	return append(out, tail...)
}

// collect walks every resource of the registry: the schema builder then holds every
// definition, and perGV the paths of each group version.
func collect(set *registry.Set) (*schemaBuilder, map[schema.GroupVersion]*gvPaths, []schema.GroupVersion) {
	served := map[schema.GroupVersion]bool{}
	var order []schema.GroupVersion
	for _, r := range set.All {
		gv := schema.GroupVersion{Group: r.Group, Version: r.Version}
		if !served[gv] {
			served[gv] = true
			order = append(order, gv)
		}
	}
	b := newSchemaBuilder(kindsFunc(set, served))
	perGV := map[schema.GroupVersion]*gvPaths{}
	for _, gv := range order {
		g := newGVPaths(b, gv)
		g.addDiscovery()
		perGV[gv] = g
	}
	for _, r := range set.All {
		perGV[schema.GroupVersion{Group: r.Group, Version: r.Version}].addResource(r)
	}
	return b, perGV, order
}

// Definitions builds only the v2 schema definitions, without any document: what
// server-side apply needs, at a fraction of the memory of the documents.
func Definitions(set *registry.Set) map[string]*spec.Schema {
	b, _, _ := collect(set)
	out := make(map[string]*spec.Schema, len(b.defs))
	for name := range b.defs {
		s := b.defs[name]
		out[name] = &s
	}
	return out
}

// build derives every document from the registry.
func build(set *registry.Set, version string) (*documents, error) {
	b, perGV, order := collect(set)

	// Encode each definition once, in both versions.
	names := make([]string, 0, len(b.defs))
	for name := range b.defs {
		names = append(names, name)
	}
	sort.Strings(names)
	v2raw := make([]json.RawMessage, len(names))
	v3raw := make([]json.RawMessage, len(names))
	err := parallel(len(names), func(i int) error {
		def := b.defs[names[i]]
		var err error
		if v2raw[i], err = json.Marshal(def); err != nil {
			return fmt.Errorf("openapi v2 %s: %w", names[i], err)
		}
		if v3raw[i], err = json.Marshal(schemaV3(&def, b.oneOf[names[i]])); err != nil {
			return fmt.Errorf("openapi v3 %s: %w", names[i], err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	v2defs := make(map[string]json.RawMessage, len(names))
	v3defs := make(map[string]json.RawMessage, len(names))
	for i, name := range names {
		v2defs[name], v3defs[name] = v2raw[i], v3raw[i]
	}
	info := &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: version}}

	docs := &documents{defs: b.defs, v3: map[string]*blob{}}
	allPaths := map[string]v2PathItem{}
	for _, gv := range order {
		for p, it := range perGV[gv].v2() {
			allPaths[p] = it
		}
	}
	// The v2 document and one v3 document per group version, in parallel.
	bodies := make([][]byte, len(order)+1)
	err = parallel(len(order)+1, func(i int) error {
		if i == len(order) {
			v2 := v2Document{Swagger: "2.0", Info: info, Paths: allPaths,
				SecurityDefinitions: bearerSecurity, Security: []map[string][]string{{"BearerToken": {}}}}
			head, err := json.Marshal(&v2)
			if err != nil {
				return fmt.Errorf("openapi v2: %w", err)
			}
			bodies[i] = withObject(head, 1, "definitions", names, v2defs)
			return nil
		}
		g := perGV[order[i]]
		doc := v3Document{OpenAPI: "3.0.0", Info: info, Paths: g.v3()}
		var used []string
		for name := range reachable(b.defs, g.roots) {
			used = append(used, name)
		}
		sort.Strings(used)
		doc.Components.SecuritySchemes = bearerSecurity
		head, err := json.Marshal(&doc)
		if err != nil {
			return fmt.Errorf("openapi v3 %s: %w", order[i], err)
		}
		bodies[i] = withObject(head, 2, "schemas", used, v3defs)
		return nil
	})
	if err != nil {
		return nil, err
	}
	docs.v2 = newBlob(bodies[len(order)])
	index := map[string]map[string]map[string]string{"paths": {}}
	for i, gv := range order {
		key := indexKey(gv)
		bl := newBlob(bodies[i])
		docs.v3[key] = bl
		index["paths"][key] = map[string]string{"serverRelativeURL": "/openapi/v3/" + key + "?hash=" + bl.hash}
	}
	ib, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	docs.index = newBlob(ib)
	return docs, nil
}

// parallel runs f(0..n-1) on as many goroutines as there are processors and
// returns the first error.
func parallel(n int, f func(i int) error) error {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		errMu sync.Mutex
		first error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// reachable returns the definitions the roots refer to, directly or not.
func reachable(defs spec.Definitions, roots map[string]bool) spec.Definitions {
	out := spec.Definitions{}
	var visit func(name string)
	var walk func(s *spec.Schema)
	walk = func(s *spec.Schema) {
		if s == nil {
			return
		}
		if r := s.Ref.String(); r != "" {
			visit(r[len(v2RefPrefix):])
		}
		for _, p := range s.Properties {
			walk(&p)
		}
		if s.Items != nil {
			walk(s.Items.Schema)
		}
		if s.AdditionalProperties != nil {
			walk(s.AdditionalProperties.Schema)
		}
		for i := range s.AllOf {
			walk(&s.AllOf[i])
		}
	}
	visit = func(name string) {
		if _, done := out[name]; done {
			return
		}
		s, ok := defs[name]
		if !ok {
			return
		}
		out[name] = s
		walk(&s)
	}
	for name := range roots {
		visit(name)
	}
	return out
}

// schemaV3 converts a v2 definition: references move to #/components/schemas
// and are wrapped in allOf where they have siblings, and scalar library types
// list their alternatives with oneOf.
func schemaV3(def *spec.Schema, oneOf []string) *spec.Schema {
	s := openapiconv.ConvertSchema(def)
	if len(oneOf) > 0 {
		s.Type = nil
		for _, t := range oneOf {
			s.OneOf = append(s.OneOf, spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{t}}})
		}
	}
	return s
}

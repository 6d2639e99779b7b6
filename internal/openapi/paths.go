package openapi

import (
	"reflect"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/registry"
)

// The operations are kept in a small model of our own and written out as
// Swagger 2.0 or OpenAPI 3.0 with plain structs: they are the bulk of every
// document, and encoding/json writes these far faster than the generic spec types.

// Media types the operations declare.
var (
	producesObject = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	producesList   = append(append([]string(nil), producesObject...), "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
	consumesAny    = []string{"*/*"}
	consumesPatch  = []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
)

// Types every group version's operations refer to.
var (
	deleteOptionsType = reflect.TypeOf(metav1.DeleteOptions{})
	statusType        = reflect.TypeOf(metav1.Status{})
	watchEventType    = reflect.TypeOf(metav1.WatchEvent{})
	patchType         = reflect.TypeOf(metav1.Patch{})
	resourceListType  = reflect.TypeOf(metav1.APIResourceList{})
	scaleType         = reflect.TypeOf(autoscalingv1.Scale{})
	scaleGVK          = autoscalingv1.SchemeGroupVersion.WithKind("Scale")
)

// param is a path or query parameter.
type param struct {
	name, in, typ, desc string
	required            bool
}

func queryParam(name, typ, desc string) param {
	return param{name: name, in: "query", typ: typ, desc: desc}
}

func pathParam(name, desc string) param {
	return param{name: name, in: "path", typ: "string", desc: desc, required: true}
}

// Parameters, described in our own words.
var (
	paramPretty               = queryParam("pretty", "string", "If 'true', the output is indented for people to read.")
	paramDryRun               = queryParam("dryRun", "string", "With the value All, the request is checked and processed in full but nothing is stored.")
	paramFieldManager         = queryParam("fieldManager", "string", "Names the actor making the change, for the record of which manager owns which fields. Required for apply patches; at most 128 printable characters.")
	paramFieldValidation      = queryParam("fieldValidation", "string", "What to do with fields of the body that the schema does not know, or that appear twice: Ignore drops them silently, Warn drops them and returns one warning per field (the default), Strict rejects the request with an error naming the fields.")
	paramForce                = queryParam("force", "boolean", "For apply patches only: take over the fields that other managers own instead of failing with a conflict.")
	paramAllowWatchBookmarks  = queryParam("allowWatchBookmarks", "boolean", "Lets a watch receive BOOKMARK events, which carry only a newer resourceVersion. The server may send them or not.")
	paramContinue             = queryParam("continue", "string", "The token from the previous page of a chunked list; the next page continues where that one ended.")
	paramFieldSelector        = queryParam("fieldSelector", "string", "Restricts the objects to those whose fields match, for example metadata.name=web. Every object matches by default.")
	paramLabelSelector        = queryParam("labelSelector", "string", "Restricts the objects to those whose labels match the selector, for example app=web,tier!=db. Every object matches by default.")
	paramLimit                = queryParam("limit", "integer", "The largest number of objects to return in one page. When more remain, the list metadata carries a continue token for the next page.")
	paramResourceVersion      = queryParam("resourceVersion", "string", "Which version of the data the request may be served from; see resourceVersionMatch. For a watch, the version to start after.")
	paramResourceVersionMatch = queryParam("resourceVersionMatch", "string", "How resourceVersion is applied to a list: Exact or NotOlderThan. Only meaningful together with resourceVersion.")
	paramSendInitialEvents    = queryParam("sendInitialEvents", "boolean", "For a watch: first send the current objects as ADDED events, then a bookmark marking their end.")
	paramTimeoutSeconds       = queryParam("timeoutSeconds", "integer", "Ends the list or watch call after this many seconds, whether or not anything happened.")
	paramWatch                = queryParam("watch", "boolean", "Instead of a list, return a stream of changes (ADDED, MODIFIED, DELETED) starting after the given resourceVersion.")
	paramGracePeriodSeconds   = queryParam("gracePeriodSeconds", "integer", "Seconds to wait before the object is removed; zero removes it at once. Each kind has its own default.")
	paramOrphanDependents     = queryParam("orphanDependents", "boolean", "Deprecated, use propagationPolicy. When true, objects owned by this one are left in place.")
	paramPropagationPolicy    = queryParam("propagationPolicy", "string", "What happens to the objects this one owns: Orphan leaves them, Background deletes them after this object, Foreground deletes them before it.")
	paramNamespace            = pathParam("namespace", "The namespace of the object.")
)

var (
	listParams     = []param{paramAllowWatchBookmarks, paramContinue, paramFieldSelector, paramLabelSelector, paramLimit, paramResourceVersion, paramResourceVersionMatch, paramSendInitialEvents, paramTimeoutSeconds, paramWatch}
	writeParams    = []param{paramDryRun, paramFieldManager, paramFieldValidation}
	patchParams    = []param{paramDryRun, paramFieldManager, paramFieldValidation, paramForce}
	deleteParams   = []param{paramDryRun, paramGracePeriodSeconds, paramOrphanDependents, paramPropagationPolicy}
	deleteAllParam = []param{paramContinue, paramDryRun, paramFieldSelector, paramGracePeriodSeconds, paramLabelSelector, paramLimit, paramOrphanDependents, paramPropagationPolicy, paramResourceVersion, paramResourceVersionMatch, paramSendInitialEvents, paramTimeoutSeconds}
)

// operation is one HTTP method on one path.
type operation struct {
	action   string // x-kubernetes-action
	id       string
	desc     string
	gvk      *schema.GroupVersionKind // nil for discovery
	consumes []string
	produces []string
	params   []param
	body     string // definition of the request body; "" for none
	bodyReq  bool
	ok       string // definition of the answer
	created  bool   // 201 answers with the same definition
	accepted bool   // 202 too
}

// pathItem holds the operations of one path and its shared parameters.
type pathItem struct {
	params                        []param
	get, put, post, delete, patch *operation
}

// gvPaths collects the operations of one group version.
type gvPaths struct {
	b      *schemaBuilder
	gv     schema.GroupVersion
	prefix string // "/api/v1", "/apis/apps/v1"
	idPart string // "CoreV1", "AppsV1"
	tag    string // "core_v1", "apps_v1"
	paths  map[string]*pathItem
	roots  map[string]bool // definitions the operations refer to
}

func newGVPaths(b *schemaBuilder, gv schema.GroupVersion) *gvPaths {
	g := &gvPaths{b: b, gv: gv, paths: map[string]*pathItem{}, roots: map[string]bool{}}
	groupPart := "Core"
	if gv.Group == "" {
		g.prefix = "/api/" + gv.Version
	} else {
		g.prefix = "/apis/" + gv.Group + "/" + gv.Version
		groupPart = ""
		for _, w := range strings.Split(strings.TrimSuffix(gv.Group, ".k8s.io"), ".") {
			groupPart += upperFirst(w)
		}
	}
	g.idPart = groupPart + upperFirst(gv.Version)
	g.tag = strings.ToLower(groupPart[:1]) + groupPart[1:] + "_" + gv.Version
	return g
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ref names the definition of t and records it as used by this group version.
func (g *gvPaths) ref(t reflect.Type) string {
	name := g.b.define(t)
	g.roots[name] = true
	return name
}

// item returns the path's item, creating it with its shared parameters.
func (g *gvPaths) item(path string, params ...param) *pathItem {
	it, ok := g.paths[path]
	if !ok {
		it = &pathItem{params: append(append([]param(nil), params...), paramPretty)}
		g.paths[path] = it
	}
	return it
}

// addDiscovery adds the group version's resource list operation.
func (g *gvPaths) addDiscovery() {
	g.item(g.prefix + "/").get = &operation{
		id: "get" + g.idPart + "APIResources", desc: "List the resources of " + g.gv.String() + ".",
		consumes: producesObject, ok: g.ref(resourceListType),
	}
}

// addResource adds every operation of one resource.
func (g *gvPaths) addResource(r *registry.Resource) {
	if r.New == nil {
		return
	}
	gvk := r.GVK()
	kind := r.Kind
	ns, scope, in := "", "", ""
	var nsParams []param
	if r.Namespaced {
		ns, scope, in = "/namespaces/{namespace}", "Namespaced", " of a namespace"
		nsParams = []param{paramNamespace}
	}
	collection := g.prefix + ns + "/" + r.Resource
	itemPath := collection + "/{name}"
	itemParams := append([]param{pathParam("name", "The name of the "+kind+".")}, nsParams...)
	obj := g.ref(deref(reflect.TypeOf(r.New())))
	op := func(o operation) *operation {
		if o.gvk == nil {
			o.gvk = &gvk
		}
		return &o
	}

	if r.HasVerb("list") && r.NewList != nil {
		list := g.ref(deref(reflect.TypeOf(r.NewList())))
		g.item(collection, nsParams...).get = op(operation{
			action: "list", id: "list" + g.idPart + scope + kind, produces: producesList, params: listParams, ok: list,
			desc: "List the " + kind + " objects" + in + ", or watch them with watch=true.",
		})
		if r.Namespaced {
			g.item(g.prefix + "/" + r.Resource).get = op(operation{
				action: "list", id: "list" + g.idPart + kind + "ForAllNamespaces", produces: producesList, params: listParams, ok: list,
				desc: "List the " + kind + " objects of every namespace, or watch them with watch=true.",
			})
		}
	}
	if r.HasVerb("create") {
		g.item(collection, nsParams...).post = op(operation{
			action: "post", id: "create" + g.idPart + scope + kind, desc: "Create a " + kind + ".",
			body: obj, bodyReq: true, params: writeParams, ok: obj, created: true, accepted: true,
		})
	}
	if r.HasVerb("deletecollection") {
		g.item(collection, nsParams...).delete = op(operation{
			action: "deletecollection", id: "delete" + g.idPart + "Collection" + scope + kind,
			desc: "Delete every " + kind + in + " that the selectors match.",
			body: g.ref(deleteOptionsType), params: deleteAllParam, ok: g.ref(statusType),
		})
	}
	if r.HasVerb("get") {
		g.item(itemPath, itemParams...).get = op(operation{action: "get", id: "read" + g.idPart + scope + kind, desc: "Read the named " + kind + ".", ok: obj})
	}
	if r.HasVerb("update") {
		g.item(itemPath, itemParams...).put = op(operation{
			action: "put", id: "replace" + g.idPart + scope + kind, desc: "Replace the named " + kind + ".",
			body: obj, bodyReq: true, params: writeParams, ok: obj, created: true,
		})
	}
	if r.HasVerb("patch") {
		g.item(itemPath, itemParams...).patch = op(g.patchOp("patch"+g.idPart+scope+kind, "Patch the named "+kind+".", obj))
	}
	if r.HasVerb("delete") {
		g.item(itemPath, itemParams...).delete = op(operation{
			action: "delete", id: "delete" + g.idPart + scope + kind, desc: "Delete the named " + kind + ".",
			body: g.ref(deleteOptionsType), params: deleteParams, ok: g.ref(statusType), accepted: true,
		})
	}

	// Subresources: get, put and patch each.
	sub := func(what string, gvk schema.GroupVersionKind, obj string) {
		it := g.item(itemPath+"/"+what, itemParams...)
		id := g.idPart + scope + kind + upperFirst(what)
		of := " the " + what + " of the named " + kind + "."
		it.get = &operation{action: "get", id: "read" + id, gvk: &gvk, desc: "Read" + of, ok: obj}
		it.put = &operation{action: "put", id: "replace" + id, gvk: &gvk, desc: "Replace" + of, body: obj, bodyReq: true, params: writeParams, ok: obj, created: true}
		p := g.patchOp("patch"+id, "Patch"+of, obj)
		p.gvk = &gvk
		it.patch = &p
	}
	if r.Status {
		sub("status", gvk, obj)
	}
	if r.Scale != nil {
		sub("scale", scaleGVK, g.ref(scaleType))
	}

	// The watch paths that came before watch=true; clients may still look for them.
	if r.HasVerb("watch") {
		event := g.ref(watchEventType)
		watch := func(path, action, id, desc string, params []param) {
			g.item(path, params...).get = op(operation{
				action: action, id: id, produces: producesList, params: listParams, ok: event,
				desc: desc + " Deprecated: use the list operation with watch=true.",
			})
		}
		watch(g.prefix+"/watch"+ns+"/"+r.Resource, "watchlist", "watch"+g.idPart+scope+kind+"List", "Watch the "+kind+" objects"+in+".", nsParams)
		watch(g.prefix+"/watch"+ns+"/"+r.Resource+"/{name}", "watch", "watch"+g.idPart+scope+kind, "Watch the named "+kind+".", itemParams)
		if r.Namespaced {
			watch(g.prefix+"/watch/"+r.Resource, "watchlist", "watch"+g.idPart+kind+"ListForAllNamespaces", "Watch the "+kind+" objects of every namespace.", nil)
		}
	}
}

func (g *gvPaths) patchOp(id, desc, obj string) operation {
	return operation{
		action: "patch", id: id, consumes: consumesPatch,
		desc: desc + " The body is a JSON patch, a JSON merge patch, a strategic merge patch or an apply configuration, as its content type says.",
		body: g.ref(patchType), bodyReq: true, params: patchParams, ok: obj, created: true,
	}
}

// JSON shapes of the operations.

type refJSON struct {
	Ref string `json:"$ref"`
}

type gvkJSON struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

func toGVK(g *schema.GroupVersionKind) *gvkJSON {
	if g == nil {
		return nil
	}
	return &gvkJSON{Group: g.Group, Kind: g.Kind, Version: g.Version}
}

func responseCodes(o *operation) []string {
	codes := []string{"200"}
	if o.created {
		codes = append(codes, "201")
	}
	if o.accepted {
		codes = append(codes, "202")
	}
	return codes
}

var codeText = map[string]string{"200": "OK", "201": "Created", "202": "Accepted", "401": "Unauthorized"}

// Swagger 2.0.

type v2Param struct {
	UniqueItems bool     `json:"uniqueItems,omitempty"`
	Type        string   `json:"type,omitempty"`
	Description string   `json:"description,omitempty"`
	Name        string   `json:"name"`
	In          string   `json:"in"`
	Required    bool     `json:"required,omitempty"`
	Schema      *refJSON `json:"schema,omitempty"`
}

type v2Response struct {
	Description string   `json:"description"`
	Schema      *refJSON `json:"schema,omitempty"`
}

type v2Operation struct {
	Description string                `json:"description,omitempty"`
	Consumes    []string              `json:"consumes,omitempty"`
	Produces    []string              `json:"produces,omitempty"`
	Schemes     []string              `json:"schemes,omitempty"`
	Tags        []string              `json:"tags,omitempty"`
	OperationID string                `json:"operationId"`
	Parameters  []v2Param             `json:"parameters,omitempty"`
	Responses   map[string]v2Response `json:"responses"`
	Action      string                `json:"x-kubernetes-action,omitempty"`
	GVK         *gvkJSON              `json:"x-kubernetes-group-version-kind,omitempty"`
}

type v2PathItem struct {
	Get        *v2Operation `json:"get,omitempty"`
	Put        *v2Operation `json:"put,omitempty"`
	Post       *v2Operation `json:"post,omitempty"`
	Delete     *v2Operation `json:"delete,omitempty"`
	Patch      *v2Operation `json:"patch,omitempty"`
	Parameters []v2Param    `json:"parameters,omitempty"`
}

func v2Params(ps []param) []v2Param {
	out := make([]v2Param, 0, len(ps))
	for _, p := range ps {
		out = append(out, v2Param{UniqueItems: true, Type: p.typ, Description: p.desc, Name: p.name, In: p.in, Required: p.required})
	}
	return out
}

func (o *operation) v2(tag string) *v2Operation {
	if o == nil {
		return nil
	}
	op := &v2Operation{
		Description: o.desc, Consumes: o.consumes, Produces: o.produces, Schemes: []string{"https"},
		Tags: []string{tag}, OperationID: o.id, Action: o.action, GVK: toGVK(o.gvk),
		Responses: map[string]v2Response{"401": {Description: codeText["401"]}},
	}
	if op.Consumes == nil {
		op.Consumes = consumesAny
	}
	if op.Produces == nil {
		op.Produces = producesObject
	}
	if o.body != "" {
		op.Parameters = append(op.Parameters, v2Param{Name: "body", In: "body", Required: o.bodyReq, Schema: &refJSON{v2RefPrefix + o.body}})
	}
	op.Parameters = append(op.Parameters, v2Params(o.params)...)
	for _, c := range responseCodes(o) {
		op.Responses[c] = v2Response{Description: codeText[c], Schema: &refJSON{v2RefPrefix + o.ok}}
	}
	return op
}

func (g *gvPaths) v2() map[string]v2PathItem {
	out := make(map[string]v2PathItem, len(g.paths))
	for path, it := range g.paths {
		out[path] = v2PathItem{
			Get: it.get.v2(g.tag), Put: it.put.v2(g.tag), Post: it.post.v2(g.tag), Delete: it.delete.v2(g.tag), Patch: it.patch.v2(g.tag),
			Parameters: v2Params(it.params),
		}
	}
	return out
}

// OpenAPI 3.0.

const v3RefPrefix = "#/components/schemas/"

type v3Schema struct {
	Type        string `json:"type"`
	UniqueItems bool   `json:"uniqueItems,omitempty"`
}

type v3Param struct {
	Name        string   `json:"name"`
	In          string   `json:"in"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Schema      v3Schema `json:"schema"`
}

type v3Media struct {
	Schema refJSON `json:"schema"`
}

type v3Body struct {
	Content  map[string]v3Media `json:"content"`
	Required bool               `json:"required,omitempty"`
}

type v3Response struct {
	Description string             `json:"description"`
	Content     map[string]v3Media `json:"content,omitempty"`
}

type v3Operation struct {
	Tags        []string              `json:"tags,omitempty"`
	Description string                `json:"description,omitempty"`
	OperationID string                `json:"operationId"`
	Parameters  []v3Param             `json:"parameters,omitempty"`
	RequestBody *v3Body               `json:"requestBody,omitempty"`
	Responses   map[string]v3Response `json:"responses"`
	Action      string                `json:"x-kubernetes-action,omitempty"`
	GVK         *gvkJSON              `json:"x-kubernetes-group-version-kind,omitempty"`
}

type v3PathItem struct {
	Get        *v3Operation `json:"get,omitempty"`
	Put        *v3Operation `json:"put,omitempty"`
	Post       *v3Operation `json:"post,omitempty"`
	Delete     *v3Operation `json:"delete,omitempty"`
	Patch      *v3Operation `json:"patch,omitempty"`
	Parameters []v3Param    `json:"parameters,omitempty"`
}

func v3Params(ps []param) []v3Param {
	out := make([]v3Param, 0, len(ps))
	for _, p := range ps {
		out = append(out, v3Param{Name: p.name, In: p.in, Description: p.desc, Required: p.required, Schema: v3Schema{Type: p.typ, UniqueItems: true}})
	}
	return out
}

func v3Content(types []string, def string) map[string]v3Media {
	m := make(map[string]v3Media, len(types))
	for _, t := range types {
		m[t] = v3Media{Schema: refJSON{v3RefPrefix + def}}
	}
	return m
}

func (o *operation) v3(tag string) *v3Operation {
	if o == nil {
		return nil
	}
	op := &v3Operation{
		Tags: []string{tag}, Description: o.desc, OperationID: o.id, Parameters: v3Params(o.params),
		Action: o.action, GVK: toGVK(o.gvk),
		Responses: map[string]v3Response{"401": {Description: codeText["401"]}},
	}
	if len(op.Parameters) == 0 {
		op.Parameters = nil
	}
	if o.body != "" {
		consumes := o.consumes
		if consumes == nil {
			consumes = consumesAny
		}
		op.RequestBody = &v3Body{Content: v3Content(consumes, o.body), Required: o.bodyReq}
	}
	produces := o.produces
	if produces == nil {
		produces = producesObject
	}
	for _, c := range responseCodes(o) {
		op.Responses[c] = v3Response{Description: codeText[c], Content: v3Content(produces, o.ok)}
	}
	return op
}

func (g *gvPaths) v3() map[string]v3PathItem {
	out := make(map[string]v3PathItem, len(g.paths))
	for path, it := range g.paths {
		out[path] = v3PathItem{
			Get: it.get.v3(g.tag), Put: it.put.v3(g.tag), Post: it.post.v3(g.tag), Delete: it.delete.v3(g.tag), Patch: it.patch.v3(g.tag),
			Parameters: v3Params(it.params),
		}
	}
	return out
}

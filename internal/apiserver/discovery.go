package apiserver

import (
	"net/http"
	"sort"
	"strings"
	"sync"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/registry"
)

// subresource is one subresource as discovery lists it.
type subresource struct {
	name  string
	kind  schema.GroupVersionKind // empty group/version = the parent's
	verbs []string
}

var (
	statusVerbs = []string{"get", "patch", "update"}
	scaleKind   = schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}
)

// subresourcesOf lists the subresources tug serves for r.
func subresourcesOf(r *registry.Resource) []subresource {
	var out []subresource
	k := schema.GroupVersionKind{Kind: r.Kind}
	if r.Group == "" && r.Version == "v1" {
		switch r.Resource {
		case "pods":
			out = append(out,
				subresource{"attach", schema.GroupVersionKind{Kind: "PodAttachOptions"}, []string{"create", "get"}},
				subresource{"binding", schema.GroupVersionKind{Kind: "Binding"}, []string{"create"}},
				subresource{"eviction", schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, []string{"create"}},
				subresource{"exec", schema.GroupVersionKind{Kind: "PodExecOptions"}, []string{"create", "get"}},
				subresource{"log", k, []string{"get"}},
				subresource{"portforward", schema.GroupVersionKind{Kind: "PodPortForwardOptions"}, []string{"create", "get"}},
				subresource{"proxy", schema.GroupVersionKind{Kind: "PodProxyOptions"}, []string{"create", "delete", "get", "patch", "update"}},
			)
		case "nodes":
			out = append(out, subresource{"proxy", schema.GroupVersionKind{Kind: "NodeProxyOptions"}, []string{"create", "delete", "get", "patch", "update"}})
		case "services":
			out = append(out, subresource{"proxy", schema.GroupVersionKind{Kind: "ServiceProxyOptions"}, []string{"create", "delete", "get", "patch", "update"}})
		case "namespaces":
			out = append(out, subresource{"finalize", k, []string{"update"}})
		case "serviceaccounts":
			out = append(out, subresource{"token", schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}, []string{"create"}})
		}
	}
	for name := range r.Subresources {
		out = append(out, subresource{name, k, statusVerbs})
	}
	if r.Scale != nil {
		out = append(out, subresource{"scale", scaleKind, statusVerbs})
	}
	if r.Status {
		out = append(out, subresource{"status", k, statusVerbs})
	}
	// Listed by name, as a real server does.
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// hasSubresource reports whether r serves sub.
func hasSubresource(r *registry.Resource, sub string) bool {
	names, ok := subresourceNames.Load(r)
	if !ok {
		m := map[string]bool{}
		for _, s := range subresourcesOf(r) {
			m[s.name] = true
		}
		names, _ = subresourceNames.LoadOrStore(r, m)
	}
	return names.(map[string]bool)[sub]
}

// subresourceNames remembers, per resource, the names of its subresources
// (hasSubresource runs on every request to one).
var subresourceNames sync.Map

func wantsAggregated(r *http.Request) (bool, string) {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		p := strings.ReplaceAll(strings.TrimSpace(part), " ", "")
		if strings.Contains(p, "g=apidiscovery.k8s.io") && strings.Contains(p, "as=APIGroupDiscoveryList") {
			if strings.Contains(p, "v=v2beta1") {
				return true, "v2beta1"
			}
			if strings.Contains(p, "v=v2") {
				return true, "v2"
			}
		}
		if strings.HasPrefix(p, mediaJSON) || strings.HasPrefix(p, "*/*") {
			return false, ""
		}
	}
	return false, ""
}

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request, info *requestInfo) {
	parts := splitPath(r.URL.Path)
	switch {
	case len(parts) == 1 && parts[0] == "api":
		if ok, v := wantsAggregated(r); ok {
			s.writeAggregated(w, v, true)
			return
		}
		s.writeJSON(w, r, &metav1.APIVersions{
			TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
			Versions:                   []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}},
		})
	case len(parts) == 1 && parts[0] == "apis":
		if ok, v := wantsAggregated(r); ok {
			s.writeAggregated(w, v, false)
			return
		}
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, g := range s.cfg.Registry.Groups {
			if g.Name != "" {
				list.Groups = append(list.Groups, apiGroup(g))
			}
		}
		s.writeJSON(w, r, list)
	case len(parts) == 2 && parts[0] == "apis":
		for _, g := range s.cfg.Registry.Groups {
			if g.Name == parts[1] {
				ag := apiGroup(g)
				ag.Kind, ag.APIVersion = "APIGroup", "v1"
				s.writeJSON(w, r, &ag)
				return
			}
		}
		writeError(w, r, notFoundPath())
	case (len(parts) == 2 && parts[0] == "api") || (len(parts) == 3 && parts[0] == "apis"):
		rs := s.cfg.Registry.InGroupVersion(info.Group, info.Version)
		if len(rs) == 0 {
			writeError(w, r, notFoundPath())
			return
		}
		gv := info.Version
		if info.Group != "" {
			gv = info.Group + "/" + info.Version
		}
		list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv}
		for _, res := range rs {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: res.Resource, SingularName: res.Singular, Namespaced: res.Namespaced, Kind: res.Kind,
				Verbs: res.AllowedVerbs(), ShortNames: res.ShortNames, Categories: res.Categories,
			})
			for _, sub := range subresourcesOf(res) {
				list.APIResources = append(list.APIResources, metav1.APIResource{
					Name: res.Resource + "/" + sub.name, Namespaced: res.Namespaced, Kind: sub.kind.Kind,
					Group: sub.kind.Group, Version: sub.kind.Version, Verbs: sub.verbs,
				})
			}
		}
		s.writeJSON(w, r, list)
	default:
		writeError(w, r, notFoundPath())
	}
}

func apiGroup(g registry.Group) metav1.APIGroup {
	ag := metav1.APIGroup{Name: g.Name}
	for _, v := range g.Versions {
		ag.Versions = append(ag.Versions, metav1.GroupVersionForDiscovery{GroupVersion: g.Name + "/" + v, Version: v})
	}
	ag.PreferredVersion = ag.Versions[0]
	return ag
}

func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := encodeMeta(mediaJSON, v)
	if err != nil {
		writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	writeRaw(w, http.StatusOK, mediaJSON, b)
}

// writeAggregated answers /api or /apis with an APIGroupDiscoveryList, which lets
// kubectl learn every resource in one request.
func (s *Server) writeAggregated(w http.ResponseWriter, version string, core bool) {
	list := apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/" + version}}
	for _, g := range s.cfg.Registry.Groups {
		if (g.Name == "") != core {
			continue
		}
		ag := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.Name}}
		for _, v := range g.Versions {
			vd := apidiscoveryv2.APIVersionDiscovery{Version: v, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
			for _, res := range s.cfg.Registry.InGroupVersion(g.Name, v) {
				scope := apidiscoveryv2.ScopeCluster
				if res.Namespaced {
					scope = apidiscoveryv2.ScopeNamespace
				}
				rd := apidiscoveryv2.APIResourceDiscovery{
					Resource: res.Resource, ResponseKind: &metav1.GroupVersionKind{Kind: res.Kind}, Scope: scope,
					SingularResource: res.Singular, Verbs: res.AllowedVerbs(), ShortNames: res.ShortNames, Categories: res.Categories,
				}
				for _, sub := range subresourcesOf(res) {
					rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
						Subresource: sub.name, Verbs: sub.verbs,
						ResponseKind: &metav1.GroupVersionKind{Group: sub.kind.Group, Version: sub.kind.Version, Kind: sub.kind.Kind},
					})
				}
				vd.Resources = append(vd.Resources, rd)
			}
			ag.Versions = append(ag.Versions, vd)
		}
		list.Items = append(list.Items, ag)
	}
	b, _ := encodeMeta(mediaJSON, &list)
	writeRaw(w, http.StatusOK, "application/json;g=apidiscovery.k8s.io;v="+version+";as=APIGroupDiscoveryList", b)
}

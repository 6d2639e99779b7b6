package apiserver

import (
	"net/http"
	"strings"
)

// requestInfo is what a request path and method say about the request.
type requestInfo struct {
	IsResource  bool
	Path        string
	Verb        string
	APIPrefix   string // "api" or "apis"
	Group       string
	Version     string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
}

// namespaceSubresources are the subresources of a namespace object itself.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// parseRequestInfo splits /api/v1/namespaces/NS/RESOURCE/NAME/SUB and
// /apis/GROUP/VERSION/... into their parts and derives the verb.
func parseRequestInfo(r *http.Request) *requestInfo {
	info := &requestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	parts := splitPath(r.URL.Path)
	if len(parts) < 1 || (parts[0] != "api" && parts[0] != "apis") {
		return info
	}
	info.APIPrefix = parts[0]
	parts = parts[1:]
	if info.APIPrefix == "api" {
		if len(parts) < 1 {
			return info
		}
		info.Version = parts[0]
		parts = parts[1:]
	} else {
		if len(parts) < 2 {
			if len(parts) == 1 {
				info.Group = parts[0]
			}
			return info
		}
		info.Group, info.Version = parts[0], parts[1]
		parts = parts[2:]
	}
	if len(parts) == 0 {
		return info
	}
	info.IsResource = true
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.Namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	switch {
	case len(parts) >= 3:
		info.Subresource = parts[2]
		fallthrough
	case len(parts) == 2:
		info.Name = parts[1]
		fallthrough
	default:
		info.Resource = parts[0]
	}
	if len(parts) > 3 {
		// Deeper paths (service proxy paths) keep the rest in Path.
		info.Subresource = parts[2]
	}
	// A namespace is named by its own path segment.
	if info.Resource == "namespaces" && info.Namespace != "" && info.Name == "" {
		info.Name = info.Namespace
	}
	if info.Resource == "namespaces" {
		info.Namespace = ""
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case info.Name == "" && r.URL.Query().Get("watch") == "true":
			info.Verb = "watch"
		case info.Name == "":
			info.Verb = "list"
		default:
			info.Verb = "get"
		}
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		if info.Name == "" {
			info.Verb = "deletecollection"
		} else {
			info.Verb = "delete"
		}
	}
	// Streaming subresources upgrade with GET but create a session: authorize as create.
	if r.Method == http.MethodGet && isConnectSubresource(info.Resource, info.Subresource) && isUpgrade(r) {
		info.Verb = "create"
	}
	return info
}

func isConnectSubresource(resource, sub string) bool {
	return resource == "pods" && (sub == "exec" || sub == "attach" || sub == "portforward")
}

func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "upgrade") {
				return true
			}
		}
	}
	return false
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

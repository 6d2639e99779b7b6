package garbagecollector

import (
	"fmt"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// resourceInfo is what discovery says about one resource.
type resourceInfo struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

// mapper turns an ownerReference's apiVersion and kind into a resource.
type mapper struct {
	mu     sync.RWMutex
	byKind map[schema.GroupKind][]resourceInfo
}

func newMapper() *mapper { return &mapper{byKind: map[schema.GroupKind][]resourceInfo{}} }

// set replaces the known resources with the (non-subresource) resources of lists.
func (m *mapper) set(lists []*metav1.APIResourceList) {
	byKind := map[schema.GroupKind][]resourceInfo{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			gk := schema.GroupKind{Group: gv.Group, Kind: r.Kind}
			byKind[gk] = append(byKind[gk], resourceInfo{gvr: gv.WithResource(r.Name), kind: r.Kind, namespaced: r.Namespaced})
		}
	}
	m.mu.Lock()
	m.byKind = byKind
	m.mu.Unlock()
}

// lookup finds the resource for apiVersion and kind; another served version of the
// same group and kind will do.
func (m *mapper) lookup(apiVersion, kind string) (resourceInfo, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return resourceInfo{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	infos := m.byKind[schema.GroupKind{Group: gv.Group, Kind: kind}]
	for _, ri := range infos {
		if ri.gvr.Version == gv.Version {
			return ri, nil
		}
	}
	if len(infos) > 0 {
		return infos[0], nil
	}
	return resourceInfo{}, &unmappedError{apiVersion: apiVersion, kind: kind}
}

// unmappedError: no served resource has this kind.
type unmappedError struct{ apiVersion, kind string }

func (e *unmappedError) Error() string {
	return fmt.Sprintf("no resource is served for kind %s in %s", e.kind, e.apiVersion)
}

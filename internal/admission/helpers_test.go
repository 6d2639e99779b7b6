package admission

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"tug/internal/registry"
)

// Resources as the API server hands them to admission.
var (
	podsRes         = &registry.Resource{Resource: "pods", Kind: "Pod", Version: "v1", Namespaced: true}
	configMapsRes   = &registry.Resource{Resource: "configmaps", Kind: "ConfigMap", Version: "v1", Namespaced: true}
	namespacesRes   = &registry.Resource{Resource: "namespaces", Kind: "Namespace", Version: "v1"}
	nodesRes        = &registry.Resource{Resource: "nodes", Kind: "Node", Version: "v1"}
	rolesRes        = &registry.Resource{Group: rbacv1.GroupName, Version: "v1", Resource: "roles", Kind: "Role", Namespaced: true}
	clusterRolesRes = &registry.Resource{Group: rbacv1.GroupName, Version: "v1", Resource: "clusterroles", Kind: "ClusterRole"}
	bindingsRes     = &registry.Resource{Group: rbacv1.GroupName, Version: "v1", Resource: "rolebindings", Kind: "RoleBinding", Namespaced: true}
	clusterBindRes  = &registry.Resource{Group: rbacv1.GroupName, Version: "v1", Resource: "clusterrolebindings", Kind: "ClusterRoleBinding"}
)

func ptr[T any](v T) *T { return &v }

func podWith(mut func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{}
	p.Name, p.Namespace = "p", "ns1"
	p.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
	if mut != nil {
		mut(p)
	}
	return p
}

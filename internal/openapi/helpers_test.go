package openapi

import (
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"tug/internal/registry"
)

// testSet is a small registry with the shapes that matter: namespaced and
// cluster-scoped kinds, status and scale subresources, and a create-only kind.
func testSet() *registry.Set {
	return registry.NewSet([]*registry.Resource{
		{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true,
			New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} }},
		{Version: "v1", Resource: "namespaces", Kind: "Namespace", Status: true,
			New: func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} }},
		{Version: "v1", Resource: "pods", Kind: "Pod", Namespaced: true, Status: true,
			New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} }},
		{Version: "v1", Resource: "services", Kind: "Service", Namespaced: true, Status: true,
			New: func() runtime.Object { return &corev1.Service{} }, NewList: func() runtime.Object { return &corev1.ServiceList{} }},
		{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true, Status: true,
			Scale: &registry.ScaleRules{},
			New:   func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} }},
		{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews", Kind: "SelfSubjectAccessReview",
			Verbs: []string{"create"},
			New:   func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} }},
	})
}

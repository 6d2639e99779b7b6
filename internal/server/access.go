package server

import (
	"context"
	"log/slog"
	"sync/atomic"

	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/admission"
	"tug/internal/apiserver"
	"tug/internal/auth"
	"tug/internal/registry"
	"tug/internal/storage"
)

// accessControl is the authorizer and the admission chain. Both must exist before
// the API server is built, but read the stores the API server creates: lookups
// answer nil until start hands them the server.
type accessControl struct {
	Authorizer auth.Authorizer
	Admission  admission.Chain

	rbacSource *auth.StoreRBACSource
	nodeGraph  *auth.NodeGraph
	stores     atomic.Pointer[storeIndex]
}

type storeIndex struct {
	api *apiserver.Server
	reg *registry.Set
}

func newAccessControl() *accessControl {
	ac := &accessControl{}
	ac.rbacSource = auth.NewStoreRBACSource(ac.lookup)
	rbac := auth.NewRBACAuthorizer(ac.rbacSource)
	// A node reads secrets, config maps, claims, volumes and service accounts
	// only as far as its own pods use them; the node authorizer decides those
	// before RBAC is asked.
	ac.nodeGraph = auth.NewNodeGraph(ac.lookup)
	ac.Authorizer = auth.MastersAuthorizer{Next: &auth.NodeAuthorizer{Next: rbac, Graph: ac.nodeGraph}}
	deps := admission.StoreDeps(ac.lookup)
	deps.Authorizer, deps.Rules = ac.Authorizer, rbac
	// Nodes write only their own Node, Lease and pods.
	ac.Admission = append(admission.Default(deps), admission.NodeRestriction{})
	return ac
}

func (ac *accessControl) lookup(gvr schema.GroupVersionResource) *storage.Resource {
	si := ac.stores.Load()
	if si == nil {
		return nil
	}
	res := si.reg.Lookup(gvr)
	if res == nil {
		return nil
	}
	return si.api.Store(res)
}

// start connects to the API server's stores (after storage has started).
func (ac *accessControl) start(ctx context.Context, api *apiserver.Server, reg *registry.Set) {
	ac.stores.Store(&storeIndex{api: api, reg: reg})
	ac.rbacSource.Start(ctx)
	ac.nodeGraph.Start(ctx)
}

// ensurePolicy creates the default RBAC objects and the system priority classes
// that do not exist yet.
func ensurePolicy(ctx context.Context, api *apiserver.Server) error {
	for _, pc := range registry.SystemPriorityClasses() {
		if _, err := api.EnsureObject(ctx, schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"), pc); err != nil {
			return err
		}
	}
	for _, obj := range auth.BootstrapPolicy() {
		gvr := rbacv1.SchemeGroupVersion.WithResource("clusterroles")
		if _, ok := obj.(*rbacv1.ClusterRoleBinding); ok {
			gvr = rbacv1.SchemeGroupVersion.WithResource("clusterrolebindings")
		}
		if _, err := api.EnsureObject(ctx, gvr, obj); err != nil {
			if apierrors.IsNotFound(err) {
				slog.Warn("RBAC is not served; the default policy is not created", "resource", gvr.Resource)
				return nil
			}
			return err
		}
	}
	return nil
}

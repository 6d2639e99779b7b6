package auth

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/storage"
)

// StoreLookup finds the storage of a resource. It may return nil (the resource is
// not served, or the API server is not built yet).
type StoreLookup func(gvr schema.GroupVersionResource) *storage.Resource

// StoreRBACSource reads RBAC objects from the API server's watch cache. Watches on
// the four resources move its revision, so the authorizer re-reads only after a
// change.
type StoreRBACSource struct {
	lookup StoreLookup
	rev    atomic.Uint64
}

// NewStoreRBACSource returns a source over the stores lookup finds. Call Start
// once the storage has started.
func NewStoreRBACSource(lookup StoreLookup) *StoreRBACSource {
	return &StoreRBACSource{lookup: lookup}
}

var rbacGVRs = []schema.GroupVersionResource{
	rbacv1.SchemeGroupVersion.WithResource("roles"),
	rbacv1.SchemeGroupVersion.WithResource("clusterroles"),
	rbacv1.SchemeGroupVersion.WithResource("rolebindings"),
	rbacv1.SchemeGroupVersion.WithResource("clusterrolebindings"),
}

// Start follows changes to the RBAC resources until ctx ends.
func (s *StoreRBACSource) Start(ctx context.Context) {
	for _, gvr := range rbacGVRs {
		if r := s.lookup(gvr); r != nil {
			go s.follow(ctx, r)
		} else {
			slog.Warn("RBAC resource is not served; its objects grant nothing", "resource", gvr.Resource)
		}
	}
	s.rev.Add(1)
}

// follow bumps the revision on every change to r, re-watching if a watch ends.
func (s *StoreRBACSource) follow(ctx context.Context, r *storage.Resource) {
	for ctx.Err() == nil {
		w, err := r.Watch(ctx, storage.WatchOptions{ResourceVersion: "0"})
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		for {
			if _, ok := w.Next(ctx, nil); !ok {
				break
			}
			s.rev.Add(1)
		}
		w.Stop()
		// The watch ended (it fell behind, or storage reloaded): re-read everything.
		s.rev.Add(1)
	}
}

// Revision implements RBACSource.
func (s *StoreRBACSource) Revision() uint64 { return s.rev.Load() }

// RBACObjects implements RBACSource.
func (s *StoreRBACSource) RBACObjects(ctx context.Context) (*RBACObjects, error) {
	out := &RBACObjects{}
	for _, gvr := range rbacGVRs {
		r := s.lookup(gvr)
		if r == nil {
			continue
		}
		list, err := r.List(ctx, storage.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return nil, err
		}
		for _, o := range list.Items {
			switch obj := o.Obj.(type) {
			case *rbacv1.Role:
				out.Roles = append(out.Roles, obj)
			case *rbacv1.ClusterRole:
				out.ClusterRoles = append(out.ClusterRoles, obj)
			case *rbacv1.RoleBinding:
				out.RoleBindings = append(out.RoleBindings, obj)
			case *rbacv1.ClusterRoleBinding:
				out.ClusterRoleBindings = append(out.ClusterRoleBindings, obj)
			}
		}
	}
	return out, nil
}

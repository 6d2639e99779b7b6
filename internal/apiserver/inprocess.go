package apiserver

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/auth"
)

// systemUser is who in-process writes (bootstrap objects) act as.
var systemUser = &auth.User{Name: auth.UserAPIServer, Groups: []string{auth.GroupMasters, auth.GroupAuthenticated}}

// EnsureObject creates obj through the normal create flow (defaults, validation,
// admission) unless an object of that name exists. It reports whether it created it.
func (s *Server) EnsureObject(ctx context.Context, gvr schema.GroupVersionResource, obj runtime.Object) (bool, error) {
	res := s.cfg.Registry.Lookup(gvr)
	if res == nil {
		return false, apierrors.NewNotFound(gvr.GroupResource(), "")
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return false, err
	}
	if _, err := s.stores[res].Get(ctx, m.GetNamespace(), m.GetName(), ""); err == nil {
		return false, nil
	}
	obj.GetObjectKind().SetGroupVersionKind(res.GVK())
	op := &writeOp{res: res.Stored(), served: res, namespace: m.GetNamespace(), name: m.GetName(), user: systemUser}
	_, err = s.create(auth.WithUser(ctx, systemUser), op, obj.DeepCopyObject())
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	return err == nil, err
}

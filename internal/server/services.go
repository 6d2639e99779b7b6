package server

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"tug/internal/apiserver"
	"tug/internal/registry"
	"tug/internal/registry/alloc"
	"tug/internal/storage"
)

// wireServiceAllocation gives services their cluster IPs and node ports from the
// default ranges, reading the services already stored from the cache.
func wireServiceAllocation(api *apiserver.Server) error {
	store := api.Store(registry.Services)
	if store == nil {
		return fmt.Errorf("services are not stored")
	}
	a, err := alloc.NewServiceAllocator(alloc.DefaultServiceCIDR, alloc.DefaultNodePorts, func(ctx context.Context) ([]*corev1.Service, error) {
		res, err := store.List(ctx, storage.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return nil, err
		}
		out := make([]*corev1.Service, 0, len(res.Items))
		for _, o := range res.Items {
			if s, ok := o.Obj.(*corev1.Service); ok {
				out = append(out, s)
			}
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	registry.Services.Allocate = a.Allocate
	registry.Services.Release = a.Release
	return nil
}

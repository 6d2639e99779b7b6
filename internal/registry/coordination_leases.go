package registry

import (
	"context"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "coordination.k8s.io", Version: "v1", Resource: "leases", Kind: "Lease", Namespaced: true,
		New:     func() runtime.Object { return &coordinationv1.Lease{} },
		NewList: func() runtime.Object { return &coordinationv1.LeaseList{} },
		Strategy: Strategy{
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				s := obj.(*coordinationv1.Lease).Spec
				p := field.NewPath("spec")
				errs := extPositive32(s.LeaseDurationSeconds, p.Child("leaseDurationSeconds"))
				return append(errs, extNonNeg32(s.LeaseTransitions, p.Child("leaseTransitions"))...)
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("lease"),
			{Name: "Holder", Type: "string", Description: "Identity of the current holder of the lease."},
			extAgeColumn("lease"),
		},
		Row: func(obj runtime.Object) []interface{} {
			l := obj.(*coordinationv1.Lease)
			holder := ""
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []interface{}{l.Name, holder, Age(l.CreationTimestamp)}
		},
	})
}

package registry

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "limitranges", Kind: "LimitRange", Namespaced: true,
		ShortNames: []string{"limits"},
		New:        func() runtime.Object { return &corev1.LimitRange{} },
		NewList:    func() runtime.Object { return &corev1.LimitRangeList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				lr := obj.(*corev1.LimitRange)
				for i := range lr.Spec.Limits {
					defaultLimitRangeItem(&lr.Spec.Limits[i])
				}
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateLimitRange(obj.(*corev1.LimitRange))
			},
		},
		// No Columns: the table is Name and Created At, as for Kubernetes.
	})
}

// defaultLimitRangeItem fills in a container's default limit from the max, and its
// default request from the default limit, else from the min.
func defaultLimitRangeItem(it *corev1.LimitRangeItem) {
	if it.Type != corev1.LimitTypeContainer {
		return
	}
	fill := func(dst *corev1.ResourceList, src corev1.ResourceList) {
		for n, q := range src {
			if _, ok := (*dst)[n]; ok {
				continue
			}
			if *dst == nil {
				*dst = corev1.ResourceList{}
			}
			(*dst)[n] = q.DeepCopy()
		}
	}
	fill(&it.Default, it.Max)
	fill(&it.DefaultRequest, it.Default)
	fill(&it.DefaultRequest, it.Min)
}

func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var errs field.ErrorList
	seenTypes := map[corev1.LimitType]bool{}
	for i, it := range lr.Spec.Limits {
		ip := field.NewPath("spec", "limits").Index(i)
		errs = append(errs, checkEnum(ip.Child("type"), it.Type, corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim)...)
		if seenTypes[it.Type] {
			errs = append(errs, field.Duplicate(ip.Child("type"), it.Type))
		}
		seenTypes[it.Type] = true
		lists := []struct {
			name string
			list corev1.ResourceList
		}{{"max", it.Max}, {"min", it.Min}, {"default", it.Default}, {"defaultRequest", it.DefaultRequest}, {"maxLimitRequestRatio", it.MaxLimitRequestRatio}}
		for _, l := range lists {
			for _, n := range SortedResourceNames(l.list) {
				kp := ip.Child(l.name).Key(string(n))
				errs = append(errs, checkQualifiedName(kp, string(n))...)
				errs = append(errs, checkQuantityNonNegative(kp, l.list[n])...)
			}
		}
		if it.Type == corev1.LimitTypePod {
			if len(it.Default) > 0 {
				errs = append(errs, field.Forbidden(ip.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(it.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(ip.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		}
		if it.Type == corev1.LimitTypePersistentVolumeClaim {
			_, minOK := it.Min[corev1.ResourceStorage]
			_, maxOK := it.Max[corev1.ResourceStorage]
			if !minOK && !maxOK {
				errs = append(errs, field.Required(ip.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		// Each bound must be consistent with the others: min <= defaultRequest <= default <= max.
		order := func(lo, hi corev1.ResourceList, loName, hiName string) {
			for _, n := range SortedResourceNames(lo) {
				l := lo[n]
				h, ok := hi[n]
				if ok && l.Cmp(h) > 0 {
					errs = append(errs, field.Invalid(ip.Child(loName).Key(string(n)), l.String(),
						fmt.Sprintf("%s value %s is greater than %s value %s", loName, l.String(), hiName, h.String())))
				}
			}
		}
		order(it.Min, it.Max, "min", "max")
		order(it.Min, it.DefaultRequest, "min", "defaultRequest")
		order(it.DefaultRequest, it.Default, "defaultRequest", "default")
		order(it.Default, it.Max, "default", "max")
		order(it.DefaultRequest, it.Max, "defaultRequest", "max")
		one := resource.MustParse("1")
		for _, n := range SortedResourceNames(it.MaxLimitRequestRatio) {
			r := it.MaxLimitRequestRatio[n]
			if r.Cmp(one) < 0 {
				errs = append(errs, field.Invalid(ip.Child("maxLimitRequestRatio").Key(string(n)), r.String(), "ratio must be greater than or equal to 1"))
			}
		}
	}
	return errs
}

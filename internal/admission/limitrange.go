package admission

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"tug/internal/quota"
	"tug/internal/registry"
)

// ObjectLister lists the objects of one resource in a namespace. fresh asks for a
// list that sees every write completed so far; otherwise the cache may answer.
type ObjectLister interface {
	ListObjects(ctx context.Context, gvr schema.GroupVersionResource, namespace string, fresh bool) ([]runtime.Object, error)
}

var limitRangesGVR = corev1.SchemeGroupVersion.WithResource("limitranges")

// LimitRanger applies the namespace's LimitRanges to new pods and claims: containers
// get the default requests and limits they leave out, then every container, pod and
// claim must stay within the ranges' min, max and limit/request ratio.
type LimitRanger struct {
	Objects ObjectLister
}

// Admit implements Plugin.
func (l LimitRanger) Admit(ctx context.Context, r *Request) error {
	if r.Operation != Create || r.Subresource != "" || r.Resource == nil || r.Resource.Group != "" {
		return nil
	}
	var pod *corev1.Pod
	var pvc *corev1.PersistentVolumeClaim
	switch o := r.Object.(type) {
	case *corev1.Pod:
		pod = o
	case *corev1.PersistentVolumeClaim:
		pvc = o
	default:
		return nil
	}
	objs, err := l.Objects.ListObjects(ctx, limitRangesGVR, r.Namespace, false)
	if err != nil || len(objs) == 0 {
		return err
	}
	ranges := make([]*corev1.LimitRange, 0, len(objs))
	for _, o := range objs {
		if lr, ok := o.(*corev1.LimitRange); ok {
			ranges = append(ranges, lr)
		}
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].Name < ranges[j].Name })
	var errs []error
	if pod != nil {
		errs = limitPod(ranges, pod)
	} else {
		errs = limitClaim(ranges, pvc)
	}
	if len(errs) > 0 {
		return apierrors.NewForbidden(r.Resource.GroupResource(), r.Name, utilerrors.NewAggregate(errs))
	}
	return nil
}

// limitPod fills in container defaults, then checks the pod against every range.
func limitPod(ranges []*corev1.LimitRange, pod *corev1.Pod) []error {
	changed := false
	for _, lr := range ranges {
		for _, it := range lr.Spec.Limits {
			if it.Type != corev1.LimitTypeContainer {
				continue
			}
			for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
				for i := range cs {
					if applyDefaults(&cs[i].Resources, it.Default, it.DefaultRequest) {
						changed = true
					}
				}
			}
		}
	}
	if changed {
		pod.Status.QOSClass = registry.PodQOS(&pod.Spec)
	}
	var errs []error
	for _, lr := range ranges {
		for _, it := range lr.Spec.Limits {
			switch it.Type {
			case corev1.LimitTypeContainer:
				for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
					for _, c := range cs {
						errs = append(errs, checkRange(it, "Container", c.Resources.Requests, c.Resources.Limits)...)
					}
				}
			case corev1.LimitTypePod:
				errs = append(errs, checkRange(it, "Pod", quota.PodRequests(&pod.Spec), quota.PodLimits(&pod.Spec))...)
			}
		}
	}
	return errs
}

// applyDefaults sets the limits and requests a container leaves out; a request
// with neither a set nor a default value takes the limit. It reports a change.
func applyDefaults(rr *corev1.ResourceRequirements, limits, requests corev1.ResourceList) bool {
	changed := false
	set := func(dst *corev1.ResourceList, n corev1.ResourceName, q resource.Quantity) {
		if _, ok := (*dst)[n]; ok {
			return
		}
		if *dst == nil {
			*dst = corev1.ResourceList{}
		}
		(*dst)[n] = q.DeepCopy()
		changed = true
	}
	for _, n := range registry.SortedResourceNames(limits) {
		set(&rr.Limits, n, limits[n])
	}
	for _, n := range registry.SortedResourceNames(requests) {
		set(&rr.Requests, n, requests[n])
	}
	for _, n := range registry.SortedResourceNames(rr.Limits) {
		set(&rr.Requests, n, rr.Limits[n])
	}
	return changed
}

func limitClaim(ranges []*corev1.LimitRange, pvc *corev1.PersistentVolumeClaim) []error {
	const kind = "PersistentVolumeClaim"
	var errs []error
	for _, lr := range ranges {
		for _, it := range lr.Spec.Limits {
			if it.Type != corev1.LimitTypePersistentVolumeClaim {
				continue
			}
			// A claim's size is what it requests; its limits are not looked at.
			req := pvc.Spec.Resources.Requests
			errs = append(errs, checkRange(corev1.LimitRangeItem{Min: it.Min}, kind, req, nil)...)
			for _, n := range registry.SortedResourceNames(it.Max) {
				bound := it.Max[n]
				r, ok := req[n]
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", n, kind, bound.String()))
				case r.Cmp(bound) > 0:
					errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s, but request is %s", n, kind, bound.String(), r.String()))
				}
			}
		}
	}
	return errs
}

// checkRange compares requests and limits (of a container, a pod or a claim,
// named kind in the messages) with one range item.
func checkRange(it corev1.LimitRangeItem, kind string, req, lim corev1.ResourceList) []error {
	var errs []error
	for _, n := range registry.SortedResourceNames(it.Min) {
		bound := it.Min[n]
		r, hasReq := req[n]
		l, hasLim := lim[n]
		switch {
		case !hasReq:
			errs = append(errs, fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", n, kind, bound.String()))
		case r.Cmp(bound) < 0:
			errs = append(errs, fmt.Errorf("minimum %s usage per %s is %s, but request is %s", n, kind, bound.String(), r.String()))
		case hasLim && l.Cmp(bound) < 0:
			errs = append(errs, fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", n, kind, bound.String(), l.String()))
		}
	}
	for _, n := range registry.SortedResourceNames(it.Max) {
		bound := it.Max[n]
		r, hasReq := req[n]
		l, hasLim := lim[n]
		switch {
		case !hasLim:
			errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", n, kind, bound.String()))
		case l.Cmp(bound) > 0:
			errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", n, kind, bound.String(), l.String()))
		case hasReq && r.Cmp(bound) > 0:
			errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s, but request is %s", n, kind, bound.String(), r.String()))
		}
	}
	for _, n := range registry.SortedResourceNames(it.MaxLimitRequestRatio) {
		bound := it.MaxLimitRequestRatio[n]
		r, hasReq := req[n]
		l, hasLim := lim[n]
		switch {
		case !hasReq || r.IsZero():
			errs = append(errs, fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", n, kind, bound.String()))
		case !hasLim || l.IsZero():
			errs = append(errs, fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", n, kind, bound.String()))
		default:
			ratio := l.AsApproximateFloat64() / r.AsApproximateFloat64()
			if ratio > bound.AsApproximateFloat64() {
				errs = append(errs, fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", n, kind, bound.String(), ratio))
			}
		}
	}
	return errs
}

// Package quota is the arithmetic of ResourceQuotas: what an object charges against
// a quota, which quotas cover a pod, and how usage compares with the hard limits.
// Both the quota admission plugin and the quota controller use it, so that what is
// refused and what status reports agree.
package quota

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/registry"
)

// CountName is the object-count resource name of a group resource:
// count/pods, count/deployments.apps.
func CountName(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName("count/" + gr.Resource)
	}
	return corev1.ResourceName("count/" + gr.Resource + "." + gr.Group)
}

// legacyCounts are the names older than count/..., one per core resource.
var legacyCounts = map[string]corev1.ResourceName{
	"pods":                   corev1.ResourcePods,
	"services":               corev1.ResourceServices,
	"configmaps":             corev1.ResourceConfigMaps,
	"secrets":                corev1.ResourceSecrets,
	"persistentvolumeclaims": corev1.ResourcePersistentVolumeClaims,
	"replicationcontrollers": corev1.ResourceReplicationControllers,
	"resourcequotas":         corev1.ResourceQuotas,
}

// computeNames are the pod resources a quota may limit; a pod must set them
// when a covering quota limits them.
var computeNames = []corev1.ResourceName{
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
}

// Names are the resource names an object of gr may be charged under. A quota
// whose hard limits name none of them does not concern gr.
func Names(gr schema.GroupResource) []corev1.ResourceName {
	out := []corev1.ResourceName{CountName(gr)}
	if gr.Group != "" {
		return out
	}
	if n, ok := legacyCounts[gr.Resource]; ok {
		out = append(out, n)
	}
	switch gr.Resource {
	case "pods":
		out = append(out, computeNames...)
	case "services":
		out = append(out, corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers)
	case "persistentvolumeclaims":
		out = append(out, corev1.ResourceRequestsStorage)
	}
	return out
}

// Concerns reports whether hard limits anything an object of gr is charged under.
func Concerns(hard corev1.ResourceList, gr schema.GroupResource) bool {
	for _, n := range Names(gr) {
		if _, ok := hard[n]; ok {
			return true
		}
	}
	return false
}

// Usage is what one object of gr charges. Pods that finished or are being deleted
// charge nothing (they will not run again).
func Usage(gr schema.GroupResource, obj interface{}) corev1.ResourceList {
	if gr.Group == "" && gr.Resource == "pods" {
		if p, ok := obj.(*corev1.Pod); ok {
			return PodUsage(p)
		}
	}
	one := *resource.NewQuantity(1, resource.DecimalSI)
	u := corev1.ResourceList{CountName(gr): one}
	if gr.Group != "" {
		return u
	}
	if n, ok := legacyCounts[gr.Resource]; ok {
		u[n] = one.DeepCopy()
	}
	switch o := obj.(type) {
	case *corev1.Service:
		var nodePorts int64
		if o.Spec.Type == corev1.ServiceTypeNodePort || o.Spec.Type == corev1.ServiceTypeLoadBalancer {
			nodePorts = int64(len(o.Spec.Ports))
		}
		u[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(nodePorts, resource.DecimalSI)
		var lbs int64
		if o.Spec.Type == corev1.ServiceTypeLoadBalancer {
			lbs = 1
		}
		u[corev1.ResourceServicesLoadBalancers] = *resource.NewQuantity(lbs, resource.DecimalSI)
	case *corev1.PersistentVolumeClaim:
		if q, ok := o.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			u[corev1.ResourceRequestsStorage] = q.DeepCopy()
		} else {
			u[corev1.ResourceRequestsStorage] = *resource.NewQuantity(0, resource.BinarySI)
		}
	}
	return u
}

// PodCounts reports whether a pod still holds its resources.
func PodCounts(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// PodUsage is what a pod charges: one pod, and its effective requests and limits
// (the larger of the containers' sum and any one init container, plus overhead).
func PodUsage(p *corev1.Pod) corev1.ResourceList {
	if !PodCounts(p) {
		return corev1.ResourceList{}
	}
	one := *resource.NewQuantity(1, resource.DecimalSI)
	u := corev1.ResourceList{corev1.ResourcePods: one, CountName(schema.GroupResource{Resource: "pods"}): one.DeepCopy()}
	req, lim := PodRequests(&p.Spec), PodLimits(&p.Spec)
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := req[n]; ok {
			u[corev1.ResourceName("requests."+n)] = q.DeepCopy()
			u[n] = q.DeepCopy()
		}
		if q, ok := lim[n]; ok {
			u[corev1.ResourceName("limits."+n)] = q.DeepCopy()
		}
	}
	return u
}

// PodRequests are the pod's effective requests.
func PodRequests(s *corev1.PodSpec) corev1.ResourceList {
	return effective(s, false, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Requests })
}

// PodLimits are the pod's effective limits.
func PodLimits(s *corev1.PodSpec) corev1.ResourceList {
	return effective(s, true, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Limits })
}

// effective is what a pod holds while it exists: the app containers together
// with the sidecars (init containers that keep running), or the largest step of
// initialisation (the sidecars started so far plus one init container) if that
// is bigger, plus the overhead (for limits, only on resources the pod limits at
// all). The scheduler counts a pod on its node by the same rule.
func effective(s *corev1.PodSpec, limits bool, of func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	sum, sidecars, peak := corev1.ResourceList{}, corev1.ResourceList{}, corev1.ResourceList{}
	for i := range s.Containers {
		Add(sum, of(&s.Containers[i]))
	}
	for i := range s.InitContainers {
		c := &s.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			Add(sidecars, of(c))
			maxInto(peak, sidecars)
			continue
		}
		step := sidecars.DeepCopy()
		Add(step, of(c))
		maxInto(peak, step)
	}
	Add(sum, sidecars)
	maxInto(sum, peak)
	for n, q := range s.Overhead {
		if cur, ok := sum[n]; ok {
			cur.Add(q)
			sum[n] = cur
		} else if !limits {
			sum[n] = q.DeepCopy()
		}
	}
	return sum
}

// maxInto raises each quantity of a to b's where b's is larger.
func maxInto(a, b corev1.ResourceList) {
	for n, q := range b {
		if cur, ok := a[n]; !ok || q.Cmp(cur) > 0 {
			a[n] = q.DeepCopy()
		}
	}
}

// Add adds b into a.
func Add(a, b corev1.ResourceList) {
	for n, q := range b {
		if cur, ok := a[n]; ok {
			cur.Add(q)
			a[n] = cur
		} else {
			a[n] = q.DeepCopy()
		}
	}
}

// Increase is what next charges beyond prev: the names where it charges more,
// with the difference.
func Increase(prev, next corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for n, q := range next {
		d := q.DeepCopy()
		if p, ok := prev[n]; ok {
			d.Sub(p)
		}
		if d.Sign() > 0 {
			out[n] = d
		}
	}
	return out
}

// BestEffort reports whether a pod is of the BestEffort class (what the
// BestEffort and NotBestEffort scopes select).
func BestEffort(s *corev1.PodSpec) bool { return registry.PodQOS(s) == corev1.PodQOSBestEffort }

// Scoped reports whether q has scopes (or a scope selector): it then covers only
// the pods they match, and nothing else.
func Scoped(q *corev1.ResourceQuota) bool {
	return len(q.Spec.Scopes) > 0 || (q.Spec.ScopeSelector != nil && len(q.Spec.ScopeSelector.MatchExpressions) > 0)
}

// Supported reports whether every scope of q is one this package evaluates. A quota
// with another scope is neither enforced nor counted.
func Supported(q *corev1.ResourceQuota) bool {
	known := func(s corev1.ResourceQuotaScope) bool {
		switch s {
		case corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating,
			corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort,
			corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
			return true
		}
		return false
	}
	for _, s := range q.Spec.Scopes {
		if !known(s) {
			return false
		}
	}
	if q.Spec.ScopeSelector != nil {
		for _, e := range q.Spec.ScopeSelector.MatchExpressions {
			if !known(e.ScopeName) {
				return false
			}
		}
	}
	return true
}

// Covers reports whether q applies to an object of gr. Scoped quotas cover only
// pods matching every scope and every scope selector expression.
func Covers(q *corev1.ResourceQuota, gr schema.GroupResource, obj interface{}) bool {
	if !Scoped(q) {
		return true
	}
	p, ok := obj.(*corev1.Pod)
	if !ok || gr.Group != "" || gr.Resource != "pods" {
		return false
	}
	for _, s := range q.Spec.Scopes {
		if !matchScope(p, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists}) {
			return false
		}
	}
	if q.Spec.ScopeSelector != nil {
		for _, e := range q.Spec.ScopeSelector.MatchExpressions {
			if !matchScope(p, e) {
				return false
			}
		}
	}
	return true
}

// matchScope evaluates one scope requirement on a pod. Only the PriorityClass scope
// has values; the others are properties a pod has or lacks.
func matchScope(p *corev1.Pod, e corev1.ScopedResourceSelectorRequirement) bool {
	if e.ScopeName == corev1.ResourceQuotaScopePriorityClass {
		name := p.Spec.PriorityClassName
		switch e.Operator {
		case corev1.ScopeSelectorOpExists:
			return name != ""
		case corev1.ScopeSelectorOpDoesNotExist:
			return name == ""
		case corev1.ScopeSelectorOpIn:
			return contains(e.Values, name)
		case corev1.ScopeSelectorOpNotIn:
			return !contains(e.Values, name)
		}
		return false
	}
	var has bool
	switch e.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		has = p.Spec.ActiveDeadlineSeconds != nil && *p.Spec.ActiveDeadlineSeconds >= 0
	case corev1.ResourceQuotaScopeNotTerminating:
		has = p.Spec.ActiveDeadlineSeconds == nil
	case corev1.ResourceQuotaScopeBestEffort:
		has = BestEffort(&p.Spec)
	case corev1.ResourceQuotaScopeNotBestEffort:
		has = !BestEffort(&p.Spec)
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		has = crossNamespaceAffinity(p.Spec.Affinity)
	}
	if e.Operator == corev1.ScopeSelectorOpDoesNotExist {
		return !has
	}
	return has
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// crossNamespaceAffinity reports whether some pod (anti-)affinity term looks at
// other namespaces.
func crossNamespaceAffinity(a *corev1.Affinity) bool {
	if a == nil {
		return false
	}
	var terms []corev1.PodAffinityTerm
	if pa := a.PodAffinity; pa != nil {
		terms = append(terms, pa.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		terms = append(terms, pa.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	for _, t := range terms {
		if len(t.Namespaces) > 0 || t.NamespaceSelector != nil {
			return true
		}
	}
	return false
}

// ScopedNames are the resource names a scoped quota may limit: a scope speaks of
// pods, so only pod counts and compute resources (BestEffort pods have none, so
// such a quota counts only pods).
func scopedNames(q *corev1.ResourceQuota) map[corev1.ResourceName]bool {
	if !Scoped(q) {
		return nil
	}
	out := map[corev1.ResourceName]bool{}
	for _, n := range Names(schema.GroupResource{Resource: "pods"}) {
		out[n] = true
	}
	return out
}

// Filter keeps the entries of u whose names q limits (and, for scoped quotas,
// that its scopes speak of).
func Filter(q *corev1.ResourceQuota, u corev1.ResourceList) corev1.ResourceList {
	allowed := scopedNames(q)
	out := corev1.ResourceList{}
	for n, v := range u {
		if _, ok := q.Spec.Hard[n]; !ok {
			continue
		}
		if allowed != nil && !allowed[n] {
			continue
		}
		out[n] = v.DeepCopy()
	}
	return out
}

// Zero returns the names q limits, each with a zero quantity.
func Zero(hard corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for n := range hard {
		out[n] = *resource.NewQuantity(0, resource.DecimalSI)
	}
	return out
}

// Exceeded lists, in name order, the names in requested for which used+requested
// goes over hard.
func Exceeded(hard, used, requested corev1.ResourceList) []corev1.ResourceName {
	var out []corev1.ResourceName
	for n, r := range requested {
		h, ok := hard[n]
		if !ok {
			continue
		}
		total := r.DeepCopy()
		if u, ok := used[n]; ok {
			total.Add(u)
		}
		if total.Cmp(h) > 0 {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Format prints names=quantities of l for names, comma separated.
func Format(l corev1.ResourceList, names []corev1.ResourceName) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		q := l[n]
		parts = append(parts, fmt.Sprintf("%s=%s", n, q.String()))
	}
	return strings.Join(parts, ",")
}

// ExceededMessage is the refusal for a write that would take q over its limits.
func ExceededMessage(quotaName string, hard, used, requested corev1.ResourceList, names []corev1.ResourceName) string {
	u := corev1.ResourceList{}
	for _, n := range names {
		if q, ok := used[n]; ok {
			u[n] = q
		} else {
			u[n] = *resource.NewQuantity(0, resource.DecimalSI)
		}
	}
	return fmt.Sprintf("exceeded quota: %s, requested: %s, used: %s, limited: %s",
		quotaName, Format(requested, names), Format(u, names), Format(hard, names))
}

// MissingCompute lists, for each compute resource hard limits, the containers of a
// pod that do not set it, as "limits.cpu for: a,b" entries in name order. A quota
// cannot charge a pod for a resource it leaves open.
func MissingCompute(hard corev1.ResourceList, s *corev1.PodSpec) []string {
	var names []corev1.ResourceName
	for _, n := range computeNames {
		if _, ok := hard[n]; ok {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	var out []string
	for _, n := range names {
		list, base := "requests", string(n)
		if i := strings.IndexByte(base, '.'); i >= 0 {
			list, base = base[:i], base[i+1:]
		}
		var missing []string
		for _, cs := range [][]corev1.Container{s.InitContainers, s.Containers} {
			for _, c := range cs {
				l := c.Resources.Requests
				if list == "limits" {
					l = c.Resources.Limits
				}
				if _, ok := l[corev1.ResourceName(base)]; !ok {
					missing = append(missing, c.Name)
				}
			}
		}
		if len(missing) > 0 {
			out = append(out, fmt.Sprintf("%s for: %s", n, strings.Join(missing, ",")))
		}
	}
	return out
}

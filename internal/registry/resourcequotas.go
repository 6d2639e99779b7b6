package registry

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "resourcequotas", Kind: "ResourceQuota", Namespaced: true,
		ShortNames: []string{"quota"},
		New:        func() runtime.Object { return &corev1.ResourceQuota{} },
		NewList:    func() runtime.Object { return &corev1.ResourceQuotaList{} },
		Status:     true,
		Strategy: Strategy{
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateQuotaSpec(&obj.(*corev1.ResourceQuota).Spec, field.NewPath("spec"))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				q := obj.(*corev1.ResourceQuota)
				sp := field.NewPath("status")
				errs := checkQuotaList(q.Status.Hard, sp.Child("hard"))
				return append(errs, checkQuotaList(q.Status.Used, sp.Child("used"))...)
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the quota."},
			{Name: "Age", Type: "string", Description: "Time since the quota was created."},
			{Name: "Request", Type: "string", Description: "Used out of allowed, for each resource that is not a limit."},
			{Name: "Limit", Type: "string", Description: "Used out of allowed, for each limits.* resource."},
		},
		Row: func(obj runtime.Object) []interface{} { return quotaRow(obj.(*corev1.ResourceQuota)) },
	})
}

var quotaScopes = []corev1.ResourceQuotaScope{
	corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeBestEffort,
	corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity,
}

// standardQuotaResources are the names a quota may count without a domain.
var standardQuotaResources = map[corev1.ResourceName]bool{
	corev1.ResourcePods: true, corev1.ResourceServices: true, corev1.ResourceReplicationControllers: true,
	corev1.ResourceQuotas: true, corev1.ResourceSecrets: true, corev1.ResourceConfigMaps: true,
	corev1.ResourcePersistentVolumeClaims: true, corev1.ResourceServicesNodePorts: true, corev1.ResourceServicesLoadBalancers: true,
	corev1.ResourceCPU: true, corev1.ResourceMemory: true, corev1.ResourceEphemeralStorage: true,
	corev1.ResourceRequestsCPU: true, corev1.ResourceRequestsMemory: true, corev1.ResourceRequestsStorage: true,
	corev1.ResourceRequestsEphemeralStorage: true, corev1.ResourceLimitsCPU: true, corev1.ResourceLimitsMemory: true,
	corev1.ResourceLimitsEphemeralStorage: true,
}

func checkQuotaResourceName(p *field.Path, n corev1.ResourceName) field.ErrorList {
	s := string(n)
	if errs := checkQualifiedName(p, s); len(errs) > 0 {
		return errs
	}
	if strings.Contains(s, "/") || standardQuotaResources[n] || isHugePages(n) ||
		strings.HasPrefix(s, corev1.ResourceRequestsHugePagesPrefix) {
		return nil
	}
	return field.ErrorList{field.Invalid(p, s, "must be a standard resource for quota")}
}

func checkQuotaList(l corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, n := range SortedResourceNames(l) {
		kp := p.Key(string(n))
		errs = append(errs, checkQuotaResourceName(kp, n)...)
		errs = append(errs, checkQuantityNonNegative(kp, l[n])...)
	}
	return errs
}

func validateQuotaSpec(s *corev1.ResourceQuotaSpec, p *field.Path) field.ErrorList {
	errs := checkQuotaList(s.Hard, p.Child("hard"))
	for i, sc := range s.Scopes {
		errs = append(errs, checkEnum(p.Child("scopes").Index(i), sc, quotaScopes...)...)
	}
	if s.ScopeSelector != nil {
		for i, r := range s.ScopeSelector.MatchExpressions {
			rp := p.Child("scopeSelector", "matchExpressions").Index(i)
			errs = append(errs, checkEnum(rp.Child("scopeName"), r.ScopeName, quotaScopes...)...)
			errs = append(errs, checkEnum(rp.Child("operator"), r.Operator, corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn,
				corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist)...)
		}
	}
	return errs
}

// quotaRow: Name, Age, Request ("pods: 1/10, ..."), Limit (the limits.* ones).
func quotaRow(q *corev1.ResourceQuota) []interface{} {
	var req, lim []string
	for _, n := range SortedResourceNames(q.Spec.Hard) {
		used, hard := q.Status.Used[n], q.Status.Hard[n]
		cell := fmt.Sprintf("%s: %s/%s", n, used.String(), hard.String())
		if strings.HasPrefix(string(n), "limits.") {
			lim = append(lim, cell)
		} else {
			req = append(req, cell)
		}
	}
	return []interface{}{q.Name, Age(q.CreationTimestamp), strings.Join(req, ", "), strings.Join(lim, ", ")}
}

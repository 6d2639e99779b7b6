package registry

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Priorities of the built-in classes, and the highest a user-made class may have.
const (
	SystemNodeCritical           = "system-node-critical"
	SystemClusterCritical        = "system-cluster-critical"
	SystemNodeCriticalValue      = 2000001000
	SystemClusterCriticalValue   = 2000000000
	HighestUserDefinablePriority = 1000000000
	systemPriorityClassPrefix    = "system-"
)

// SystemPriorityClasses are the classes the server creates at start.
func SystemPriorityClasses() []*schedulingv1.PriorityClass {
	mk := func(name string, value int32, desc string) *schedulingv1.PriorityClass {
		return &schedulingv1.PriorityClass{
			ObjectMeta:       metav1.ObjectMeta{Name: name},
			Value:            value,
			Description:      desc,
			PreemptionPolicy: extPtr(corev1.PreemptLowerPriority),
		}
	}
	return []*schedulingv1.PriorityClass{
		mk(SystemNodeCritical, SystemNodeCriticalValue, "For pods a node cannot work without; they stay on their node."),
		mk(SystemClusterCritical, SystemClusterCriticalValue, "For pods the cluster cannot work without; they may move to another node."),
	}
}

func init() {
	register(&Resource{
		Group: "scheduling.k8s.io", Version: "v1", Resource: "priorityclasses", Kind: "PriorityClass",
		ShortNames: []string{"pc"},
		New:        func() runtime.Object { return &schedulingv1.PriorityClass{} },
		NewList:    func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				if pc := obj.(*schedulingv1.PriorityClass); pc.PreemptionPolicy == nil {
					pc.PreemptionPolicy = extPtr(corev1.PreemptLowerPriority)
				}
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validatePriorityClass(obj.(*schedulingv1.PriorityClass))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*schedulingv1.PriorityClass), old.(*schedulingv1.PriorityClass)
				var errs field.ErrorList
				if n.Value != o.Value {
					errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
				}
				return append(errs, extImmutable(n.PreemptionPolicy, o.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("priority class"),
			{Name: "Value", Type: "integer", Description: "Priority of pods that name the class."},
			{Name: "Global-Default", Type: "boolean", Description: "Whether pods that name no class get this one."},
			extAgeColumn("priority class"),
			{Name: "PreemptionPolicy", Type: "string", Priority: 1, Description: "Whether its pods may preempt lower-priority pods."},
		},
		Row: func(obj runtime.Object) []interface{} {
			pc := obj.(*schedulingv1.PriorityClass)
			pp := "<unset>"
			if pc.PreemptionPolicy != nil {
				pp = string(*pc.PreemptionPolicy)
			}
			return []interface{}{pc.Name, int64(pc.Value), pc.GlobalDefault, Age(pc.CreationTimestamp), pp}
		},
	})
}

var preemptionPolicies = []string{string(corev1.PreemptNever), string(corev1.PreemptLowerPriority)}

func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(pc.Name, systemPriorityClassPrefix) {
		if err := checkSystemPriorityClass(pc); err != nil {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"),
				"names starting with 'system-' are reserved for the built-in priority classes: "+err.Error()))
		}
	} else if pc.Value > HighestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %d", HighestUserDefinablePriority)))
	}
	if p := pc.PreemptionPolicy; p != nil && *p != corev1.PreemptNever && *p != corev1.PreemptLowerPriority {
		errs = append(errs, field.NotSupported(field.NewPath("preemptionPolicy"), *p, preemptionPolicies))
	}
	return errs
}

// checkSystemPriorityClass accepts a "system-" class only if it is one of the
// built-in ones, unchanged.
func checkSystemPriorityClass(pc *schedulingv1.PriorityClass) error {
	for _, s := range SystemPriorityClasses() {
		if s.Name != pc.Name {
			continue
		}
		if s.Value != pc.Value {
			return fmt.Errorf("value of %s must be %d, not %d", s.Name, s.Value, pc.Value)
		}
		if pc.GlobalDefault {
			return fmt.Errorf("%s may not be the global default", s.Name)
		}
		return nil
	}
	return fmt.Errorf("%q is not a known system priority class", pc.Name)
}

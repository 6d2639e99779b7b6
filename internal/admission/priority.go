package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Priority turns a pod's priorityClassName into its priority and preemption
// policy. A pod without a class gets the global default class (the lowest-valued
// one if several claim to be), or priority 0 when there is none.
type Priority struct {
	Classes PriorityClassLister
}

// Admit implements Plugin.
func (p Priority) Admit(ctx context.Context, r *Request) error {
	pod, ok := isPodCreate(r)
	if !ok {
		return nil
	}
	classes, err := p.Classes.PriorityClasses(ctx)
	if err != nil {
		return err
	}
	var (
		value  int32
		policy = corev1.PreemptLowerPriority
	)
	if name := pod.Spec.PriorityClassName; name != "" {
		pc := findClass(classes, name)
		if pc == nil {
			return apierrors.NewForbidden(r.Resource.GroupResource(), r.Name, fmt.Errorf("PriorityClass %q not found", name))
		}
		value = pc.Value
		if pc.PreemptionPolicy != nil {
			policy = *pc.PreemptionPolicy
		}
	} else if pc := globalDefault(classes); pc != nil {
		pod.Spec.PriorityClassName = pc.Name
		value = pc.Value
		if pc.PreemptionPolicy != nil {
			policy = *pc.PreemptionPolicy
		}
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return apierrors.NewForbidden(r.Resource.GroupResource(), r.Name, fmt.Errorf(
			"spec.priority is %d but its priority class gives %d; leave spec.priority unset, it is filled in from spec.priorityClassName",
			*pod.Spec.Priority, value))
	}
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != policy {
		return apierrors.NewForbidden(r.Resource.GroupResource(), r.Name, fmt.Errorf(
			"spec.preemptionPolicy is %s but its priority class gives %s; leave spec.preemptionPolicy unset, it is filled in from spec.priorityClassName",
			*pod.Spec.PreemptionPolicy, policy))
	}
	pod.Spec.Priority = &value
	pod.Spec.PreemptionPolicy = &policy
	return nil
}

func findClass(classes []*schedulingv1.PriorityClass, name string) *schedulingv1.PriorityClass {
	for _, pc := range classes {
		if pc.Name == name {
			return pc
		}
	}
	return nil
}

func globalDefault(classes []*schedulingv1.PriorityClass) *schedulingv1.PriorityClass {
	var best *schedulingv1.PriorityClass
	for _, pc := range classes {
		if pc.GlobalDefault && (best == nil || pc.Value < best.Value) {
			best = pc
		}
	}
	return best
}

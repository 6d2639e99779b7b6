package registry

import (
	"strconv"

	"context"
	apiequality "k8s.io/apimachinery/pkg/api/equality"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "apps", Version: "v1", Resource: "daemonsets", Kind: "DaemonSet", Namespaced: true,
		ShortNames: []string{"ds"},
		Categories: []string{"all"},
		New:        func() runtime.Object { return &appsv1.DaemonSet{} },
		NewList:    func() runtime.Object { return &appsv1.DaemonSetList{} },
		Status:     true,
		Generation: true,
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultDaemonSet(obj.(*appsv1.DaemonSet)) },
			PrepareForCreate: func(_ context.Context, obj runtime.Object) {
				setTemplateGeneration(obj.(*appsv1.DaemonSet), 1)
			},
			PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
				n, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
				gen, _ := strconv.ParseInt(o.Annotations[templateGenerationAnnotation], 10, 64)
				if gen == 0 {
					gen = 1
				}
				if !apiequality.Semantic.DeepEqual(n.Spec.Template, o.Spec.Template) {
					gen++
				}
				setTemplateGeneration(n, gen)
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateDaemonSet(obj.(*appsv1.DaemonSet))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
				return extImmutable(n.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
				s := obj.(*appsv1.DaemonSet).Status
				return extCounts(field.NewPath("status"), []extCount{
					{"currentNumberScheduled", s.CurrentNumberScheduled}, {"numberMisscheduled", s.NumberMisscheduled},
					{"desiredNumberScheduled", s.DesiredNumberScheduled}, {"numberReady", s.NumberReady},
					{"updatedNumberScheduled", s.UpdatedNumberScheduled}, {"numberAvailable", s.NumberAvailable},
					{"numberUnavailable", s.NumberUnavailable},
				})
			},
		},
		Columns: extCols([]metav1.TableColumnDefinition{
			extNameColumn("daemon set"),
			{Name: "Desired", Type: "integer", Description: "Number of nodes that should run the daemon pod."},
			{Name: "Current", Type: "integer", Description: "Number of nodes running at least one daemon pod."},
			{Name: "Ready", Type: "integer", Description: "Number of nodes whose daemon pod is ready."},
			{Name: "Up-to-date", Type: "integer", Description: "Number of nodes running the latest pod template."},
			{Name: "Available", Type: "integer", Description: "Number of nodes whose daemon pod is available."},
			{Name: "Node Selector", Type: "string", Description: "Node selector of the pod template."},
			extAgeColumn("daemon set"),
		}, extTemplateColumns(true)),
		Row: func(obj runtime.Object) []interface{} {
			ds := obj.(*appsv1.DaemonSet)
			c, i := extContainersImages(&ds.Spec.Template.Spec)
			s := ds.Status
			return []interface{}{
				ds.Name, int64(s.DesiredNumberScheduled), int64(s.CurrentNumberScheduled), int64(s.NumberReady),
				int64(s.UpdatedNumberScheduled), int64(s.NumberAvailable), labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
				Age(ds.CreationTimestamp), c, i, extSelectorText(ds.Spec.Selector),
			}
		},
	})
}

func defaultDaemonSet(ds *appsv1.DaemonSet) {
	s := &ds.Spec
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if s.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if s.UpdateStrategy.RollingUpdate.MaxUnavailable == nil {
			s.UpdateStrategy.RollingUpdate.MaxUnavailable = extPtr(intstr.FromInt32(1))
		}
		if s.UpdateStrategy.RollingUpdate.MaxSurge == nil {
			s.UpdateStrategy.RollingUpdate.MaxSurge = extPtr(intstr.FromInt32(0))
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = extPtr[int32](10)
	}
	DefaultPodTemplate(&s.Template)
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	s := &ds.Spec
	p := field.NewPath("spec")
	errs := extWorkloadSelector(s.Selector, &s.Template, "daemonset", p)
	errs = append(errs, extLongRunningTemplate(&s.Template, "DaemonSet", p.Child("template"))...)
	errs = append(errs, extRevisionHistory(s.RevisionHistoryLimit, s.MinReadySeconds, p)...)
	up := p.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		ru := s.UpdateStrategy.RollingUpdate
		if ru == nil {
			errs = append(errs, field.Required(up.Child("rollingUpdate"), ""))
			break
		}
		rp := up.Child("rollingUpdate")
		errs = append(errs, extIntOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
		errs = append(errs, extNotOver100(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
		errs = append(errs, extIntOrPercent(ru.MaxSurge, rp.Child("maxSurge"))...)
		errs = append(errs, extNotOver100(ru.MaxSurge, rp.Child("maxSurge"))...)
		if extIsZeroIntOrPercent(ru.MaxUnavailable) && (ru.MaxSurge == nil || extIsZeroIntOrPercent(ru.MaxSurge)) {
			errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), ru.MaxUnavailable.String(), "cannot be 0 when maxSurge is 0"))
		}
	case "":
		errs = append(errs, field.Required(up.Child("type"), ""))
	default:
		errs = append(errs, field.NotSupported(up.Child("type"), s.UpdateStrategy.Type,
			[]string{string(appsv1.OnDeleteDaemonSetStrategyType), string(appsv1.RollingUpdateDaemonSetStrategyType)}))
	}
	return errs
}

// templateGenerationAnnotation counts changes of a DaemonSet's pod template; the
// controller labels pods with it (pod-template-generation).
const templateGenerationAnnotation = "deprecated.daemonset.template.generation"

func setTemplateGeneration(ds *appsv1.DaemonSet, gen int64) {
	if ds.Annotations == nil {
		ds.Annotations = map[string]string{}
	}
	ds.Annotations[templateGenerationAnnotation] = strconv.FormatInt(gen, 10)
}

package registry

import (
	"context"
	"encoding/json"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// autoscaling/v2 is the stored version of HorizontalPodAutoscalers; autoscaling/v1
// is served from it. v1 has room for one target (CPU utilization); whatever else a
// v2 object holds travels in these annotations on the v1 object, as JSON of the v2
// types, so that a v1 read-modify-write keeps it:
//
//	autoscaling.alpha.kubernetes.io/metrics          spec.metrics other than the CPU utilization one
//	autoscaling.alpha.kubernetes.io/behavior         spec.behavior
//	autoscaling.alpha.kubernetes.io/conditions       status.conditions
//	autoscaling.alpha.kubernetes.io/current-metrics  status.currentMetrics other than CPU utilization
const (
	HPAMetricsAnnotation        = "autoscaling.alpha.kubernetes.io/metrics"
	HPABehaviorAnnotation       = "autoscaling.alpha.kubernetes.io/behavior"
	HPAConditionsAnnotation     = "autoscaling.alpha.kubernetes.io/conditions"
	HPACurrentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics"
)

// DefaultHPACPUUtilization is the CPU target of an autoscaler that names no metric.
const DefaultHPACPUUtilization = 80

var hpaV2 = &Resource{
	Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true,
	ShortNames: []string{"hpa"},
	Categories: []string{"all"},
	New:        func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
	NewList:    func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} },
	Status:     true,
	Generation: true,
	Strategy: Strategy{
		Default: func(obj runtime.Object) { defaultHPA(obj.(*autoscalingv2.HorizontalPodAutoscaler)) },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateHPA(obj.(*autoscalingv2.HorizontalPodAutoscaler))
		},
		ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			s := obj.(*autoscalingv2.HorizontalPodAutoscaler).Status
			return extCounts(field.NewPath("status"), []extCount{{"currentReplicas", s.CurrentReplicas}, {"desiredReplicas", s.DesiredReplicas}})
		},
	},
	Columns: []metav1.TableColumnDefinition{
		extNameColumn("horizontal pod autoscaler"),
		{Name: "Reference", Type: "string", Description: "The scaled object, as kind/name."},
		{Name: "Targets", Type: "string", Description: "Current and target value of each metric."},
		{Name: "MinPods", Type: "string", Description: "Fewest replicas it scales to."},
		{Name: "MaxPods", Type: "integer", Description: "Most replicas it scales to."},
		{Name: "Replicas", Type: "integer", Description: "Replicas the target has now."},
		extAgeColumn("horizontal pod autoscaler"),
	},
	Row: func(obj runtime.Object) []interface{} { return hpaRow(obj.(*autoscalingv2.HorizontalPodAutoscaler)) },
}

func init() {
	v1 := &Resource{
		Group: "autoscaling", Version: "v1", Resource: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true,
		ShortNames: hpaV2.ShortNames,
		Categories: hpaV2.Categories,
		New:        func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscaler{} },
		NewList:    func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscalerList{} },
		Status:     true,
		Generation: true,
		StoredAs:   hpaV2,
		ToStored: func(obj runtime.Object) (runtime.Object, error) {
			return HPAToV2(obj.(*autoscalingv1.HorizontalPodAutoscaler))
		},
		FromStored: func(obj runtime.Object) (runtime.Object, error) {
			return HPAToV1(obj.(*autoscalingv2.HorizontalPodAutoscaler))
		},
		Columns: hpaV2.Columns,
		Row: func(obj runtime.Object) []interface{} {
			v2, err := HPAToV2(obj.(*autoscalingv1.HorizontalPodAutoscaler))
			if err != nil {
				v2 = &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: obj.(*autoscalingv1.HorizontalPodAutoscaler).ObjectMeta}
			}
			defaultHPA(v2)
			return hpaRow(v2)
		},
	}
	register(hpaV2, v1)
}

func defaultHPA(h *autoscalingv2.HorizontalPodAutoscaler) {
	s := &h.Spec
	if s.MinReplicas == nil {
		s.MinReplicas = extPtr[int32](1)
	}
	if len(s.Metrics) == 0 {
		s.Metrics = []autoscalingv2.MetricSpec{cpuUtilizationMetric(DefaultHPACPUUtilization)}
	}
	if b := s.Behavior; b != nil {
		b.ScaleUp = defaultScalingRules(b.ScaleUp, 0, []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
		})
		b.ScaleDown = defaultScalingRules(b.ScaleDown, 300, []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		})
	}
}

// defaultScalingRules fills the unset parts of one direction's scaling rules.
func defaultScalingRules(r *autoscalingv2.HPAScalingRules, window int32, policies []autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	if r == nil {
		r = &autoscalingv2.HPAScalingRules{}
	}
	if r.StabilizationWindowSeconds == nil {
		r.StabilizationWindowSeconds = extPtr(window)
	}
	if r.SelectPolicy == nil {
		r.SelectPolicy = extPtr(autoscalingv2.MaxChangePolicySelect)
	}
	if len(r.Policies) == 0 {
		r.Policies = policies
	}
	return r
}

func cpuUtilizationMetric(pct int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name:   corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: extPtr(pct)},
		},
	}
}

// isCPUUtilization reports whether a metric is the one v1 has a field for.
func isCPUUtilization(m autoscalingv2.MetricSpec) bool {
	return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
		m.Resource.Target.Type == autoscalingv2.UtilizationMetricType && m.Resource.Target.AverageUtilization != nil
}

// HPAToV1 converts a stored autoscaler to autoscaling/v1.
func HPAToV1(in *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv1.HorizontalPodAutoscaler, error) {
	out := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: *in.ObjectMeta.DeepCopy()}
	out.Spec = autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{
			Kind: in.Spec.ScaleTargetRef.Kind, Name: in.Spec.ScaleTargetRef.Name, APIVersion: in.Spec.ScaleTargetRef.APIVersion,
		},
		MinReplicas: copyInt32(in.Spec.MinReplicas),
		MaxReplicas: in.Spec.MaxReplicas,
	}
	var others []autoscalingv2.MetricSpec
	for _, m := range in.Spec.Metrics {
		if out.Spec.TargetCPUUtilizationPercentage == nil && isCPUUtilization(m) {
			out.Spec.TargetCPUUtilizationPercentage = copyInt32(m.Resource.Target.AverageUtilization)
			continue
		}
		others = append(others, *m.DeepCopy())
	}
	out.Status = autoscalingv1.HorizontalPodAutoscalerStatus{
		ObservedGeneration: copyInt64(in.Status.ObservedGeneration),
		LastScaleTime:      in.Status.LastScaleTime.DeepCopy(),
		CurrentReplicas:    in.Status.CurrentReplicas,
		DesiredReplicas:    in.Status.DesiredReplicas,
	}
	var otherCurrent []autoscalingv2.MetricStatus
	for _, m := range in.Status.CurrentMetrics {
		if out.Status.CurrentCPUUtilizationPercentage == nil && m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil &&
			m.Resource.Name == corev1.ResourceCPU && m.Resource.Current.AverageUtilization != nil && m.Resource.Current.AverageValue == nil && m.Resource.Current.Value == nil {
			out.Status.CurrentCPUUtilizationPercentage = copyInt32(m.Resource.Current.AverageUtilization)
			continue
		}
		otherCurrent = append(otherCurrent, *m.DeepCopy())
	}
	for _, a := range []struct {
		key   string
		value interface{}
		set   bool
	}{
		{HPAMetricsAnnotation, others, len(others) > 0},
		{HPABehaviorAnnotation, in.Spec.Behavior, in.Spec.Behavior != nil},
		{HPAConditionsAnnotation, in.Status.Conditions, len(in.Status.Conditions) > 0},
		{HPACurrentMetricsAnnotation, otherCurrent, len(otherCurrent) > 0},
	} {
		delete(out.Annotations, a.key)
		if !a.set {
			continue
		}
		b, err := json.Marshal(a.value)
		if err != nil {
			return nil, err
		}
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[a.key] = string(b)
	}
	return out, nil
}

// HPAToV2 converts an autoscaling/v1 autoscaler to the stored version.
func HPAToV2(in *autoscalingv1.HorizontalPodAutoscaler) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	out := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: *in.ObjectMeta.DeepCopy()}
	out.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
			Kind: in.Spec.ScaleTargetRef.Kind, Name: in.Spec.ScaleTargetRef.Name, APIVersion: in.Spec.ScaleTargetRef.APIVersion,
		},
		MinReplicas: copyInt32(in.Spec.MinReplicas),
		MaxReplicas: in.Spec.MaxReplicas,
	}
	out.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: copyInt64(in.Status.ObservedGeneration),
		LastScaleTime:      in.Status.LastScaleTime.DeepCopy(),
		CurrentReplicas:    in.Status.CurrentReplicas,
		DesiredReplicas:    in.Status.DesiredReplicas,
	}
	var others []autoscalingv2.MetricSpec
	var otherCurrent []autoscalingv2.MetricStatus
	for _, a := range []struct {
		key  string
		into interface{}
	}{
		{HPAMetricsAnnotation, &others},
		{HPABehaviorAnnotation, &out.Spec.Behavior},
		{HPAConditionsAnnotation, &out.Status.Conditions},
		{HPACurrentMetricsAnnotation, &otherCurrent},
	} {
		v, ok := out.Annotations[a.key]
		if !ok {
			continue
		}
		if err := json.Unmarshal([]byte(v), a.into); err != nil {
			return nil, fmt.Errorf("annotation %s: %v", a.key, err)
		}
		delete(out.Annotations, a.key)
	}
	if len(out.Annotations) == 0 {
		out.Annotations = nil
	}
	if t := in.Spec.TargetCPUUtilizationPercentage; t != nil {
		out.Spec.Metrics = append(out.Spec.Metrics, cpuUtilizationMetric(*t))
	}
	out.Spec.Metrics = append(out.Spec.Metrics, others...)
	if c := in.Status.CurrentCPUUtilizationPercentage; c != nil {
		out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, autoscalingv2.MetricStatus{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: copyInt32(c)},
			},
		})
	}
	out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, otherCurrent...)
	return out, nil
}

func copyInt32(p *int32) *int32 {
	if p == nil {
		return nil
	}
	return extPtr(*p)
}

func copyInt64(p *int64) *int64 {
	if p == nil {
		return nil
	}
	return extPtr(*p)
}

func hpaRow(h *autoscalingv2.HorizontalPodAutoscaler) []interface{} {
	ref := h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name
	minPods := "<unset>"
	if h.Spec.MinReplicas != nil {
		minPods = fmt.Sprint(*h.Spec.MinReplicas)
	}
	return []interface{}{
		h.Name, ref, hpaTargets(h.Spec.Metrics, h.Status.CurrentMetrics), minPods,
		int64(h.Spec.MaxReplicas), int64(h.Status.CurrentReplicas), Age(h.CreationTimestamp),
	}
}

// hpaTargets prints "current/target" for each metric (at most two, then a count).
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	items := make([]string, 0, len(specs))
	for i, m := range specs {
		var st *autoscalingv2.MetricStatus
		if i < len(statuses) && statuses[i].Type == m.Type {
			st = &statuses[i]
		}
		items = append(items, hpaTarget(m, st))
	}
	return extListWithMore(items, 2, ", ", "<none>")
}

func hpaTarget(m autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	const unknown = "<unknown>"
	avgOrValue := func(t autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
		if t.AverageValue != nil {
			c := unknown
			if cur != nil && cur.AverageValue != nil {
				c = cur.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", c, t.AverageValue.String())
		}
		c, tv := unknown, unknown
		if cur != nil && cur.Value != nil {
			c = cur.Value.String()
		}
		if t.Value != nil {
			tv = t.Value.String()
		}
		return c + "/" + tv
	}
	resource := func(name corev1.ResourceName, t autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
		c := unknown
		if t.AverageValue != nil {
			if cur != nil && cur.AverageValue != nil {
				c = cur.AverageValue.String()
			}
			return fmt.Sprintf("%s: %s/%s", name, c, t.AverageValue.String())
		}
		if cur != nil && cur.AverageUtilization != nil {
			c = fmt.Sprintf("%d%%", *cur.AverageUtilization)
		}
		target := "<auto>"
		if t.AverageUtilization != nil {
			target = fmt.Sprintf("%d%%", *t.AverageUtilization)
		}
		return fmt.Sprintf("%s: %s/%s", name, c, target)
	}
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType:
		if m.Resource != nil {
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.Resource != nil {
				cur = &st.Resource.Current
			}
			return resource(m.Resource.Name, m.Resource.Target, cur)
		}
	case autoscalingv2.ContainerResourceMetricSourceType:
		if m.ContainerResource != nil {
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.ContainerResource != nil {
				cur = &st.ContainerResource.Current
			}
			return resource(m.ContainerResource.Name, m.ContainerResource.Target, cur)
		}
	case autoscalingv2.PodsMetricSourceType:
		if m.Pods != nil {
			c := unknown
			if st != nil && st.Pods != nil && st.Pods.Current.AverageValue != nil {
				c = st.Pods.Current.AverageValue.String()
			}
			t := unknown
			if m.Pods.Target.AverageValue != nil {
				t = m.Pods.Target.AverageValue.String()
			}
			return c + "/" + t
		}
	case autoscalingv2.ObjectMetricSourceType:
		if m.Object != nil {
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.Object != nil {
				cur = &st.Object.Current
			}
			return avgOrValue(m.Object.Target, cur)
		}
	case autoscalingv2.ExternalMetricSourceType:
		if m.External != nil {
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.External != nil {
				cur = &st.External.Current
			}
			return avgOrValue(m.External.Target, cur)
		}
	}
	return "<unknown type>"
}

var (
	hpaMetricTypes = []string{string(autoscalingv2.ContainerResourceMetricSourceType), string(autoscalingv2.ExternalMetricSourceType),
		string(autoscalingv2.ObjectMetricSourceType), string(autoscalingv2.PodsMetricSourceType), string(autoscalingv2.ResourceMetricSourceType)}
	hpaSelectPolicies = []string{string(autoscalingv2.DisabledPolicySelect), string(autoscalingv2.MaxChangePolicySelect), string(autoscalingv2.MinChangePolicySelect)}
	hpaPolicyTypes    = []string{string(autoscalingv2.PercentScalingPolicy), string(autoscalingv2.PodsScalingPolicy)}
)

func validateHPA(h *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	s := &h.Spec
	p := field.NewPath("spec")
	var errs field.ErrorList
	rp := p.Child("scaleTargetRef")
	for _, f := range []struct{ name, value string }{{"kind", s.ScaleTargetRef.Kind}, {"name", s.ScaleTargetRef.Name}} {
		if f.value == "" {
			errs = append(errs, field.Required(rp.Child(f.name), ""))
			continue
		}
		for _, msg := range path.IsValidPathSegmentName(f.value) {
			errs = append(errs, field.Invalid(rp.Child(f.name), f.value, msg))
		}
	}
	if s.MinReplicas != nil && *s.MinReplicas < 1 {
		errs = append(errs, field.Invalid(p.Child("minReplicas"), *s.MinReplicas, "must be greater than or equal to 1"))
	}
	if s.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), s.MaxReplicas, "must be greater than 0"))
	}
	if s.MinReplicas != nil && s.MaxReplicas < *s.MinReplicas {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	for i, m := range s.Metrics {
		errs = append(errs, validateHPAMetric(m, p.Child("metrics").Index(i))...)
	}
	if b := s.Behavior; b != nil {
		errs = append(errs, validateScalingRules(b.ScaleUp, p.Child("behavior", "scaleUp"))...)
		errs = append(errs, validateScalingRules(b.ScaleDown, p.Child("behavior", "scaleDown"))...)
	}
	return errs
}

func validateHPAMetric(m autoscalingv2.MetricSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	set := map[autoscalingv2.MetricSourceType]bool{
		autoscalingv2.ObjectMetricSourceType:            m.Object != nil,
		autoscalingv2.PodsMetricSourceType:              m.Pods != nil,
		autoscalingv2.ResourceMetricSourceType:          m.Resource != nil,
		autoscalingv2.ContainerResourceMetricSourceType: m.ContainerResource != nil,
		autoscalingv2.ExternalMetricSourceType:          m.External != nil,
	}
	n := 0
	for _, v := range set {
		if v {
			n++
		}
	}
	switch known, ok := set[m.Type]; {
	case m.Type == "":
		return append(errs, field.Required(p.Child("type"), "must specify a metric source type"))
	case !ok:
		return append(errs, field.NotSupported(p.Child("type"), m.Type, hpaMetricTypes))
	case !known:
		return append(errs, field.Required(p, "must populate information for the given metric source"))
	case n > 1:
		return append(errs, field.Forbidden(p, "must populate the given metric source only"))
	}
	named := func(id autoscalingv2.MetricIdentifier, mp *field.Path) field.ErrorList {
		if id.Name == "" {
			return field.ErrorList{field.Required(mp.Child("metric", "name"), "must specify a metric name")}
		}
		return nil
	}
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType:
		rp := p.Child("resource")
		if m.Resource.Name == "" {
			errs = append(errs, field.Required(rp.Child("name"), "must specify a resource name"))
		}
		errs = append(errs, validateMetricTarget(m.Resource.Target, rp.Child("target"), autoscalingv2.UtilizationMetricType, autoscalingv2.AverageValueMetricType)...)
	case autoscalingv2.ContainerResourceMetricSourceType:
		rp := p.Child("containerResource")
		if m.ContainerResource.Name == "" {
			errs = append(errs, field.Required(rp.Child("name"), "must specify a resource name"))
		}
		if m.ContainerResource.Container == "" {
			errs = append(errs, field.Required(rp.Child("container"), "must specify a container"))
		}
		errs = append(errs, validateMetricTarget(m.ContainerResource.Target, rp.Child("target"), autoscalingv2.UtilizationMetricType, autoscalingv2.AverageValueMetricType)...)
	case autoscalingv2.PodsMetricSourceType:
		pp := p.Child("pods")
		errs = append(errs, named(m.Pods.Metric, pp)...)
		errs = append(errs, validateMetricTarget(m.Pods.Target, pp.Child("target"), autoscalingv2.AverageValueMetricType)...)
	case autoscalingv2.ObjectMetricSourceType:
		op := p.Child("object")
		errs = append(errs, named(m.Object.Metric, op)...)
		if m.Object.DescribedObject.Kind == "" {
			errs = append(errs, field.Required(op.Child("describedObject", "kind"), ""))
		}
		if m.Object.DescribedObject.Name == "" {
			errs = append(errs, field.Required(op.Child("describedObject", "name"), ""))
		}
		errs = append(errs, validateMetricTarget(m.Object.Target, op.Child("target"), autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType)...)
	case autoscalingv2.ExternalMetricSourceType:
		ep := p.Child("external")
		errs = append(errs, named(m.External.Metric, ep)...)
		errs = append(errs, validateMetricTarget(m.External.Target, ep.Child("target"), autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType)...)
	}
	return errs
}

// validateMetricTarget checks a target is of one of the allowed types and sets the
// matching value (positive).
func validateMetricTarget(t autoscalingv2.MetricTarget, p *field.Path, allowed ...autoscalingv2.MetricTargetType) field.ErrorList {
	var errs field.ErrorList
	ok := false
	names := make([]string, 0, len(allowed))
	for _, a := range allowed {
		ok = ok || t.Type == a
		names = append(names, string(a))
	}
	if t.Type == "" {
		return append(errs, field.Required(p.Child("type"), "must specify a metric target type"))
	}
	if !ok {
		return append(errs, field.NotSupported(p.Child("type"), t.Type, names))
	}
	switch t.Type {
	case autoscalingv2.UtilizationMetricType:
		if t.AverageUtilization == nil {
			errs = append(errs, field.Required(p.Child("averageUtilization"), "must set averageUtilization for a Utilization target"))
		} else if *t.AverageUtilization <= 0 {
			errs = append(errs, field.Invalid(p.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
		}
	case autoscalingv2.ValueMetricType:
		if t.Value == nil {
			errs = append(errs, field.Required(p.Child("value"), "must set value for a Value target"))
		} else if t.Value.Sign() <= 0 {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value.String(), "must be positive"))
		}
	case autoscalingv2.AverageValueMetricType:
		if t.AverageValue == nil {
			errs = append(errs, field.Required(p.Child("averageValue"), "must set averageValue for an AverageValue target"))
		} else if t.AverageValue.Sign() <= 0 {
			errs = append(errs, field.Invalid(p.Child("averageValue"), t.AverageValue.String(), "must be positive"))
		}
	}
	return errs
}

func validateScalingRules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil && (*w < 0 || *w > 3600) {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, "must be between 0 and 3600 seconds"))
	}
	if sp := r.SelectPolicy; sp != nil {
		switch *sp {
		case autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect, autoscalingv2.DisabledPolicySelect:
		default:
			errs = append(errs, field.NotSupported(p.Child("selectPolicy"), *sp, hpaSelectPolicies))
		}
	}
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(p.Child("policies"), "must specify at least one policy"))
	}
	for i, pol := range r.Policies {
		pp := p.Child("policies").Index(i)
		if pol.Type != autoscalingv2.PodsScalingPolicy && pol.Type != autoscalingv2.PercentScalingPolicy {
			errs = append(errs, field.NotSupported(pp.Child("type"), pol.Type, hpaPolicyTypes))
		}
		if pol.Value <= 0 {
			errs = append(errs, field.Invalid(pp.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 || pol.PeriodSeconds > 1800 {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, "must be between 1 and 1800 seconds"))
		}
	}
	return errs
}

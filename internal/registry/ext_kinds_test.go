package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testHPA(mut func(h *autoscalingv2.HorizontalPodAutoscaler)) *autoscalingv2.HorizontalPodAutoscaler {
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    5,
		},
	}
	if mut != nil {
		mut(h)
	}
	return h
}

func TestHPADefaultsAndValidation(t *testing.T) {
	r := mustResource(t, "autoscaling", "v2", "horizontalpodautoscalers")
	h := testHPA(nil)
	checkErrs(t, simulateCreate(t, r, h), "")
	if *h.Spec.MinReplicas != 1 || len(h.Spec.Metrics) != 1 || !isCPUUtilization(h.Spec.Metrics[0]) ||
		*h.Spec.Metrics[0].Resource.Target.AverageUtilization != 80 || h.Spec.Behavior != nil {
		t.Errorf("defaults %+v", h.Spec)
	}
	b := testHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
		h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: extPtr[int32](60)}}
	})
	checkErrs(t, simulateCreate(t, r, b), "")
	up, down := b.Spec.Behavior.ScaleUp, b.Spec.Behavior.ScaleDown
	if *up.StabilizationWindowSeconds != 0 || *up.SelectPolicy != autoscalingv2.MaxChangePolicySelect || len(up.Policies) != 2 ||
		up.Policies[1] != (autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15}) {
		t.Errorf("scale up defaults %+v", up)
	}
	if *down.StabilizationWindowSeconds != 60 || len(down.Policies) != 1 || down.Policies[0].Type != autoscalingv2.PercentScalingPolicy || down.Policies[0].Value != 100 {
		t.Errorf("scale down defaults %+v", down)
	}
	cases := []struct {
		name string
		mut  func(h *autoscalingv2.HorizontalPodAutoscaler)
		want string
	}{
		{"no kind", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Kind = "" }, "spec.scaleTargetRef.kind: Required value"},
		{"min 0", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = extPtr[int32](0) }, "spec.minReplicas: Invalid value: 0"},
		{"max below min", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = extPtr[int32](6) }, "spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`"},
		{"metric without source", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType}}
		}, "spec.metrics[0]: Required value"},
		{"zero utilization", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{cpuUtilizationMetric(0)}
		}, "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0"},
		{"value target on resource", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			m := cpuUtilizationMetric(50)
			m.Resource.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: extPtr(resource.MustParse("1"))}
			h.Spec.Metrics = []autoscalingv2.MetricSpec{m}
		}, "spec.metrics[0].resource.target.type: Unsupported value"},
		{"bad policy period", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{
				Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 4000}}}}
		}, "spec.behavior.scaleUp.policies[0].periodSeconds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, testHPA(c.mut)), c.want) })
	}
}

func TestHPATargetsAndRow(t *testing.T) {
	r := mustResource(t, "autoscaling", "v2", "horizontalpodautoscalers")
	h := testHPA(nil)
	checkErrs(t, simulateCreate(t, r, h), "")
	want := []interface{}{"web", "Deployment/web", "cpu: <unknown>/80%", "1", int64(5), int64(0), "<unknown>"}
	if cells := cellsOf(t, r, h); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
	mem := autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: extPtr(resource.MustParse("100Mi"))}}}
	pods := autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "qps"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: extPtr(resource.MustParse("1k"))}}}
	cpuNow := autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
		Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: extPtr[int32](35)}}}
	cases := []struct {
		specs    []autoscalingv2.MetricSpec
		statuses []autoscalingv2.MetricStatus
		want     string
	}{
		{nil, nil, "<none>"},
		{[]autoscalingv2.MetricSpec{cpuUtilizationMetric(80)}, []autoscalingv2.MetricStatus{cpuNow}, "cpu: 35%/80%"},
		{[]autoscalingv2.MetricSpec{cpuUtilizationMetric(80), mem}, nil, "cpu: <unknown>/80%, memory: <unknown>/100Mi"},
		{[]autoscalingv2.MetricSpec{cpuUtilizationMetric(80), mem, pods}, nil, "cpu: <unknown>/80%, memory: <unknown>/100Mi + 1 more..."},
		{[]autoscalingv2.MetricSpec{pods}, nil, "<unknown>/1k"},
	}
	for _, c := range cases {
		if got := hpaTargets(c.specs, c.statuses); got != c.want {
			t.Errorf("targets %q, want %q", got, c.want)
		}
	}
}

// autoscaling/v1 is served from the stored v2 object; a v1 read-modify-write keeps
// what v1 cannot express.
func TestHPAConversion(t *testing.T) {
	v1r := mustResource(t, "autoscaling", "v1", "horizontalpodautoscalers")
	v2r := mustResource(t, "autoscaling", "v2", "horizontalpodautoscalers")
	if v1r.StoredAs != v2r || v1r.ToStored == nil || v1r.FromStored == nil {
		t.Fatalf("autoscaling/v1 is not stored as v2")
	}
	pods := autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "qps"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: extPtr(resource.MustParse("1k"))}}}
	stored := testHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
		h.Annotations = map[string]string{"team": "web"}
		h.Spec.MinReplicas = extPtr[int32](2)
		h.Spec.Metrics = []autoscalingv2.MetricSpec{cpuUtilizationMetric(60), pods}
		h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: extPtr[int32](30)}}
		h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
			CurrentReplicas: 2, DesiredReplicas: 3,
			CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
				Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: extPtr[int32](70)}}}},
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "Ready"}},
		}
	})
	out, err := v1r.FromStored(stored)
	if err != nil {
		t.Fatal(err)
	}
	v1 := out.(*autoscalingv1.HorizontalPodAutoscaler)
	if *v1.Spec.TargetCPUUtilizationPercentage != 60 || *v1.Spec.MinReplicas != 2 || v1.Spec.ScaleTargetRef.Kind != "Deployment" ||
		*v1.Status.CurrentCPUUtilizationPercentage != 70 || v1.Status.DesiredReplicas != 3 {
		t.Errorf("v1 view %+v", v1)
	}
	for _, a := range []string{HPAMetricsAnnotation, HPABehaviorAnnotation, HPAConditionsAnnotation} {
		if v1.Annotations[a] == "" {
			t.Errorf("annotation %s missing", a)
		}
	}
	if _, ok := v1.Annotations[HPACurrentMetricsAnnotation]; ok {
		t.Errorf("the CPU current metric should only be in currentCPUUtilizationPercentage")
	}
	back, err := v1r.ToStored(v1)
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(back, stored) {
		t.Errorf("round trip changed the object:\n got %+v\nwant %+v", back, stored)
	}
	// A plain v1 object: its CPU target becomes the only metric.
	plain := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}, MaxReplicas: 3,
			TargetCPUUtilizationPercentage: extPtr[int32](50),
		},
	}
	conv, err := v1r.ToStored(plain)
	if err != nil {
		t.Fatal(err)
	}
	h := conv.(*autoscalingv2.HorizontalPodAutoscaler)
	if len(h.Spec.Metrics) != 1 || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 50 || h.Annotations != nil {
		t.Errorf("v2 from plain v1 %+v", h)
	}
	if cells := cellsOf(t, v1r, plain); cells[2] != "cpu: <unknown>/50%" || cells[3] != "1" {
		t.Errorf("v1 row %v", cells)
	}
	bad := plain.DeepCopy()
	bad.Annotations = map[string]string{HPAMetricsAnnotation: "{"}
	if _, err := v1r.ToStored(bad); err == nil {
		t.Errorf("a broken metrics annotation was accepted")
	}
}

func TestEventsV1Conversion(t *testing.T) {
	r := mustResource(t, "events.k8s.io", "v1", "events")
	if r.StoredAs != findRegistered("", "v1", "events") {
		t.Fatalf("events.k8s.io/v1 is not stored as core/v1 events")
	}
	now := metav1.NewMicroTime(time.Now().Truncate(time.Microsecond))
	first := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	ev := &eventsv1.Event{
		ObjectMeta:               metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
		EventTime:                now,
		Series:                   &eventsv1.EventSeries{Count: 3, LastObservedTime: now},
		ReportingController:      "tug/deployment",
		ReportingInstance:        "tug-1",
		Action:                   "Scaling",
		Reason:                   "ScalingReplicaSet",
		Regarding:                corev1.ObjectReference{Kind: "Deployment", Namespace: "default", Name: "web"},
		Related:                  &corev1.ObjectReference{Kind: "ReplicaSet", Name: "web-1"},
		Note:                     "Scaled up to 3",
		Type:                     corev1.EventTypeNormal,
		DeprecatedSource:         corev1.EventSource{Component: "deployment-controller"},
		DeprecatedFirstTimestamp: first,
		DeprecatedLastTimestamp:  first,
		DeprecatedCount:          3,
	}
	out, err := r.ToStored(ev)
	if err != nil {
		t.Fatal(err)
	}
	core := out.(*corev1.Event)
	if core.Message != ev.Note || core.InvolvedObject.Name != "web" || core.ReportingController != "tug/deployment" ||
		core.Source.Component != "deployment-controller" || core.Count != 3 || core.Series.Count != 3 || core.Related.Name != "web-1" ||
		!core.FirstTimestamp.Equal(&first) || core.Action != "Scaling" {
		t.Errorf("core event %+v", core)
	}
	back, err := r.FromStored(core)
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(back, ev) {
		t.Errorf("round trip changed the event:\n got %+v\nwant %+v", back, ev)
	}
}

func TestLease(t *testing.T) {
	r := mustResource(t, "coordination.k8s.io", "v1", "leases")
	mk := func(d, tr *int32) *coordinationv1.Lease {
		return &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "node1", Namespace: "kube-node-lease"},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: extPtr("node1"), LeaseDurationSeconds: d, LeaseTransitions: tr},
		}
	}
	cases := []struct {
		name   string
		d, tr  *int32
		expect string
	}{
		{"valid", extPtr[int32](40), extPtr[int32](0), ""},
		{"zero duration", extPtr[int32](0), nil, "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"},
		{"negative transitions", nil, extPtr[int32](-1), "spec.leaseTransitions: Invalid value: -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, mk(c.d, c.tr)), c.expect) })
	}
	if cells := cellsOf(t, r, mk(nil, nil)); cells[1] != "node1" {
		t.Errorf("holder %v", cells[1])
	}
}

func TestEndpointSlice(t *testing.T) {
	r := mustResource(t, "discovery.k8s.io", "v1", "endpointslices")
	mk := func(mut func(es *discoveryv1.EndpointSlice)) *discoveryv1.EndpointSlice {
		es := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Namespace: "default"},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2"}}},
			Ports:       []discoveryv1.EndpointPort{{Port: extPtr[int32](80)}},
		}
		if mut != nil {
			mut(es)
		}
		return es
	}
	es := mk(nil)
	checkErrs(t, simulateCreate(t, r, es), "")
	if *es.Ports[0].Protocol != corev1.ProtocolTCP || *es.Ports[0].Name != "" {
		t.Errorf("port defaults %+v", es.Ports[0])
	}
	cases := []struct {
		name string
		mut  func(es *discoveryv1.EndpointSlice)
		want string
	}{
		{"no type", func(es *discoveryv1.EndpointSlice) { es.AddressType = "" }, "addressType: Required value"},
		{"bad type", func(es *discoveryv1.EndpointSlice) { es.AddressType = "IPX" }, "addressType: Unsupported value"},
		{"v6 in v4", func(es *discoveryv1.EndpointSlice) { es.Endpoints[0].Addresses = []string{"fd00::1"} }, "endpoints[0].addresses[0]: Invalid value"},
		{"no addresses", func(es *discoveryv1.EndpointSlice) { es.Endpoints[1].Addresses = nil }, "endpoints[1].addresses: Required value"},
		{"fqdn", func(es *discoveryv1.EndpointSlice) {
			es.AddressType = discoveryv1.AddressTypeFQDN
			es.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"db.example.com"}}}
		}, ""},
		{"duplicate port names", func(es *discoveryv1.EndpointSlice) {
			es.Ports = []discoveryv1.EndpointPort{{Name: extPtr("http")}, {Name: extPtr("http")}}
		}, "ports[1].name: Duplicate value"},
		{"bad protocol", func(es *discoveryv1.EndpointSlice) { es.Ports[0].Protocol = extPtr(corev1.Protocol("ICMP")) }, "ports[0].protocol: Unsupported value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, mk(c.mut)), c.want) })
	}
	v6 := es.DeepCopy()
	v6.AddressType = discoveryv1.AddressTypeIPv6
	v6.Endpoints = nil
	checkErrs(t, simulateUpdate(t, r, v6, es), "addressType: Invalid value: \"IPv6\": field is immutable")
	want := []interface{}{"web-abc", "IPv4", "80", "10.0.0.1,10.0.0.2", "<unknown>"}
	if cells := cellsOf(t, r, es); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
	many := mk(func(es *discoveryv1.EndpointSlice) {
		es.Ports = nil
		es.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}}}
	})
	if cells := cellsOf(t, r, many); cells[2] != "<unset>" || cells[3] != "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more..." {
		t.Errorf("row %v", cells)
	}
}

func TestPDB(t *testing.T) {
	r := mustResource(t, "policy", "v1", "poddisruptionbudgets")
	v := func(s string) *intstr.IntOrString { x := intstr.Parse(s); return &x }
	mk := func(minA, maxU *intstr.IntOrString) *policyv1.PodDisruptionBudget {
		return &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: minA, MaxUnavailable: maxU,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		}
	}
	cases := []struct {
		name       string
		minA, maxU *intstr.IntOrString
		want       string
	}{
		{"min", v("2"), nil, ""},
		{"max percent", nil, v("50%"), ""},
		{"both", v("1"), v("1"), "spec: Invalid value"},
		{"bad percent", v("150%"), nil, "spec.minAvailable: Invalid value: \"150%\": must not be greater than 100%"},
		{"negative", nil, v("-1"), "spec.maxUnavailable: Invalid value: -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, mk(c.minA, c.maxU)), c.want) })
	}
	p := mk(v("2"), nil)
	p.Status.DisruptionsAllowed = 1
	want := []interface{}{"web", "2", "N/A", int64(1), "<unknown>"}
	if cells := cellsOf(t, r, p); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
	if !r.Status || !r.Generation {
		t.Errorf("PDBs need status and generation")
	}
}

func TestNetworkPolicy(t *testing.T) {
	r := mustResource(t, "networking.k8s.io", "v1", "networkpolicies")
	port := intstr.FromInt32(80)
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow", Namespace: "default"},
		Spec: networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}},
			Egress:  []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}}}},
		},
	}
	checkErrs(t, simulateCreate(t, r, np), "")
	if *np.Spec.Ingress[0].Ports[0].Protocol != corev1.ProtocolTCP || !slices.Equal(np.Spec.PolicyTypes,
		[]networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("defaults %+v", np.Spec)
	}
	if cells := cellsOf(t, r, np); cells[1] != "<none>" {
		t.Errorf("pod selector cell %v", cells[1])
	}
	cases := []struct {
		name string
		mut  func(np *networkingv1.NetworkPolicy)
		want string
	}{
		{"except outside", func(np *networkingv1.NetworkPolicy) {
			np.Spec.Egress[0].To[0].IPBlock.Except = []string{"192.168.0.0/16"}
		},
			"spec.egress[0].to[0].ipBlock.except[0]: Invalid value"},
		{"bad cidr", func(np *networkingv1.NetworkPolicy) { np.Spec.Egress[0].To[0].IPBlock.CIDR = "10.0.0.0/40" }, "spec.egress[0].to[0].ipBlock.cidr"},
		{"ipblock and selector", func(np *networkingv1.NetworkPolicy) { np.Spec.Egress[0].To[0].PodSelector = &metav1.LabelSelector{} },
			"spec.egress[0].to[0]: Forbidden"},
		{"empty peer", func(np *networkingv1.NetworkPolicy) { np.Spec.Egress[0].To[0] = networkingv1.NetworkPolicyPeer{} }, "spec.egress[0].to[0]: Required value"},
		{"bad type", func(np *networkingv1.NetworkPolicy) { np.Spec.PolicyTypes = []networkingv1.PolicyType{"Sideways"} }, "spec.policyTypes[0]: Unsupported value"},
		{"end port below port", func(np *networkingv1.NetworkPolicy) { np.Spec.Ingress[0].Ports[0].EndPort = extPtr[int32](70) }, "spec.ingress[0].ports[0].endPort"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := np.DeepCopy()
			c.mut(n)
			checkErrs(t, simulateCreate(t, r, n), c.want)
		})
	}
}

func TestIngress(t *testing.T) {
	r := mustResource(t, "networking.k8s.io", "v1", "ingresses")
	prefix := networkingv1.PathTypePrefix
	mk := func(mut func(in *networkingv1.Ingress)) *networkingv1.Ingress {
		in := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
				Host: "web.example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
				}}}},
			}}},
		}
		if mut != nil {
			mut(in)
		}
		return in
	}
	cases := []struct {
		name string
		mut  func(in *networkingv1.Ingress)
		want string
	}{
		{"valid", nil, ""},
		{"wildcard", func(in *networkingv1.Ingress) { in.Spec.Rules[0].Host = "*.example.com" }, ""},
		{"nothing", func(in *networkingv1.Ingress) { in.Spec.Rules = nil }, "either `defaultBackend` or `rules` must be specified"},
		{"ip host", func(in *networkingv1.Ingress) { in.Spec.Rules[0].Host = "10.0.0.1" }, "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name"},
		{"no path type", func(in *networkingv1.Ingress) { in.Spec.Rules[0].HTTP.Paths[0].PathType = nil }, "spec.rules[0].http.paths[0].pathType: Required value"},
		{"relative path", func(in *networkingv1.Ingress) { in.Spec.Rules[0].HTTP.Paths[0].Path = "api" }, "spec.rules[0].http.paths[0].path: Invalid value"},
		{"no port", func(in *networkingv1.Ingress) {
			in.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port = networkingv1.ServiceBackendPort{}
		},
			"spec.rules[0].http.paths[0].backend.service.port: Invalid value"},
		{"both ports", func(in *networkingv1.Ingress) { in.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name = "http" },
			"cannot set both port name & port number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, mk(c.mut)), c.want) })
	}
	in := mk(func(in *networkingv1.Ingress) {
		in.Spec.IngressClassName = extPtr("nginx")
		in.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"web.example.com"}, SecretName: "tls"}}
		in.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.168.10.2"}, {IP: "192.168.10.1"}}
	})
	want := []interface{}{"web", "nginx", "web.example.com", "192.168.10.1,...", "80, 443", "<unknown>"}
	if cells := cellsOf(t, r, in); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
	if got := ingressHosts(nil); got != "*" {
		t.Errorf("hosts of no rules %q", got)
	}
	rules := []networkingv1.IngressRule{{Host: "a"}, {Host: "b"}, {}, {Host: "c"}, {Host: "d"}}
	if got := ingressHosts(rules); got != "a,b,c + 2 more..." {
		t.Errorf("hosts %q", got)
	}

	ic := mustResource(t, "networking.k8s.io", "v1", "ingressclasses")
	cls := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{
		Controller: "example.com/ingress", Parameters: &networkingv1.IngressClassParametersReference{APIGroup: extPtr("example.com"), Kind: "Params", Name: "p"}}}
	checkErrs(t, simulateCreate(t, ic, cls), "")
	if *cls.Spec.Parameters.Scope != "Cluster" {
		t.Errorf("scope default %v", *cls.Spec.Parameters.Scope)
	}
	if cells := cellsOf(t, ic, cls); cells[2] != "Params.example.com/p" {
		t.Errorf("parameters cell %v", cells[2])
	}
	moved := cls.DeepCopy()
	moved.Spec.Controller = "example.com/other"
	checkErrs(t, simulateUpdate(t, ic, moved, cls), "spec.controller: Invalid value: \"example.com/other\": field is immutable")
	noCtl := cls.DeepCopy()
	noCtl.Spec.Controller = ""
	checkErrs(t, simulateCreate(t, ic, noCtl), "spec.controller: Required value")
}

func TestStorageClass(t *testing.T) {
	r := mustResource(t, "storage.k8s.io", "v1", "storageclasses")
	sc := &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "local", Annotations: map[string]string{DefaultStorageClassAnnotation: "true"}},
		Provisioner: "tug.dev/local-path",
	}
	checkErrs(t, simulateCreate(t, r, sc), "")
	if *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("defaults %v %v", *sc.ReclaimPolicy, *sc.VolumeBindingMode)
	}
	want := []interface{}{"local (default)", "tug.dev/local-path", "Delete", "Immediate", false, "<unknown>"}
	if cells := cellsOf(t, r, sc); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
	n := sc.DeepCopy()
	n.Parameters = map[string]string{"type": "ssd"}
	checkErrs(t, simulateUpdate(t, r, n, sc), "parameters: Invalid value")
	n = sc.DeepCopy()
	n.AllowVolumeExpansion = extPtr(true)
	checkErrs(t, simulateUpdate(t, r, n, sc), "")
	bad := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}, ReclaimPolicy: extPtr(corev1.PersistentVolumeReclaimRecycle)}
	errs := simulateCreate(t, r, bad)
	checkErrs(t, errs, "provisioner: Required value")
	checkErrs(t, errs, "reclaimPolicy: Unsupported value: \"Recycle\"")

	d := mustResource(t, "storage.k8s.io", "v1", "csidrivers")
	drv := &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "csi.example.com"}}
	checkErrs(t, simulateCreate(t, d, drv), "")
	if !*drv.Spec.AttachRequired || *drv.Spec.PodInfoOnMount || *drv.Spec.FSGroupPolicy != storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy ||
		!slices.Equal(drv.Spec.VolumeLifecycleModes, []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}) {
		t.Errorf("CSI driver defaults %+v", drv.Spec)
	}
}

func TestPriorityClass(t *testing.T) {
	r := mustResource(t, "scheduling.k8s.io", "v1", "priorityclasses")
	for _, pc := range SystemPriorityClasses() {
		checkErrs(t, simulateCreate(t, r, pc.DeepCopy()), "")
	}
	sys := SystemPriorityClasses()
	if sys[0].Name != "system-node-critical" || sys[0].Value != 2000001000 || sys[1].Name != "system-cluster-critical" || sys[1].Value != 2000000000 {
		t.Errorf("system classes %v %v", sys[0], sys[1])
	}
	cases := []struct {
		name  string
		value int32
		pol   *corev1.PreemptionPolicy
		want  string
	}{
		{"high", 1000, nil, ""},
		{"never", 10, extPtr(corev1.PreemptNever), ""},
		{"too high", 1000000001, nil, "value: Forbidden"},
		{"system-mine", 5, nil, "metadata.name: Forbidden"},
		{"bad policy", 5, extPtr(corev1.PreemptionPolicy("Sometimes")), "preemptionPolicy: Unsupported value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: c.name}, Value: c.value, PreemptionPolicy: c.pol}
			checkErrs(t, simulateCreate(t, r, pc), c.want)
		})
	}
	old := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}
	checkErrs(t, simulateCreate(t, r, old), "")
	if *old.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("preemption default %v", *old.PreemptionPolicy)
	}
	n := old.DeepCopy()
	n.Value = 2000
	checkErrs(t, simulateUpdate(t, r, n, old), "value: Forbidden")
	want := []interface{}{"high", int64(1000), false, "<unknown>", "PreemptLowerPriority"}
	if cells := cellsOf(t, r, old); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
}

func testCSRPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func testCertPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alice"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCSR(t *testing.T) {
	r := mustResource(t, "certificates.k8s.io", "v1", "certificatesigningrequests")
	saved := RequestUserInfo
	t.Cleanup(func() { RequestUserInfo = saved })
	RequestUserInfo = func(context.Context) (RequestingUser, bool) {
		return RequestingUser{Name: "alice", UID: "a1", Groups: []string{"devs", "system:authenticated"}}, true
	}
	req := testCSRPEM(t)
	mk := func(mut func(c *certificatesv1.CertificateSigningRequest)) *certificatesv1.CertificateSigningRequest {
		c := &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "alice"},
			Spec: certificatesv1.CertificateSigningRequestSpec{
				Request: req, SignerName: certificatesv1.KubeAPIServerClientSignerName, Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
				Username: "mallory",
			},
		}
		if mut != nil {
			mut(c)
		}
		return c
	}
	c := mk(nil)
	checkErrs(t, simulateCreate(t, r, c), "")
	if c.Spec.Username != "alice" || c.Spec.UID != "a1" || !slices.Equal(c.Spec.Groups, []string{"devs", "system:authenticated"}) {
		t.Errorf("requester %q %q %v", c.Spec.Username, c.Spec.UID, c.Spec.Groups)
	}
	cases := []struct {
		name string
		mut  func(c *certificatesv1.CertificateSigningRequest)
		want string
	}{
		{"no request", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = nil }, "spec.request: Required value"},
		{"garbage", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = []byte("hello") }, "spec.request: Invalid value"},
		{"no signer", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "" }, "spec.signerName: Required value"},
		{"legacy signer", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = LegacyUnknownSigner }, "spec.signerName: Invalid value"},
		{"bad signer", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "signer" }, "spec.signerName"},
		{"no usages", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = nil }, "spec.usages: Required value"},
		{"bad usage", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = []certificatesv1.KeyUsage{"teleport"}
		}, "spec.usages[0]: Unsupported value"},
		{"short", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = extPtr[int32](60) }, "spec.expirationSeconds: Invalid value: 60"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkErrs(t, simulateCreate(t, r, mk(tc.mut)), tc.want) })
	}

	// spec never changes after create.
	n := c.DeepCopy()
	n.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}
	checkErrs(t, simulateUpdate(t, r, n, c), "")
	if n.Spec.Usages[0] != certificatesv1.UsageClientAuth {
		t.Errorf("spec changed on update: %v", n.Spec.Usages)
	}

	// A status write cannot approve; it can issue the certificate of an approved request.
	approved := c.DeepCopy()
	approved.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "ok"}}
	st := c.DeepCopy()
	st.Status.Conditions = approved.Status.Conditions
	r.Strategy.PrepareForStatusUpdate(context.Background(), st, c)
	if len(st.Status.Conditions) != 0 {
		t.Errorf("status write approved the request: %+v", st.Status.Conditions)
	}
	issue := approved.DeepCopy()
	issue.Status.Certificate = testCertPEM(t)
	r.Strategy.PrepareForStatusUpdate(context.Background(), issue, approved)
	checkErrs(t, r.Strategy.ValidateStatusUpdate(context.Background(), issue, approved), "")
	if got := CSRConditionText(issue); got != "Approved,Issued" {
		t.Errorf("condition text %q", got)
	}
	if issue.Status.Conditions[0].LastUpdateTime.IsZero() {
		t.Errorf("condition times not stamped")
	}
	changed := issue.DeepCopy()
	changed.Status.Certificate = testCertPEM(t)
	checkErrs(t, r.Strategy.ValidateStatusUpdate(context.Background(), changed, issue), "status.certificate: Forbidden")
	junk := approved.DeepCopy()
	junk.Status.Certificate = []byte("not a cert")
	checkErrs(t, r.Strategy.ValidateStatusUpdate(context.Background(), junk, approved), "status.certificate: Invalid value")
	both := c.DeepCopy()
	both.Status.Conditions = append(approved.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue})
	checkErrs(t, r.Strategy.ValidateStatusUpdate(context.Background(), both, c), "mutually exclusive")

	// /approval takes only the approval conditions.
	appr := c.DeepCopy()
	appr.Spec.Usages = nil
	appr.Status.Certificate = []byte("x")
	appr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Reason: "KubectlApprove"}}
	PrepareCSRApproval(appr, c, time.Now())
	checkErrs(t, ValidateCSRApproval(appr, c), "")
	if len(appr.Spec.Usages) != 1 || appr.Status.Certificate != nil || appr.Status.Conditions[0].Status != corev1.ConditionTrue || CSRConditionText(appr) != "Approved" {
		t.Errorf("approval write %+v", appr)
	}
	undo := appr.DeepCopy()
	undo.Status.Conditions = nil
	PrepareCSRApproval(undo, appr, time.Now())
	checkErrs(t, ValidateCSRApproval(undo, appr), "the Approved condition may not be removed")

	c.Spec.ExpirationSeconds = extPtr[int32](3600)
	want := []interface{}{"alice", "<unknown>", "kubernetes.io/kube-apiserver-client", "alice", "60m", "Pending"}
	if cells := cellsOf(t, r, c); !slices.Equal(cells, want) {
		t.Errorf("row %v, want %v", cells, want)
	}
}

func TestExtFieldSelectors(t *testing.T) {
	cases := []struct {
		r     *Resource
		obj   runtime.Object
		field string
		want  string
	}{
		{mustResource(t, "batch", "v1", "jobs"), &batchv1.Job{Status: batchv1.JobStatus{Succeeded: 2}}, "status.successful", "2"},
		{mustResource(t, "apps", "v1", "replicasets"), &appsv1.ReplicaSet{Status: appsv1.ReplicaSetStatus{Replicas: 3}}, "status.replicas", "3"},
		{mustResource(t, "certificates.k8s.io", "v1", "certificatesigningrequests"),
			&certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "example.com/s"}}, "spec.signerName", "example.com/s"},
	}
	for _, c := range cases {
		if got := c.r.Fields(c.obj)[c.field]; got != c.want {
			t.Errorf("%s %s = %q, want %q", c.r.Resource, c.field, got, c.want)
		}
	}
}

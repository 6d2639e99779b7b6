package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServiceAccount(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		op   string
		want string
	}{
		{"none given", podWith(nil), Create, "default"},
		{"name given", podWith(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "builder" }), Create, "builder"},
		{"deprecated field given", podWith(func(p *corev1.Pod) { p.Spec.DeprecatedServiceAccount = "old" }), Create, "old"},
		{"mirror pod untouched", podWith(func(p *corev1.Pod) { p.Annotations = map[string]string{mirrorPodAnnotation: "x"} }), Create, ""},
		{"updates untouched", podWith(nil), Update, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := (ServiceAccount{}).Admit(context.Background(), &Request{Operation: tc.op, Resource: podsRes, Object: tc.pod}); err != nil {
				t.Fatal(err)
			}
			if tc.pod.Spec.ServiceAccountName != tc.want || tc.pod.Spec.DeprecatedServiceAccount != tc.want {
				t.Fatalf("serviceAccountName=%q serviceAccount=%q, want %q", tc.pod.Spec.ServiceAccountName, tc.pod.Spec.DeprecatedServiceAccount, tc.want)
			}
		})
	}
}

func TestDefaultTolerationSeconds(t *testing.T) {
	exists := func(key string, effect corev1.TaintEffect, secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect, TolerationSeconds: secs}
	}
	tests := []struct {
		name        string
		tolerations []corev1.Toleration
		want        map[string]*int64 // NoExecute toleration seconds by key after admission
		wantCount   int
	}{
		{"none", nil, map[string]*int64{corev1.TaintNodeNotReady: ptr[int64](300), corev1.TaintNodeUnreachable: ptr[int64](300)}, 2},
		{"own not-ready kept", []corev1.Toleration{exists(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute, ptr[int64](10))},
			map[string]*int64{corev1.TaintNodeNotReady: ptr[int64](10), corev1.TaintNodeUnreachable: ptr[int64](300)}, 2},
		{"tolerate everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, map[string]*int64{}, 1},
		{"any effect of the key", []corev1.Toleration{exists(corev1.TaintNodeUnreachable, "", nil)},
			map[string]*int64{corev1.TaintNodeNotReady: ptr[int64](300), corev1.TaintNodeUnreachable: nil}, 2},
		{"other effect does not count", []corev1.Toleration{exists(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule, nil)},
			map[string]*int64{corev1.TaintNodeNotReady: ptr[int64](300)}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := podWith(func(p *corev1.Pod) { p.Spec.Tolerations = tc.tolerations })
			if err := (DefaultTolerationSeconds{}).Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Object: pod}); err != nil {
				t.Fatal(err)
			}
			if len(pod.Spec.Tolerations) != tc.wantCount {
				t.Fatalf("tolerations = %+v, want %d", pod.Spec.Tolerations, tc.wantCount)
			}
			for key, secs := range tc.want {
				found := false
				for _, tol := range pod.Spec.Tolerations {
					if tol.Key == key && (tol.Effect == corev1.TaintEffectNoExecute || tol.Effect == "") {
						found = true
						if (secs == nil) != (tol.TolerationSeconds == nil) || (secs != nil && *secs != *tol.TolerationSeconds) {
							t.Errorf("%s: tolerationSeconds = %v, want %v", key, tol.TolerationSeconds, secs)
						}
					}
				}
				if !found {
					t.Errorf("no NoExecute toleration for %s", key)
				}
			}
		})
	}
}

type fakeClasses []*schedulingv1.PriorityClass

func (f fakeClasses) PriorityClasses(context.Context) ([]*schedulingv1.PriorityClass, error) {
	return f, nil
}

func class(name string, value int32, def bool, policy *corev1.PreemptionPolicy) *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value, GlobalDefault: def, PreemptionPolicy: policy}
}

func TestPriority(t *testing.T) {
	never := corev1.PreemptNever
	lower := corev1.PreemptLowerPriority
	classes := fakeClasses{class("system-node-critical", 2000001000, false, nil), class("batch", 100, false, &never)}
	withDefaults := append(fakeClasses{class("default-b", 50, true, nil), class("default-a", 10, true, nil)}, classes...)
	tests := []struct {
		name      string
		classes   fakeClasses
		pod       *corev1.Pod
		forbidden bool
		wantClass string
		want      int32
		wantPol   corev1.PreemptionPolicy
	}{
		{"no class, no default", classes, podWith(nil), false, "", 0, lower},
		{"named class", classes, podWith(func(p *corev1.Pod) { p.Spec.PriorityClassName = "system-node-critical" }), false, "system-node-critical", 2000001000, lower},
		{"class preemption policy", classes, podWith(func(p *corev1.Pod) { p.Spec.PriorityClassName = "batch" }), false, "batch", 100, never},
		{"unknown class", classes, podWith(func(p *corev1.Pod) { p.Spec.PriorityClassName = "nope" }), true, "", 0, ""},
		{"lowest global default", withDefaults, podWith(nil), false, "default-a", 10, lower},
		{"matching priority accepted", classes, podWith(func(p *corev1.Pod) { p.Spec.PriorityClassName = "batch"; p.Spec.Priority = ptr[int32](100) }), false, "batch", 100, never},
		{"conflicting priority", classes, podWith(func(p *corev1.Pod) { p.Spec.PriorityClassName = "batch"; p.Spec.Priority = ptr[int32](7) }), true, "", 0, ""},
		{"conflicting policy", classes, podWith(func(p *corev1.Pod) { p.Spec.PriorityClassName = "batch"; p.Spec.PreemptionPolicy = &lower }), true, "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Priority{Classes: tc.classes}.Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Name: "p", Object: tc.pod})
			if tc.forbidden {
				if !apierrors.IsForbidden(err) {
					t.Fatalf("err = %v, want Forbidden", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := tc.pod.Spec
			if s.PriorityClassName != tc.wantClass || s.Priority == nil || *s.Priority != tc.want || s.PreemptionPolicy == nil || *s.PreemptionPolicy != tc.wantPol {
				t.Fatalf("class=%q priority=%v policy=%v, want %q %d %s", s.PriorityClassName, s.Priority, s.PreemptionPolicy, tc.wantClass, tc.want, tc.wantPol)
			}
		})
	}
}

func TestPodPluginsIgnoreOtherWrites(t *testing.T) {
	cm := &corev1.ConfigMap{}
	pod := podWith(nil)
	for _, p := range []Plugin{ServiceAccount{}, DefaultTolerationSeconds{}, Priority{Classes: fakeClasses{}}} {
		for _, r := range []*Request{
			{Operation: Create, Resource: configMapsRes, Object: cm},
			{Operation: Create, Resource: podsRes, Subresource: "binding", Object: pod},
			{Operation: Update, Resource: podsRes, Object: pod},
		} {
			if err := p.Admit(context.Background(), r); err != nil {
				t.Fatalf("%T refused %s %s/%s: %v", p, r.Operation, r.Resource.Resource, r.Subresource, err)
			}
		}
	}
	if pod.Spec.ServiceAccountName != "" || len(pod.Spec.Tolerations) != 0 || pod.Spec.Priority != nil {
		t.Fatalf("pod changed by writes that are not pod creates: %+v", pod.Spec)
	}
}

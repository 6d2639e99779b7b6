package admission

import (
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/registry"
)

// fakeObjects serves objects by resource name; every list sees all of them.
type fakeObjects struct {
	mu    sync.Mutex
	items map[string][]runtime.Object
	fresh int // consistent lists served
}

func (f *fakeObjects) ListObjects(_ context.Context, gvr schema.GroupVersionResource, ns string, fresh bool) ([]runtime.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fresh {
		f.fresh++
	}
	var out []runtime.Object
	for _, o := range f.items[gvr.Resource] {
		out = append(out, o)
	}
	return out, nil
}

func (f *fakeObjects) add(resource string, o runtime.Object) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.items == nil {
		f.items = map[string][]runtime.Object{}
	}
	f.items[resource] = append(f.items[resource], o)
}

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func limitRange(items ...corev1.LimitRangeItem) *corev1.LimitRange {
	lr := &corev1.LimitRange{}
	lr.Name, lr.Namespace = "lr", "ns1"
	lr.Spec.Limits = items
	return lr
}

var pvcsRes = &registry.Resource{Resource: "persistentvolumeclaims", Kind: "PersistentVolumeClaim", Version: "v1", Namespaced: true}

func TestLimitRangerDefaults(t *testing.T) {
	tests := []struct {
		name         string
		item         corev1.LimitRangeItem
		res          corev1.ResourceRequirements
		wantRequests corev1.ResourceList
		wantLimits   corev1.ResourceList
		wantQOS      corev1.PodQOSClass
	}{
		{"defaults fill both",
			corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: rl("cpu", "500m", "memory", "256Mi"), DefaultRequest: rl("cpu", "100m", "memory", "128Mi")},
			corev1.ResourceRequirements{}, rl("cpu", "100m", "memory", "128Mi"), rl("cpu", "500m", "memory", "256Mi"), corev1.PodQOSBurstable},
		{"own values kept",
			corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: rl("cpu", "500m"), DefaultRequest: rl("cpu", "100m")},
			corev1.ResourceRequirements{Requests: rl("cpu", "200m"), Limits: rl("cpu", "1")}, rl("cpu", "200m"), rl("cpu", "1"), ""},
		{"request from limit when no default request",
			corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: rl("cpu", "300m", "memory", "64Mi")},
			corev1.ResourceRequirements{}, rl("cpu", "300m", "memory", "64Mi"), rl("cpu", "300m", "memory", "64Mi"), corev1.PodQOSGuaranteed},
		{"only a default request",
			corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, DefaultRequest: rl("memory", "32Mi")},
			corev1.ResourceRequirements{}, rl("memory", "32Mi"), nil, corev1.PodQOSBurstable},
		{"pod items give no defaults",
			corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: rl("cpu", "4")},
			corev1.ResourceRequirements{Limits: rl("cpu", "1")}, nil, rl("cpu", "1"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := &fakeObjects{}
			objs.add("limitranges", limitRange(tc.item))
			pod := podWith(func(p *corev1.Pod) { p.Spec.Containers[0].Resources = tc.res })
			err := LimitRanger{Objects: objs}.Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "p", Object: pod})
			if err != nil {
				t.Fatal(err)
			}
			got := pod.Spec.Containers[0].Resources
			if !sameList(got.Requests, tc.wantRequests) || !sameList(got.Limits, tc.wantLimits) {
				t.Fatalf("requests=%v limits=%v, want %v %v", got.Requests, got.Limits, tc.wantRequests, tc.wantLimits)
			}
			if pod.Status.QOSClass != tc.wantQOS {
				t.Fatalf("qosClass=%q, want %q", pod.Status.QOSClass, tc.wantQOS)
			}
		})
	}
}

func sameList(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for n, q := range a {
		if w, ok := b[n]; !ok || w.Cmp(q) != 0 {
			return false
		}
	}
	return true
}

func TestLimitRangerChecks(t *testing.T) {
	container := func(req, lim corev1.ResourceList) corev1.Container {
		return corev1.Container{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
	}
	tests := []struct {
		name       string
		items      []corev1.LimitRangeItem
		containers []corev1.Container
		want       string // "" = admitted
	}{
		{"within range",
			[]corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Min: rl("cpu", "100m"), Max: rl("memory", "1Gi")}},
			[]corev1.Container{container(rl("cpu", "200m"), rl("memory", "512Mi"))}, ""},
		{"below min and above max",
			[]corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Min: rl("cpu", "100m"), Max: rl("memory", "1Gi")}},
			[]corev1.Container{container(rl("cpu", "50m"), rl("memory", "2Gi"))},
			`pods "p" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, maximum memory usage per Container is 1Gi, but limit is 2Gi]`},
		{"one error has no brackets",
			[]corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Max: rl("cpu", "1")}},
			[]corev1.Container{container(nil, rl("cpu", "2"))},
			`pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 2`},
		{"max needs a limit",
			[]corev1.LimitRangeItem{{Type: corev1.LimitTypePod, Max: rl("memory", "1Gi")}},
			[]corev1.Container{container(rl("memory", "100Mi"), nil)},
			`pods "p" is forbidden: maximum memory usage per Pod is 1Gi.  No limit is specified`},
		{"min needs a request",
			[]corev1.LimitRangeItem{{Type: corev1.LimitTypePod, Min: rl("cpu", "10m")}},
			[]corev1.Container{container(nil, nil)},
			`pods "p" is forbidden: minimum cpu usage per Pod is 10m.  No request is specified`},
		{"pod sums its containers",
			[]corev1.LimitRangeItem{{Type: corev1.LimitTypePod, Max: rl("cpu", "1")}},
			[]corev1.Container{container(nil, rl("cpu", "600m")), container(nil, rl("cpu", "600m"))},
			`pods "p" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m`},
		{"ratio too high",
			[]corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: rl("cpu", "2")}},
			[]corev1.Container{container(rl("cpu", "100m"), rl("cpu", "300m"))},
			`pods "p" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000`},
		{"ratio at the bound",
			[]corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: rl("cpu", "2")}},
			[]corev1.Container{container(rl("cpu", "100m"), rl("cpu", "200m"))}, ""},
		{"default above max is refused",
			[]corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Default: rl("memory", "2Gi"), Max: rl("memory", "1Gi")}},
			[]corev1.Container{container(nil, nil)},
			`pods "p" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := &fakeObjects{}
			objs.add("limitranges", limitRange(tc.items...))
			pod := podWith(func(p *corev1.Pod) { p.Spec.Containers = tc.containers })
			err := LimitRanger{Objects: objs}.Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "p", Object: pod})
			checkRefusal(t, err, tc.want)
		})
	}
}

func checkRefusal(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want Forbidden", err)
	}
	if err.Error() != want {
		t.Fatalf("message:\n got %s\nwant %s", err.Error(), want)
	}
}

func TestLimitRangerClaims(t *testing.T) {
	item := corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Min: rl("storage", "1Gi"), Max: rl("storage", "10Gi")}
	tests := []struct {
		name string
		req  corev1.ResourceList
		lim  corev1.ResourceList
		want string
	}{
		{"fits", rl("storage", "5Gi"), nil, ""},
		{"too small", rl("storage", "500Mi"), nil, `persistentvolumeclaims "data" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi`},
		{"too large", rl("storage", "20Gi"), rl("storage", "20Gi"), `persistentvolumeclaims "data" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi`},
		{"no size", nil, nil, `persistentvolumeclaims "data" is forbidden: [minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified, maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := &fakeObjects{}
			lr := limitRange(item)
			objs.add("limitranges", lr)
			pvc := &corev1.PersistentVolumeClaim{}
			pvc.Name, pvc.Namespace = "data", "ns1"
			pvc.Spec.Resources = corev1.VolumeResourceRequirements{Requests: tc.req, Limits: tc.lim}
			err := LimitRanger{Objects: objs}.Admit(context.Background(), &Request{Operation: Create, Resource: pvcsRes, Namespace: "ns1", Name: "data", Object: pvc})
			checkRefusal(t, err, tc.want)
		})
	}
}

func TestLimitRangerIgnoresOthers(t *testing.T) {
	objs := &fakeObjects{}
	objs.add("limitranges", limitRange(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: rl("cpu", "1")}))
	pod := podWith(func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits = rl("cpu", "8") })
	for _, r := range []*Request{
		{Operation: Update, Resource: podsRes, Namespace: "ns1", Name: "p", Object: pod, OldObject: pod},
		{Operation: Create, Resource: podsRes, Subresource: "status", Namespace: "ns1", Name: "p", Object: pod},
		{Operation: Create, Resource: configMapsRes, Namespace: "ns1", Name: "p", Object: &corev1.ConfigMap{}},
	} {
		if err := (LimitRanger{Objects: objs}).Admit(context.Background(), r); err != nil {
			t.Fatalf("%s %s/%s: %v", r.Operation, r.Resource.Resource, r.Subresource, err)
		}
	}
	if got := pod.Spec.Containers[0].Resources; got.Limits.Cpu().String() != "8" || got.Requests != nil {
		t.Fatalf("resources changed: %+v", got)
	}
}

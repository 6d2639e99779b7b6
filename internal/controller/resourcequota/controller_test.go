package resourcequota

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	"tug/internal/controller"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func pod(name string, phase corev1.PodPhase, req, lim corev1.ResourceList) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
	p.Spec.Containers = []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}}
	p.Status.Phase = phase
	return p
}

func TestQuotaStatus(t *testing.T) {
	ts := metav1.NewTime(time.Unix(5, 0))
	deleting := pod("d", corev1.PodRunning, rl("cpu", "1"), nil)
	deleting.DeletionTimestamp = &ts
	initPod := pod("i", corev1.PodPending, rl("cpu", "100m"), nil)
	initPod.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "2")}}}
	pods := []*corev1.Pod{
		pod("a", corev1.PodRunning, rl("cpu", "250m", "memory", "64Mi"), rl("cpu", "500m", "memory", "128Mi")),
		pod("b", corev1.PodPending, rl("cpu", "250m"), nil),
		pod("done", corev1.PodSucceeded, rl("cpu", "4"), nil),
		pod("failed", corev1.PodFailed, rl("cpu", "4"), nil),
		deleting,
	}
	nodePort := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np", Namespace: "ns"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}, {Port: 443}}}}
	clusterIP := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
		Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", "5Gi")}}}
	cm := func(name string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
	}
	tests := []struct {
		name   string
		hard   corev1.ResourceList
		scopes []corev1.ResourceQuotaScope
		pods   []*corev1.Pod
		want   corev1.ResourceList
	}{
		{"compute", rl("pods", "10", "requests.cpu", "4", "cpu", "4", "limits.cpu", "4", "requests.memory", "1Gi", "limits.memory", "1Gi"), nil, pods,
			rl("pods", "2", "requests.cpu", "500m", "cpu", "500m", "limits.cpu", "500m", "requests.memory", "64Mi", "limits.memory", "128Mi")},
		{"init container's larger request", rl("requests.cpu", "10"), nil, []*corev1.Pod{initPod}, rl("requests.cpu", "2")},
		{"nothing yet", rl("pods", "2", "requests.cpu", "1"), nil, nil, rl("pods", "0", "requests.cpu", "0")},
		{"count names", rl("count/pods", "5", "count/configmaps", "5", "configmaps", "5"), nil, pods,
			rl("count/pods", "2", "count/configmaps", "2", "configmaps", "2")},
		{"services and claims", rl("services", "5", "services.nodeports", "5", "services.loadbalancers", "1", "persistentvolumeclaims", "3", "requests.storage", "10Gi"), nil, nil,
			rl("services", "2", "services.nodeports", "2", "services.loadbalancers", "0", "persistentvolumeclaims", "1", "requests.storage", "5Gi")},
		{"best effort scope", rl("pods", "5"), []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort},
			[]*corev1.Pod{pod("be", corev1.PodRunning, nil, nil), pods[0]}, rl("pods", "1")},
		{"not best effort scope", rl("pods", "5"), []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort},
			[]*corev1.Pod{pod("be", corev1.PodRunning, nil, nil), pods[0], pods[1]}, rl("pods", "2")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q1", Namespace: "ns"}, Spec: corev1.ResourceQuotaSpec{Hard: tc.hard, Scopes: tc.scopes}}
			objs := []runtime.Object{q, nodePort, clusterIP, claim}
			client := fake.NewSimpleClientset(objs...)
			cctx := controller.NewTestContext(client, testclock.NewFakeClock(time.Unix(0, 0)), controller.Options{}, record.NewFakeRecorder(10))
			scheme := runtime.NewScheme()
			_ = metav1.AddMetaToScheme(scheme)
			cctx.Metadata = metadatafake.NewSimpleMetadataClient(scheme, cm("one"), cm("two"))
			rc, err := New(cctx)
			if err != nil {
				t.Fatal(err)
			}
			_ = cctx.Informers.Core().V1().ResourceQuotas().Informer().GetIndexer().Add(q)
			for _, p := range tc.pods {
				_ = cctx.Informers.Core().V1().Pods().Informer().GetIndexer().Add(p)
			}
			if err := rc.reconcile(context.Background(), "ns/q1"); err != nil {
				t.Fatal(err)
			}
			got, err := client.CoreV1().ResourceQuotas("ns").Get(context.Background(), "q1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !same(got.Status.Hard, tc.hard) {
				t.Errorf("status.hard = %v, want %v", got.Status.Hard, tc.hard)
			}
			if !same(got.Status.Used, tc.want) {
				t.Errorf("status.used = %v, want %v", got.Status.Used, tc.want)
			}
		})
	}
}

func same(a, b corev1.ResourceList) bool {
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

// A quota whose status already says it all is not written again.
func TestQuotaStatusUnchanged(t *testing.T) {
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q1", Namespace: "ns"},
		Spec:   corev1.ResourceQuotaSpec{Hard: rl("pods", "2")},
		Status: corev1.ResourceQuotaStatus{Hard: rl("pods", "2"), Used: rl("pods", "0")}}
	client := fake.NewSimpleClientset(q)
	cctx := controller.NewTestContext(client, testclock.NewFakeClock(time.Unix(0, 0)), controller.Options{}, record.NewFakeRecorder(10))
	rc, err := New(cctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = cctx.Informers.Core().V1().ResourceQuotas().Informer().GetIndexer().Add(q)
	client.ClearActions()
	if err := rc.reconcile(context.Background(), "ns/q1"); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()); n != 0 {
		t.Fatalf("%d API calls, want none: %v", n, client.Actions())
	}
}

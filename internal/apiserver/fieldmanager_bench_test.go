package apiserver

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/kube-openapi/pkg/validation/spec"

	"tug/internal/openapi"
	"tug/internal/registry"
)

// BenchmarkTrackStatusUpdate measures recording a node agent's pod status write in
// managedFields.
func BenchmarkTrackStatusUpdate(b *testing.B) {
	set := registry.All()
	fm := &fieldManagers{schemas: func() map[string]*spec.Schema { return openapi.Definitions(set) }}
	res := set.Lookup(corev1.SchemeGroupVersion.WithResource("pods"))
	m, err := fm.get(res, "status")
	if err != nil {
		b.Fatal(err)
	}
	live := &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "d", UID: "u", Labels: map[string]string{"app": "x"}},
		Spec:   corev1.PodSpec{NodeName: "n", Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "1"}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending}}
	live = m.UpdateNoErrors(&corev1.Pod{TypeMeta: live.TypeMeta}, live, "creator").(*corev1.Pod)
	next := live.DeepCopy()
	next.Status.Phase = corev1.PodRunning
	next.Status.PodIP = "10.0.0.1"
	next.Status.StartTime = &metav1.Time{Time: time.Now()}
	next.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	next.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Ready: true, Image: "busybox", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.UpdateNoErrors(live, next.DeepCopy(), "agent")
	}
}

// BenchmarkTrackCreate measures recording a pod create in managedFields: computed
// in full, and taken from the memo of an earlier create from the same template.
func BenchmarkTrackCreate(b *testing.B) {
	set := registry.All()
	fm := &fieldManagers{schemas: func() map[string]*spec.Schema { return openapi.Definitions(set) }}
	res := set.Lookup(corev1.SchemeGroupVersion.WithResource("pods"))
	m, err := fm.get(res, "")
	if err != nil {
		b.Fatal(err)
	}
	pod := memoPod("web-1", "u1")
	b.Run("full", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			m.UpdateNoErrors(res.New(), pod.DeepCopy(), "creator")
		}
	})
	b.Run("memo", func(b *testing.B) {
		memo := newCreateMemo(16)
		k, _ := memo.key("creator", res.GVK().String(), pod)
		memo.remember(k, m.UpdateNoErrors(res.New(), pod.DeepCopy(), "creator"))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			p := pod.DeepCopy()
			k, _ := memo.key("creator", res.GVK().String(), p)
			if !memo.apply(k, p) {
				b.Fatal("no hit")
			}
		}
	})
}

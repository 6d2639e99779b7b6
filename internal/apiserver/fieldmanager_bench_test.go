package apiserver

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkTrackStatusUpdate measures recording a node agent's pod status write in
// managedFields.
func BenchmarkTrackStatusUpdate(b *testing.B) {
	_, m := testFieldManager(b, corev1.SchemeGroupVersion.WithResource("pods"), "status")
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
	res, m := testFieldManager(b, corev1.SchemeGroupVersion.WithResource("pods"), "")
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

// BenchmarkTrackLeaseRenewal measures recording a node's Lease renewal in
// managedFields: computed in full, and renewed (the writer owns every field).
func BenchmarkTrackLeaseRenewal(b *testing.B) {
	res, m := testFieldManager(b, coordinationv1.SchemeGroupVersion.WithResource("leases"), "")
	holder, secs := "n1", int32(40)
	live := &coordinationv1.Lease{TypeMeta: metav1.TypeMeta{Kind: "Lease", APIVersion: "coordination.k8s.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: "kube-node-lease"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &metav1.MicroTime{Time: time.Unix(1700000000, 0)}}}
	old := m.UpdateNoErrors(res.New(), live, "kubelet")
	next := old.DeepCopyObject().(*coordinationv1.Lease)
	next.Spec.RenewTime = &metav1.MicroTime{Time: time.Unix(1700000010, 0)}
	gv := res.GVK().GroupVersion().String()
	b.Run("full", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			m.UpdateNoErrors(old, next.DeepCopy(), "kubelet")
		}
	})
	b.Run("renewed", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if !renewManagedFields("kubelet", gv, old, next.DeepCopy()) {
				b.Fatal("not renewed")
			}
		}
	})
}

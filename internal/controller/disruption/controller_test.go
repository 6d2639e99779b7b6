package disruption

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	"tug/internal/controller"
)

var now = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func pdb(minAvailable, maxUnavailable string, disrupted map[string]time.Time) *policyv1.PodDisruptionBudget {
	p := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b", Generation: 3},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	if minAvailable != "" {
		v := intstr.Parse(minAvailable)
		p.Spec.MinAvailable = &v
	}
	if maxUnavailable != "" {
		v := intstr.Parse(maxUnavailable)
		p.Spec.MaxUnavailable = &v
	}
	if disrupted != nil {
		p.Status.DisruptedPods = map[string]metav1.Time{}
		for k, v := range disrupted {
			p.Status.DisruptedPods[k] = metav1.NewTime(v)
		}
	}
	return p
}

func pod(name string, ready bool, owner *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"app": "web"}}}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	return p
}

func ref(apiVersion, kind, name, uid string) *metav1.OwnerReference {
	return &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid), Controller: ptr(true)}
}

func TestBudgetStatus(t *testing.T) {
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "d1"}, Spec: appsv1.DeploymentSpec{Replicas: ptr[int32](4)}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-1", UID: "r1", OwnerReferences: []metav1.OwnerReference{*ref("apps/v1", "Deployment", "web", "d1")}}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr[int32](5)}}
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "rc", UID: "c1"}, Spec: corev1.ReplicationControllerSpec{Replicas: ptr[int32](5)}}
	byRS := ref("apps/v1", "ReplicaSet", "web-1", "r1")
	byRC := ref("v1", "ReplicationController", "rc", "c1")
	cases := []struct {
		name string
		pdb  *policyv1.PodDisruptionBudget
		pods []*corev1.Pod
		// want: currentHealthy desiredHealthy disruptionsAllowed expectedPods reason
		want          string
		wantDisrupted []string
		wantErr       bool
	}{
		{"minAvailable as a number", pdb("2", "", nil),
			[]*corev1.Pod{pod("a", true, nil), pod("b", true, nil), pod("c", true, nil)},
			"3 2 1 3 SufficientPods", nil, false},
		{"not ready pods are not healthy", pdb("2", "", nil),
			[]*corev1.Pod{pod("a", true, nil), pod("b", false, nil), pod("c", true, nil)},
			"2 2 0 3 InsufficientPods", nil, false},
		{"maxUnavailable counts the Deployment's replicas", pdb("", "1", nil),
			[]*corev1.Pod{pod("a", true, byRS), pod("b", true, byRS), pod("c", true, byRS), pod("d", true, byRS)},
			"4 3 1 4 SufficientPods", nil, false},
		{"percent of a ReplicationController, rounded up", pdb("50%", "", nil),
			[]*corev1.Pod{pod("a", true, byRC), pod("b", true, byRC), pod("c", true, byRC)},
			"3 3 0 5 InsufficientPods", nil, false},
		{"maxUnavailable percent", pdb("", "30%", nil),
			[]*corev1.Pod{pod("a", true, byRC), pod("b", true, byRC), pod("c", true, byRC), pod("d", true, byRC), pod("e", true, byRC)},
			"5 3 2 5 SufficientPods", nil, false},
		{"another kind of controller: its scale subresource", pdb("", "1", nil),
			[]*corev1.Pod{pod("a", true, ref("example.com/v1", "Widget", "w", "w1"))},
			"1 6 0 7 InsufficientPods", nil, false},
		{"a pod without a controller makes a percentage impossible", pdb("50%", "", nil),
			[]*corev1.Pod{pod("a", true, nil)},
			"0 0 0 0 SyncFailed", nil, true},
		{"recent evictions count as disrupted; old and finished ones are dropped",
			pdb("1", "", map[string]time.Time{"a": now.Add(-30 * time.Second), "b": now.Add(-3 * time.Minute), "gone": now.Add(-time.Second)}),
			[]*corev1.Pod{pod("a", true, nil), pod("b", true, nil), pod("c", true, nil)},
			"2 1 1 3 SufficientPods", []string{"a"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{tc.pdb, deploy, rs, rc}
			client := fake.NewSimpleClientset(objs...)
			clk := testclock.NewFakeClock(now)
			rec := record.NewFakeRecorder(10)
			cctx := controller.NewTestContext(client, clk, controller.Options{}, rec)
			dc, err := New(cctx)
			if err != nil {
				t.Fatal(err)
			}
			dc.scaleOf = func(_ context.Context, _ string, r *metav1.OwnerReference) (int32, types.UID, error) {
				return 7, r.UID, nil
			}
			add := func(inf cache.SharedIndexInformer, o interface{}) {
				if err := inf.GetIndexer().Add(o); err != nil {
					t.Fatal(err)
				}
			}
			f := cctx.Informers
			add(f.Policy().V1().PodDisruptionBudgets().Informer(), tc.pdb)
			add(f.Apps().V1().Deployments().Informer(), deploy)
			add(f.Apps().V1().ReplicaSets().Informer(), rs)
			add(f.Core().V1().ReplicationControllers().Informer(), rc)
			for _, p := range tc.pods {
				add(f.Core().V1().Pods().Informer(), p)
			}
			client.ClearActions()
			err = dc.reconcile(context.Background(), "ns/b")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			acts := client.Actions()
			if len(acts) != 1 || acts[0].GetSubresource() != "status" {
				t.Fatalf("actions %v", acts)
			}
			st := acts[0].(k8stesting.UpdateAction).GetObject().(*policyv1.PodDisruptionBudget).Status
			reason := ""
			for _, c := range st.Conditions {
				if c.Type == policyv1.DisruptionAllowedCondition {
					reason = c.Reason
				}
			}
			got := fmt.Sprintf("%d %d %d %d %s", st.CurrentHealthy, st.DesiredHealthy, st.DisruptionsAllowed, st.ExpectedPods, reason)
			if got != tc.want {
				t.Errorf("status %q, want %q", got, tc.want)
			}
			if !tc.wantErr && st.ObservedGeneration != 3 {
				t.Errorf("observedGeneration %d", st.ObservedGeneration)
			}
			var names []string
			for n := range st.DisruptedPods {
				names = append(names, n)
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.wantDisrupted) {
				t.Errorf("disruptedPods %v, want %v", names, tc.wantDisrupted)
			}
			if tc.wantErr {
				select {
				case e := <-rec.Events:
					if !strings.Contains(e, "CalculateExpectedPodCountFailed") {
						t.Errorf("event %q", e)
					}
				default:
					t.Error("no event")
				}
			}
			if tc.wantDisrupted != nil && dc.queue.Len() != 0 {
				t.Error("the expiry of an eviction should be queued for later")
			}
		})
	}
}

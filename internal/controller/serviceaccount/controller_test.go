package serviceaccount

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	"tug/internal/controller"
)

func TestDefaultServiceAccount(t *testing.T) {
	ts := metav1.NewTime(time.Unix(1, 0))
	active := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	done := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	dying := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "c", DeletionTimestamp: &ts}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	existing := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "b"}}
	cases := []struct {
		ns   string
		want []string
	}{
		{"a", []string{"create serviceaccounts a/default"}},
		{"b", nil},
		{"c", nil},
		{"missing", nil},
	}
	for _, tc := range cases {
		t.Run(tc.ns, func(t *testing.T) {
			objs := []runtime.Object{active, done, dying, existing}
			client := fake.NewSimpleClientset(objs...)
			cctx := controller.NewTestContext(client, testclock.NewFakeClock(time.Unix(0, 0)), controller.Options{}, record.NewFakeRecorder(1))
			sc, err := New(cctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range []runtime.Object{active, done, dying} {
				_ = cctx.Informers.Core().V1().Namespaces().Informer().GetIndexer().Add(o)
			}
			_ = cctx.Informers.Core().V1().ServiceAccounts().Informer().GetIndexer().Add(existing)
			client.ClearActions()
			if err := sc.reconcile(context.Background(), tc.ns); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range client.Actions() {
				c := a.(k8stesting.CreateAction)
				m := c.GetObject().(metav1.Object)
				got = append(got, fmt.Sprintf("%s %s %s/%s", a.GetVerb(), a.GetResource().Resource, a.GetNamespace(), m.GetName()))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

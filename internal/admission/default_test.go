package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestDefaultChain(t *testing.T) {
	e := escalationFixture()
	ns := &fakeNamespaces{cached: map[string]corev1.NamespacePhase{"ns1": corev1.NamespaceActive}}
	ns.fresh = ns.cached
	chain := Default(Deps{Namespaces: ns, PriorityClasses: fakeClasses{}, Authorizer: e.Authorizer, Rules: e.Rules})
	if len(chain) != 6 {
		t.Fatalf("chain has %d plugins, want 6", len(chain))
	}
	if _, ok := chain[0].(*NamespaceLifecycle); !ok {
		t.Fatalf("the namespace check must come first, got %T", chain[0])
	}
	pod := podWith(nil)
	if err := chain.Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "p", Object: pod}); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.ServiceAccountName != "default" || pod.Spec.Priority == nil || len(pod.Spec.Tolerations) != 2 {
		t.Fatalf("pod not filled in: %+v", pod.Spec)
	}
	err := chain.Admit(context.Background(), &Request{Operation: Create, Resource: podsRes, Namespace: "gone", Name: "p", Object: podWith(nil)})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("err = %v, want NotFound", err)
	}
	if got := Default(Deps{}); len(got) != 2 {
		t.Fatalf("without dependencies the chain has %d plugins, want the 2 that need none", len(got))
	}
}

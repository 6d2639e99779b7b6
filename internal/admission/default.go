package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"tug/internal/auth"
	"tug/internal/storage"
)

// Deps are what the default plugins read. A plugin whose dependency is nil is left
// out of the chain.
type Deps struct {
	Namespaces      NamespaceGetter
	PriorityClasses PriorityClassLister
	// Authorizer answers the escalate and bind checks; Rules lists what users hold.
	Authorizer auth.Authorizer
	Rules      RuleResolver
}

// Default is the chain every write passes through: first refuse writes into
// namespaces that cannot take them, then fill in pod fields, then check that RBAC
// changes grant nothing the writer does not hold.
func Default(d Deps) Chain {
	var c Chain
	if d.Namespaces != nil {
		c = append(c, NewNamespaceLifecycle(d.Namespaces))
	}
	c = append(c, ServiceAccount{})
	if d.PriorityClasses != nil {
		c = append(c, Priority{Classes: d.PriorityClasses})
	}
	c = append(c, DefaultTolerationSeconds{})
	if d.Authorizer != nil && d.Rules != nil {
		c = append(c, RBACEscalation{Authorizer: d.Authorizer, Rules: d.Rules})
	}
	if d.Authorizer != nil {
		c = append(c, CSRSigners{Authorizer: d.Authorizer})
	}
	return c
}

// StoreDeps reads namespaces and priority classes from the API server's stores.
func StoreDeps(lookup auth.StoreLookup) Deps {
	return Deps{Namespaces: storeNamespaces{lookup}, PriorityClasses: storePriorityClasses{lookup}}
}

// NamespaceGetter reads a namespace. fresh asks for a read that sees every write
// made so far (not only the cache); a missing namespace is a NotFound error.
type NamespaceGetter interface {
	GetNamespace(ctx context.Context, name string, fresh bool) (*corev1.Namespace, error)
}

// PriorityClassLister lists the PriorityClasses.
type PriorityClassLister interface {
	PriorityClasses(ctx context.Context) ([]*schedulingv1.PriorityClass, error)
}

type storeNamespaces struct{ lookup auth.StoreLookup }

func (s storeNamespaces) GetNamespace(ctx context.Context, name string, fresh bool) (*corev1.Namespace, error) {
	r := s.lookup(corev1.SchemeGroupVersion.WithResource("namespaces"))
	if r == nil {
		return nil, apierrors.NewServiceUnavailable("namespaces are not served yet")
	}
	rv := "0"
	if fresh {
		rv = ""
	}
	o, err := r.Get(ctx, "", name, rv)
	if err != nil {
		return nil, err
	}
	return o.Obj.(*corev1.Namespace), nil
}

type storePriorityClasses struct{ lookup auth.StoreLookup }

func (s storePriorityClasses) PriorityClasses(ctx context.Context) ([]*schedulingv1.PriorityClass, error) {
	r := s.lookup(schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"))
	if r == nil {
		return nil, nil
	}
	list, err := r.List(ctx, storage.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	out := make([]*schedulingv1.PriorityClass, 0, len(list.Items))
	for _, o := range list.Items {
		if pc, ok := o.Obj.(*schedulingv1.PriorityClass); ok {
			out = append(out, pc)
		}
	}
	return out, nil
}

// isPodCreate reports whether r creates a pod (not a subresource of one).
func isPodCreate(r *Request) (*corev1.Pod, bool) {
	if r.Operation != Create || r.Subresource != "" || r.Resource == nil || r.Resource.Group != "" || r.Resource.Resource != "pods" {
		return nil, false
	}
	pod, ok := r.Object.(*corev1.Pod)
	return pod, ok
}

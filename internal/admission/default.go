package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

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
	// Objects lists LimitRanges, ResourceQuotas and what quotas count.
	Objects ObjectLister
	// Quota is the quota admission state (nil: built from Objects).
	Quota *Quota
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
	if d.Objects != nil {
		c = append(c, LimitRanger{Objects: d.Objects})
	}
	if d.Authorizer != nil && d.Rules != nil {
		c = append(c, RBACEscalation{Authorizer: d.Authorizer, Rules: d.Rules})
	}
	if d.Authorizer != nil {
		c = append(c, CSRSigners{Authorizer: d.Authorizer})
	}
	// Quota comes last: it charges the object as every other plugin left it.
	if d.Quota == nil && d.Objects != nil {
		d.Quota = NewQuota(d.Objects)
	}
	if d.Quota != nil {
		c = append(c, d.Quota)
	}
	return c
}

// StoreDeps reads namespaces and priority classes from the API server's stores.
func StoreDeps(lookup auth.StoreLookup) Deps {
	return Deps{Namespaces: storeNamespaces{lookup}, PriorityClasses: storePriorityClasses{lookup}, Objects: storeObjects{lookup}}
}

type storeObjects struct{ lookup auth.StoreLookup }

func (s storeObjects) ListObjects(ctx context.Context, gvr schema.GroupVersionResource, namespace string, fresh bool) ([]runtime.Object, error) {
	r := s.lookup(gvr)
	if r == nil {
		return nil, nil
	}
	rv := "0"
	if fresh {
		rv = ""
	}
	list, err := r.List(ctx, storage.ListOptions{Namespace: namespace, ResourceVersion: rv})
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, 0, len(list.Items))
	for _, o := range list.Items {
		out = append(out, o.Obj)
	}
	return out, nil
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

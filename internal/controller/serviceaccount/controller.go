// Package serviceaccount gives every namespace a ServiceAccount named "default" (the
// one pods run as when they name none), and creates it again if it is deleted.
package serviceaccount

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"tug/internal/controller"
	"tug/internal/controller/loop"
)

func init() {
	controller.Register("serviceaccount", func(c *controller.Context) (controller.Runner, error) { return New(c) })
}

// DefaultName is the ServiceAccount every namespace gets.
const DefaultName = "default"

// Controller keeps the default ServiceAccounts.
type Controller struct {
	client     kubernetes.Interface
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	queue      *loop.Queue
	workers    int
	synced     []cache.InformerSynced
}

// New builds the controller; its queue holds namespace names.
func New(c *controller.Context) (*Controller, error) {
	nsInf := c.Informers.Core().V1().Namespaces()
	saInf := c.Informers.Core().V1().ServiceAccounts()
	sc := &Controller{
		client:     c.Client,
		namespaces: nsInf.Lister(),
		accounts:   saInf.Lister(),
		queue:      loop.New("serviceaccount", c.Clock),
		workers:    c.Options.Workers,
		synced:     []cache.InformerSynced{nsInf.Informer().HasSynced, saInf.Informer().HasSynced},
	}
	if _, err := nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { sc.queueNamespace(obj) },
		UpdateFunc: func(_, cur interface{}) { sc.queueNamespace(cur) },
	}); err != nil {
		return nil, err
	}
	if _, err := saInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj interface{}) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if sa, ok := obj.(*corev1.ServiceAccount); ok && sa.Name == DefaultName {
				sc.queue.Add(sa.Namespace)
			}
		},
	}); err != nil {
		return nil, err
	}
	return sc, nil
}

func (sc *Controller) queueNamespace(obj interface{}) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase != corev1.NamespaceTerminating && ns.DeletionTimestamp == nil {
		sc.queue.Add(ns.Name)
	}
}

// Run implements controller.Runner.
func (sc *Controller) Run(ctx context.Context) {
	sc.queue.Run(ctx, sc.workers, sc.reconcile, sc.synced...)
}

// reconcile creates the default ServiceAccount of an active namespace if missing.
func (sc *Controller) reconcile(ctx context.Context, name string) error {
	ns, err := sc.namespaces.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	if _, err := sc.accounts.ServiceAccounts(name).Get(DefaultName); err == nil {
		return nil
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: name}}
	_, err = sc.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	return err
}

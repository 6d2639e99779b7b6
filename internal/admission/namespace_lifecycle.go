package admission

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImmortalNamespaces can never be deleted.
var ImmortalNamespaces = map[string]bool{
	metav1.NamespaceDefault: true,
	metav1.NamespaceSystem:  true,
	metav1.NamespacePublic:  true,
}

// recentDeleteWindow is how long after a namespace delete its lookups bypass the
// cache, so that a create racing the delete sees the namespace as terminating.
const recentDeleteWindow = 10 * time.Second

// NamespaceLifecycle keeps namespaced objects inside namespaces that exist and are
// not being deleted, and protects the system namespaces from deletion.
type NamespaceLifecycle struct {
	Namespaces NamespaceGetter
	now        func() time.Time

	mu      sync.Mutex
	deleted map[string]time.Time // namespace -> when a delete was admitted
}

// NewNamespaceLifecycle returns the plugin.
func NewNamespaceLifecycle(ns NamespaceGetter) *NamespaceLifecycle {
	return &NamespaceLifecycle{Namespaces: ns, now: time.Now, deleted: map[string]time.Time{}}
}

// Admit implements Plugin.
func (l *NamespaceLifecycle) Admit(ctx context.Context, r *Request) error {
	if r.Resource.Group == "" && r.Resource.Resource == "namespaces" {
		if r.Operation == Delete && r.Subresource == "" {
			if ImmortalNamespaces[r.Name] {
				return apierrors.NewForbidden(r.Resource.GroupResource(), r.Name, fmt.Errorf("this namespace may not be deleted"))
			}
			l.markDeleted(r.Name)
		}
		return nil
	}
	if !r.Resource.Namespaced || r.Namespace == "" {
		return nil
	}
	// Removing content (and connecting to it) is always possible: that is how a
	// terminating namespace is emptied.
	if r.Operation != Create && r.Operation != Update {
		return nil
	}
	ns, err := l.Namespaces.GetNamespace(ctx, r.Namespace, l.recentlyDeleted(r.Namespace))
	if apierrors.IsNotFound(err) {
		// The cache may not have seen a namespace created a moment ago.
		ns, err = l.Namespaces.GetNamespace(ctx, r.Namespace, true)
	}
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(corev1.Resource("namespaces"), r.Namespace)
	}
	if err != nil {
		return err
	}
	if r.Operation == Create && ns.Status.Phase == corev1.NamespaceTerminating {
		e := apierrors.NewForbidden(r.Resource.GroupResource(), r.Name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", r.Namespace))
		e.ErrStatus.Details.Causes = append(e.ErrStatus.Details.Causes, metav1.StatusCause{
			Type:    corev1.NamespaceTerminatingCause,
			Field:   "metadata.namespace",
			Message: fmt.Sprintf("namespace %s is being terminated", r.Namespace),
		})
		return e
	}
	return nil
}

func (l *NamespaceLifecycle) markDeleted(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for n, t := range l.deleted {
		if now.Sub(t) > recentDeleteWindow {
			delete(l.deleted, n)
		}
	}
	l.deleted[name] = now
}

func (l *NamespaceLifecycle) recentlyDeleted(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.deleted[name]
	return ok && l.now().Sub(t) <= recentDeleteWindow
}

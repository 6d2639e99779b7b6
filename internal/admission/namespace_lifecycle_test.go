package admission

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeNamespaces serves a cached and a fresh view, to show when each is used.
type fakeNamespaces struct {
	cached, fresh map[string]corev1.NamespacePhase
	freshReads    int
}

func (f *fakeNamespaces) GetNamespace(_ context.Context, name string, fresh bool) (*corev1.Namespace, error) {
	view := f.cached
	if fresh {
		f.freshReads++
		view = f.fresh
	}
	phase, ok := view[name]
	if !ok {
		return nil, apierrors.NewNotFound(corev1.Resource("namespaces"), name)
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}, nil
}

func TestNamespaceLifecycle(t *testing.T) {
	both := map[string]corev1.NamespacePhase{"live": corev1.NamespaceActive, "dying": corev1.NamespaceTerminating}
	tests := []struct {
		name        string
		req         Request
		fresh       map[string]corev1.NamespacePhase // default: same as cached
		wantErr     func(error) bool
		wantMessage string
	}{
		{"create in active namespace", Request{Operation: Create, Resource: configMapsRes, Namespace: "live", Name: "c"}, nil, nil, ""},
		{"create in missing namespace", Request{Operation: Create, Resource: configMapsRes, Namespace: "nope", Name: "c"}, nil,
			apierrors.IsNotFound, `namespaces "nope" not found`},
		{"create in namespace only etcd has seen", Request{Operation: Create, Resource: configMapsRes, Namespace: "new", Name: "c"},
			map[string]corev1.NamespacePhase{"new": corev1.NamespaceActive}, nil, ""},
		{"create in terminating namespace", Request{Operation: Create, Resource: configMapsRes, Namespace: "dying", Name: "c"}, nil,
			apierrors.IsForbidden, `configmaps "c" is forbidden: unable to create new content in namespace dying because it is being terminated`},
		{"subresource create in terminating namespace", Request{Operation: Create, Resource: podsRes, Subresource: "binding", Namespace: "dying", Name: "p"}, nil,
			apierrors.IsForbidden, "being terminated"},
		{"update in terminating namespace", Request{Operation: Update, Resource: configMapsRes, Namespace: "dying", Name: "c"}, nil, nil, ""},
		{"update in missing namespace", Request{Operation: Update, Resource: configMapsRes, Namespace: "nope", Name: "c"}, nil, apierrors.IsNotFound, ""},
		{"delete in terminating namespace", Request{Operation: Delete, Resource: configMapsRes, Namespace: "dying", Name: "c"}, nil, nil, ""},
		{"delete in missing namespace", Request{Operation: Delete, Resource: configMapsRes, Namespace: "nope", Name: "c"}, nil, nil, ""},
		{"cluster-scoped object", Request{Operation: Create, Resource: nodesRes, Name: "n1"}, nil, nil, ""},
		{"create a namespace", Request{Operation: Create, Resource: namespacesRes, Name: "nope"}, nil, nil, ""},
		{"delete default", Request{Operation: Delete, Resource: namespacesRes, Name: "default"}, nil,
			apierrors.IsForbidden, `namespaces "default" is forbidden: this namespace may not be deleted`},
		{"delete kube-system", Request{Operation: Delete, Resource: namespacesRes, Name: "kube-system"}, nil, apierrors.IsForbidden, ""},
		{"delete kube-public", Request{Operation: Delete, Resource: namespacesRes, Name: "kube-public"}, nil, apierrors.IsForbidden, ""},
		{"delete another namespace", Request{Operation: Delete, Resource: namespacesRes, Name: "live"}, nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fresh := tc.fresh
			if fresh == nil {
				fresh = both
			}
			l := NewNamespaceLifecycle(&fakeNamespaces{cached: both, fresh: fresh})
			err := l.Admit(context.Background(), &tc.req)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !tc.wantErr(err) {
				t.Fatalf("err = %v, wrong kind", err)
			}
			if !strings.Contains(err.Error(), tc.wantMessage) {
				t.Fatalf("err = %q, want %q", err, tc.wantMessage)
			}
		})
	}
}

func TestNamespaceLifecycleTerminatingCause(t *testing.T) {
	l := NewNamespaceLifecycle(&fakeNamespaces{cached: map[string]corev1.NamespacePhase{"x": corev1.NamespaceTerminating}})
	err := l.Admit(context.Background(), &Request{Operation: Create, Resource: configMapsRes, Namespace: "x", Name: "c"})
	st, ok := err.(apierrors.APIStatus)
	if !ok || st.Status().Details == nil || len(st.Status().Details.Causes) != 1 || st.Status().Details.Causes[0].Type != corev1.NamespaceTerminatingCause {
		t.Fatalf("err = %#v, want a NamespaceTerminating cause", err)
	}
}

// After a namespace delete is admitted, creates look past the (stale) cache.
func TestNamespaceLifecycleRecentDelete(t *testing.T) {
	ns := &fakeNamespaces{
		cached: map[string]corev1.NamespacePhase{"x": corev1.NamespaceActive},
		fresh:  map[string]corev1.NamespacePhase{"x": corev1.NamespaceTerminating},
	}
	l := NewNamespaceLifecycle(ns)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	create := &Request{Operation: Create, Resource: configMapsRes, Namespace: "x", Name: "c"}
	if err := l.Admit(ctx, create); err != nil {
		t.Fatalf("before the delete the cache answers: %v", err)
	}
	if err := l.Admit(ctx, &Request{Operation: Delete, Resource: namespacesRes, Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(ctx, create); !apierrors.IsForbidden(err) {
		t.Fatalf("right after the delete: err = %v, want Forbidden", err)
	}
	now = now.Add(recentDeleteWindow + time.Second)
	if err := l.Admit(ctx, create); err != nil {
		t.Fatalf("long after the delete the cache answers again: %v", err)
	}
}

package admission

import (
	"context"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"tug/internal/auth"
	"tug/internal/registry"
)

func TestNodeRestriction(t *testing.T) {
	leasesRes := &registry.Resource{Group: coordinationv1.GroupName, Version: "v1", Resource: "leases", Kind: "Lease", Namespaced: true}
	n1 := &auth.User{Name: "system:node:n1", Groups: []string{auth.GroupNodes, auth.GroupAuthenticated}}
	admin := &auth.User{Name: "admin", Groups: []string{auth.GroupMasters}}
	notANode := &auth.User{Name: "system:node:n1", Groups: []string{auth.GroupAuthenticated}}
	node := func(name string, mut func(*corev1.Node)) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
		if mut != nil {
			mut(n)
		}
		return n
	}
	boundTo := func(node string) *corev1.Pod { return podWith(func(p *corev1.Pod) { p.Spec.NodeName = node }) }
	mirror := func(node string, owner string) *corev1.Pod {
		return podWith(func(p *corev1.Pod) {
			p.Spec.NodeName = node
			p.Annotations = map[string]string{"kubernetes.io/config.mirror": "hash"}
			if owner != "" {
				p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: owner, UID: "u"}}
			}
		})
	}
	tainted := func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoExecute}}
	}
	cases := []struct {
		name    string
		req     Request
		allowed bool
	}{
		{"node creates itself", Request{Operation: Create, Resource: nodesRes, Name: "n1", Object: node("n1", nil), User: n1}, true},
		{"node creates another node", Request{Operation: Create, Resource: nodesRes, Name: "n2", Object: node("n2", nil), User: n1}, false},
		{"node updates its status", Request{Operation: Update, Resource: nodesRes, Subresource: "status", Name: "n1", Object: node("n1", nil), OldObject: node("n1", nil), User: n1}, true},
		{"node updates another's status", Request{Operation: Update, Resource: nodesRes, Subresource: "status", Name: "n2", Object: node("n2", nil), OldObject: node("n2", nil), User: n1}, false},
		{"node deletes another node", Request{Operation: Delete, Resource: nodesRes, Name: "n2", OldObject: node("n2", nil), User: n1}, false},
		{"node lifts its own taints", Request{Operation: Update, Resource: nodesRes, Name: "n1", Object: node("n1", nil), OldObject: node("n1", tainted), User: n1}, false},
		{"node changes its labels", Request{Operation: Update, Resource: nodesRes, Name: "n1", Object: node("n1", func(n *corev1.Node) { n.Labels["x"] = "y" }), OldObject: node("n1", nil), User: n1}, true},
		{"node sets a restricted label", Request{Operation: Create, Resource: nodesRes, Name: "n1", Object: node("n1", func(n *corev1.Node) { n.Labels["node-restriction.kubernetes.io/pool"] = "gold" }), User: n1}, false},
		{"admin taints another node", Request{Operation: Update, Resource: nodesRes, Name: "n2", Object: node("n2", tainted), OldObject: node("n2", nil), User: admin}, true},
		{"not in system:nodes", Request{Operation: Update, Resource: nodesRes, Name: "n2", Object: node("n2", nil), OldObject: node("n2", nil), User: notANode}, true},

		{"status of own pod", Request{Operation: Update, Resource: podsRes, Subresource: "status", Namespace: "ns1", Name: "p", Object: boundTo("n1"), OldObject: boundTo("n1"), User: n1}, true},
		{"status of another node's pod", Request{Operation: Update, Resource: podsRes, Subresource: "status", Namespace: "ns1", Name: "p", Object: boundTo("n1"), OldObject: boundTo("n2"), User: n1}, false},
		{"delete own pod", Request{Operation: Delete, Resource: podsRes, Namespace: "ns1", Name: "p", OldObject: boundTo("n1"), User: n1}, true},
		{"delete another node's pod", Request{Operation: Delete, Resource: podsRes, Namespace: "ns1", Name: "p", OldObject: boundTo("n2"), User: n1}, false},
		{"delete an unbound pod", Request{Operation: Delete, Resource: podsRes, Namespace: "ns1", Name: "p", OldObject: boundTo(""), User: n1}, false},
		{"evict another node's pod", Request{Operation: Delete, Resource: podsRes, Subresource: "eviction", Namespace: "ns1", Name: "p", OldObject: boundTo("n2"), User: n1}, false},
		{"ephemeral containers of own pod", Request{Operation: Update, Resource: podsRes, Subresource: "ephemeralcontainers", Namespace: "ns1", Name: "p", Object: boundTo("n1"), OldObject: boundTo("n1"), User: n1}, false},
		{"admin adds ephemeral containers", Request{Operation: Update, Resource: podsRes, Subresource: "ephemeralcontainers", Namespace: "ns1", Name: "p", Object: boundTo("n1"), OldObject: boundTo("n1"), User: admin}, true},
		{"create an ordinary pod", Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "p", Object: boundTo("n1"), User: n1}, false},
		{"create own mirror pod", Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "p", Object: mirror("n1", "n1"), User: n1}, true},
		{"create mirror pod without owner", Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "p", Object: mirror("n1", ""), User: n1}, true},
		{"create mirror pod for another node", Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "p", Object: mirror("n2", ""), User: n1}, false},
		{"create mirror pod owned by another node", Request{Operation: Create, Resource: podsRes, Namespace: "ns1", Name: "p", Object: mirror("n1", "n2"), User: n1}, false},

		{"own lease", Request{Operation: Update, Resource: leasesRes, Namespace: "kube-node-lease", Name: "n1", User: n1}, true},
		{"another node's lease", Request{Operation: Update, Resource: leasesRes, Namespace: "kube-node-lease", Name: "n2", User: n1}, false},
		{"delete another node's lease", Request{Operation: Delete, Resource: leasesRes, Namespace: "kube-node-lease", Name: "n2", User: n1}, false},
		{"lease elsewhere", Request{Operation: Create, Resource: leasesRes, Namespace: "ns1", Name: "n2", User: n1}, true},
		{"config maps are RBAC's business", Request{Operation: Create, Resource: configMapsRes, Namespace: "ns1", Name: "c", User: n1}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := NodeRestriction{}.Admit(context.Background(), &tc.req)
			if tc.allowed && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.allowed && !apierrors.IsForbidden(err) {
				t.Fatalf("err = %v, want Forbidden", err)
			}
		})
	}
}

package admission

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"tug/internal/auth"
)

// nodeRestrictionLabelPrefix marks labels a node may not give itself: they are
// for the cluster's administrators to steer workloads with.
const nodeRestrictionLabelPrefix = "node-restriction.kubernetes.io/"

// NodeRestriction limits what a node's credential may write to what that node
// needs: its own Node object and status, its own Lease in kube-node-lease, the
// status of pods bound to it, deleting and evicting those pods, and mirror pods
// of its static pods. RBAC gives every node the same verbs; this plugin narrows
// them to the node's own objects, so one compromised node cannot rewrite another.
type NodeRestriction struct{}

// nodeOf returns the node a user speaks for, if the user is a node.
func nodeOf(u *auth.User) (string, bool) {
	if u == nil || !u.InGroup(auth.GroupNodes) {
		return "", false
	}
	name, ok := strings.CutPrefix(u.Name, "system:node:")
	return name, ok && name != ""
}

// Admit implements Plugin.
func (NodeRestriction) Admit(_ context.Context, r *Request) error {
	node, ok := nodeOf(r.User)
	if !ok || r.Resource == nil {
		return nil
	}
	switch {
	case r.Resource.Group == "" && r.Resource.Resource == "nodes":
		return admitNodeWrite(node, r)
	case r.Resource.Group == "" && r.Resource.Resource == "pods":
		return admitPodWrite(node, r)
	case r.Resource.Group == "coordination.k8s.io" && r.Resource.Resource == "leases" && r.Namespace == corev1.NamespaceNodeLease:
		if r.Name != node {
			return forbid(r, fmt.Sprintf("node %q may only write its own lease (%s/%s)", node, corev1.NamespaceNodeLease, node))
		}
	}
	return nil
}

func forbid(r *Request, msg string) error {
	return apierrors.NewForbidden(schema.GroupResource{Group: r.Resource.Group, Resource: r.Resource.Resource}, r.Name, fmt.Errorf("%s", msg))
}

func admitNodeWrite(node string, r *Request) error {
	if r.Name != node {
		return forbid(r, fmt.Sprintf("node %q may not modify node %q", node, r.Name))
	}
	n, _ := r.Object.(*corev1.Node)
	switch r.Operation {
	case Create:
		if n != nil {
			if k := restrictedLabel(n.Labels, nil); k != "" {
				return forbid(r, fmt.Sprintf("node %q may not set the label %s on itself", node, k))
			}
		}
	case Update:
		old, _ := r.OldObject.(*corev1.Node)
		if n == nil || old == nil || r.Subresource != "" {
			return nil
		}
		// Taints are how the cluster keeps work off a node; a node does not lift
		// them from itself.
		if !equality.Semantic.DeepEqual(n.Spec.Taints, old.Spec.Taints) {
			return forbid(r, fmt.Sprintf("node %q may not modify its taints", node))
		}
		if k := restrictedLabel(n.Labels, old.Labels); k != "" {
			return forbid(r, fmt.Sprintf("node %q may not modify the label %s on itself", node, k))
		}
	}
	return nil
}

// restrictedLabel returns a node-restriction label that differs between labels and old.
func restrictedLabel(labels, old map[string]string) string {
	for k, v := range labels {
		if strings.HasPrefix(k, nodeRestrictionLabelPrefix) {
			if ov, ok := old[k]; !ok || ov != v {
				return k
			}
		}
	}
	for k := range old {
		if _, ok := labels[k]; !ok && strings.HasPrefix(k, nodeRestrictionLabelPrefix) {
			return k
		}
	}
	return ""
}

func admitPodWrite(node string, r *Request) error {
	podOf := func(o runtime.Object) *corev1.Pod { p, _ := o.(*corev1.Pod); return p }
	if r.Subresource == "ephemeralcontainers" {
		// Debug containers are a user's decision, even on the node's own pods.
		return forbid(r, fmt.Sprintf("node %q may not add or change ephemeral containers", node))
	}
	switch r.Operation {
	case Create:
		if r.Subresource != "" {
			return nil
		}
		p := podOf(r.Object)
		if p == nil {
			return nil
		}
		if _, mirror := p.Annotations[mirrorPodAnnotation]; !mirror {
			return forbid(r, fmt.Sprintf("node %q may only create mirror pods (with the %s annotation)", node, mirrorPodAnnotation))
		}
		if p.Spec.NodeName != node {
			return forbid(r, fmt.Sprintf("node %q may only create mirror pods bound to itself", node))
		}
		for _, ref := range p.OwnerReferences {
			if ref.Kind != "Node" || ref.Name != node {
				return forbid(r, fmt.Sprintf("node %q may only create mirror pods owned by its own Node", node))
			}
		}
		return nil
	case Update, Delete:
		p := podOf(r.OldObject)
		if p == nil {
			p = podOf(r.Object)
		}
		if p == nil {
			return nil
		}
		if p.Spec.NodeName != node {
			verb := "modify"
			switch {
			case r.Subresource == "eviction":
				verb = "evict"
			case r.Operation == Delete:
				verb = "delete"
			}
			return forbid(r, fmt.Sprintf("node %q may only %s pods bound to itself; this one is bound to %q", node, verb, p.Spec.NodeName))
		}
	}
	return nil
}

package registry

import (
	"context"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Labels that give a node its roles in `kubectl get nodes`.
const (
	nodeRolePrefix = "node-role.kubernetes.io/"
	nodeRoleLabel  = "kubernetes.io/role"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "nodes", Kind: "Node",
		ShortNames: []string{"no"},
		New:        func() runtime.Object { return &corev1.Node{} },
		NewList:    func() runtime.Object { return &corev1.NodeList{} },
		Status:     true,
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": strconv.FormatBool(obj.(*corev1.Node).Spec.Unschedulable)}
		},
		Strategy: Strategy{
			// Node agents register their node with its status filled in.
			StatusOnCreate: true,
			Default: func(obj runtime.Object) {
				n := obj.(*corev1.Node)
				if n.Status.Allocatable == nil && n.Status.Capacity != nil {
					n.Status.Allocatable = n.Status.Capacity.DeepCopy()
				}
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateNode(obj.(*corev1.Node))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				return validateNodeUpdate(obj.(*corev1.Node), old.(*corev1.Node))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n := obj.(*corev1.Node)
				return validateNodeStatus(&n.Status, field.NewPath("status"))
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the node."},
			{Name: "Status", Type: "string", Description: "Ready, NotReady or Unknown (from the Ready condition), and SchedulingDisabled when cordoned."},
			{Name: "Roles", Type: "string", Description: "Roles from the node-role.kubernetes.io/<role> labels."},
			{Name: "Age", Type: "string", Description: "Time since the node registered."},
			{Name: "Version", Type: "string", Description: "Version of the node agent."},
			{Name: "Internal-IP", Type: "string", Priority: 1, Description: "The node's internal address."},
			{Name: "External-IP", Type: "string", Priority: 1, Description: "The node's external address."},
			{Name: "OS-Image", Type: "string", Priority: 1, Description: "Operating system of the node."},
			{Name: "Kernel-Version", Type: "string", Priority: 1, Description: "Kernel of the node."},
			{Name: "Container-Runtime", Type: "string", Priority: 1, Description: "Container runtime and its version."},
		},
		Row: func(obj runtime.Object) []interface{} { return nodeRow(obj.(*corev1.Node)) },
	})
}

func validateNode(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	errs = append(errs, checkTaints(n.Spec.Taints, sp.Child("taints"))...)
	if n.Spec.PodCIDR != "" {
		errs = append(errs, validation.IsValidCIDR(sp.Child("podCIDR"), n.Spec.PodCIDR)...)
	}
	for i, c := range n.Spec.PodCIDRs {
		errs = append(errs, validation.IsValidCIDR(sp.Child("podCIDRs").Index(i), c)...)
	}
	if len(n.Spec.PodCIDRs) > 0 && n.Spec.PodCIDR != "" && n.Spec.PodCIDR != n.Spec.PodCIDRs[0] {
		errs = append(errs, field.Invalid(sp.Child("podCIDR"), n.Spec.PodCIDR, "must match the first entry of spec.podCIDRs"))
	}
	if len(n.Spec.PodCIDRs) > 2 {
		errs = append(errs, field.Invalid(sp.Child("podCIDRs"), n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
	}
	return append(errs, validateNodeStatus(&n.Status, field.NewPath("status"))...)
}

var taintEffects = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}

func checkTaints(taints []corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, t := range taints {
		tp := p.Index(i)
		if t.Key == "" {
			errs = append(errs, field.Required(tp.Child("key"), ""))
		} else {
			errs = append(errs, checkQualifiedName(tp.Child("key"), t.Key)...)
		}
		errs = append(errs, checkLabelValue(tp.Child("value"), t.Value)...)
		errs = append(errs, checkEnum(tp.Child("effect"), t.Effect, taintEffects...)...)
		key := t.Key + ":" + string(t.Effect)
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(tp, "taints must be unique by key and effect pair"))
		}
		seen.Insert(key)
	}
	return errs
}

func validateNodeUpdate(n, o *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	// The pod ranges and the provider ID are set once, then fixed.
	if o.Spec.PodCIDR != "" && n.Spec.PodCIDR != o.Spec.PodCIDR {
		errs = append(errs, field.Forbidden(sp.Child("podCIDR"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if len(o.Spec.PodCIDRs) > 0 && strings.Join(n.Spec.PodCIDRs, ",") != strings.Join(o.Spec.PodCIDRs, ",") {
		errs = append(errs, field.Forbidden(sp.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if o.Spec.ProviderID != "" && n.Spec.ProviderID != o.Spec.ProviderID {
		errs = append(errs, field.Forbidden(sp.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return errs
}

var nodeAddressTypes = []corev1.NodeAddressType{corev1.NodeHostName, corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeInternalDNS, corev1.NodeExternalDNS}

func validateNodeStatus(st *corev1.NodeStatus, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, a := range st.Addresses {
		ap := p.Child("addresses").Index(i)
		errs = append(errs, checkEnum(ap.Child("type"), a.Type, nodeAddressTypes...)...)
		if a.Address == "" {
			errs = append(errs, field.Required(ap.Child("address"), ""))
		} else if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
			errs = append(errs, validation.IsValidIP(ap.Child("address"), a.Address)...)
		}
	}
	for _, l := range []struct {
		name string
		list corev1.ResourceList
	}{{"capacity", st.Capacity}, {"allocatable", st.Allocatable}} {
		for _, n := range SortedResourceNames(l.list) {
			errs = append(errs, checkQuantityNonNegative(p.Child(l.name).Key(string(n)), l.list[n])...)
		}
	}
	return errs
}

// nodeRow: Name, Status, Roles, Age, Version, Internal-IP, External-IP, OS-Image,
// Kernel-Version, Container-Runtime.
func nodeRow(n *corev1.Node) []interface{} {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			} else {
				status = "NotReady"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	info := n.Status.NodeInfo
	unknown := func(s string) string {
		if s == "" {
			return "<unknown>"
		}
		return s
	}
	return []interface{}{
		n.Name, status, extNone(strings.Join(nodeRoles(n.Labels), ",")), Age(n.CreationTimestamp), info.KubeletVersion,
		extNone(nodeAddress(n, corev1.NodeInternalIP)), extNone(nodeAddress(n, corev1.NodeExternalIP)),
		unknown(info.OSImage), unknown(info.KernelVersion), unknown(info.ContainerRuntimeVersion),
	}
}

// nodeRoles lists the roles a node's labels give it, sorted.
func nodeRoles(l map[string]string) []string {
	roles := sets.New[string]()
	for k, v := range l {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix):
			if r := strings.TrimPrefix(k, nodeRolePrefix); r != "" {
				roles.Insert(r)
			}
		case k == nodeRoleLabel && v != "":
			roles.Insert(v)
		}
	}
	out := sets.List(roles)
	sort.Strings(out)
	return out
}

func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return ""
}

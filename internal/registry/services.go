package registry

import (
	"context"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Services is the core/v1 services resource; the server sets its Allocate and
// Release (cluster IPs and node ports) when it starts.
var Services = &Resource{
	Group: "", Version: "v1", Resource: "services", Kind: "Service", Namespaced: true,
	ShortNames: []string{"svc"},
	Categories: []string{"all"},
	New:        func() runtime.Object { return &corev1.Service{} },
	NewList:    func() runtime.Object { return &corev1.ServiceList{} },
	Status:     true,
	// Services have no deletecollection.
	Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"},
	Fields: func(obj runtime.Object) fields.Set {
		s := obj.(*corev1.Service)
		return fields.Set{"spec.clusterIP": s.Spec.ClusterIP, "spec.type": string(s.Spec.Type)}
	},
	Strategy: Strategy{
		NameFunc: apivalidation.NameIsDNS1035Label,
		Default:  func(obj runtime.Object) { defaultService(obj.(*corev1.Service)) },
		PrepareForUpdate: func(_ context.Context, obj, old runtime.Object) {
			keepAllocations(obj.(*corev1.Service), old.(*corev1.Service))
		},
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateService(obj.(*corev1.Service))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateServiceUpdate(obj.(*corev1.Service), old.(*corev1.Service))
		},
		ValidateStatusUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateLoadBalancerStatus(&obj.(*corev1.Service).Status.LoadBalancer, field.NewPath("status", "loadBalancer"))
		},
	},
	Columns: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "Name of the service."},
		{Name: "Type", Type: "string", Description: "ClusterIP, NodePort, LoadBalancer or ExternalName."},
		{Name: "Cluster-IP", Type: "string", Description: "The virtual IP inside the cluster."},
		{Name: "External-IP", Type: "string", Description: "Addresses outside the cluster: external IPs, load balancer ingress, or the external name."},
		{Name: "Port(s)", Type: "string", Description: "Ports served, with the node port after a colon."},
		{Name: "Age", Type: "string", Description: "Time since the service was created."},
		{Name: "Selector", Type: "string", Priority: 1, Description: "Labels of the pods the service sends traffic to."},
	},
	Row: func(obj runtime.Object) []interface{} { return serviceRow(obj.(*corev1.Service)) },
}

func init() { register(Services) }

// ServiceNeedsClusterIP: every service but ExternalName and headless ones.
func ServiceNeedsClusterIP(s *corev1.Service) bool {
	return s.Spec.Type != corev1.ServiceTypeExternalName && s.Spec.ClusterIP != corev1.ClusterIPNone
}

// ServiceNeedsNodePorts: NodePort services, and load balancers unless they opted out.
func ServiceNeedsNodePorts(s *corev1.Service) bool {
	switch s.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return s.Spec.AllocateLoadBalancerNodePorts == nil || *s.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

// ServiceNeedsHealthCheckPort: load balancers that keep traffic on the local node.
func ServiceNeedsHealthCheckPort(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

const defaultAffinityTimeout int32 = 10800

func defaultService(s *corev1.Service) {
	sp := &s.Spec
	if sp.Type == "" {
		sp.Type = corev1.ServiceTypeClusterIP
	}
	if sp.SessionAffinity == "" {
		sp.SessionAffinity = corev1.ServiceAffinityNone
	}
	if sp.SessionAffinity == corev1.ServiceAffinityNone {
		sp.SessionAffinityConfig = nil
	} else if sp.SessionAffinity == corev1.ServiceAffinityClientIP {
		if sp.SessionAffinityConfig == nil {
			sp.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}
		if sp.SessionAffinityConfig.ClientIP == nil {
			sp.SessionAffinityConfig.ClientIP = &corev1.ClientIPConfig{}
		}
		if sp.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			t := defaultAffinityTimeout
			sp.SessionAffinityConfig.ClientIP.TimeoutSeconds = &t
		}
	}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == (intstr.IntOrString{}) {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if sp.Type == corev1.ServiceTypeExternalName {
		return
	}
	if sp.ClusterIP == "" && len(sp.ClusterIPs) > 0 {
		sp.ClusterIP = sp.ClusterIPs[0]
	}
	if sp.ClusterIP != "" && len(sp.ClusterIPs) == 0 {
		sp.ClusterIPs = []string{sp.ClusterIP}
	}
	if sp.InternalTrafficPolicy == nil {
		p := corev1.ServiceInternalTrafficPolicyCluster
		sp.InternalTrafficPolicy = &p
	}
	if (sp.Type == corev1.ServiceTypeNodePort || sp.Type == corev1.ServiceTypeLoadBalancer) && sp.ExternalTrafficPolicy == "" {
		sp.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if sp.Type == corev1.ServiceTypeLoadBalancer && sp.AllocateLoadBalancerNodePorts == nil {
		t := true
		sp.AllocateLoadBalancerNodePorts = &t
	}
	// This cluster is single-stack IPv4.
	if sp.IPFamilyPolicy == nil {
		p := corev1.IPFamilyPolicySingleStack
		sp.IPFamilyPolicy = &p
	}
	if len(sp.IPFamilies) == 0 {
		sp.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		if sp.ClusterIP != "" && sp.ClusterIP != corev1.ClusterIPNone {
			if ip := net.ParseIP(sp.ClusterIP); ip != nil && ip.To4() == nil {
				sp.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
			}
		}
	}
}

// keepAllocations carries the cluster IP and node ports over an update that leaves
// them out (a PUT of a manifest without them), and drops what the new type no
// longer uses.
func keepAllocations(n, o *corev1.Service) {
	ns, os := &n.Spec, &o.Spec
	if ServiceNeedsClusterIP(n) && ServiceNeedsClusterIP(o) && ns.ClusterIP == "" && len(ns.ClusterIPs) == 0 {
		ns.ClusterIP, ns.ClusterIPs = os.ClusterIP, append([]string(nil), os.ClusterIPs...)
	}
	if n.Spec.Type == corev1.ServiceTypeExternalName && o.Spec.Type != corev1.ServiceTypeExternalName {
		// Becoming an external name: no virtual IP any more.
		if ns.ClusterIP == os.ClusterIP {
			ns.ClusterIP, ns.ClusterIPs = "", nil
		}
		ns.IPFamilies, ns.IPFamilyPolicy, ns.InternalTrafficPolicy = nil, nil, nil
	}
	if ServiceNeedsNodePorts(n) && ServiceNeedsNodePorts(o) {
		for i := range ns.Ports {
			np := &ns.Ports[i]
			if np.NodePort != 0 {
				continue
			}
			for _, op := range os.Ports {
				if op.Port == np.Port && op.Protocol == np.Protocol {
					np.NodePort = op.NodePort
					break
				}
			}
		}
	}
	if !ServiceNeedsNodePorts(n) && ServiceNeedsNodePorts(o) {
		for i := range ns.Ports {
			if i < len(os.Ports) && ns.Ports[i].NodePort == os.Ports[i].NodePort {
				ns.Ports[i].NodePort = 0
			}
		}
	}
	if ServiceNeedsHealthCheckPort(n) && ServiceNeedsHealthCheckPort(o) && ns.HealthCheckNodePort == 0 {
		ns.HealthCheckNodePort = os.HealthCheckNodePort
	}
	if !ServiceNeedsHealthCheckPort(n) && ns.HealthCheckNodePort == os.HealthCheckNodePort {
		ns.HealthCheckNodePort = 0
	}
	if n.Spec.Type != corev1.ServiceTypeNodePort && n.Spec.Type != corev1.ServiceTypeLoadBalancer &&
		ns.ExternalTrafficPolicy == os.ExternalTrafficPolicy {
		ns.ExternalTrafficPolicy = ""
	}
}

var serviceTypes = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName}

func validateService(s *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	spec := &s.Spec
	errs = append(errs, checkEnum(sp.Child("type"), spec.Type, serviceTypes...)...)
	headless := spec.ClusterIP == corev1.ClusterIPNone
	external := spec.Type == corev1.ServiceTypeExternalName

	if external {
		if spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(sp.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		if len(spec.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(sp.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if spec.ExternalName == "" {
			errs = append(errs, field.Required(sp.Child("externalName"), ""))
		} else {
			name := strings.TrimSuffix(spec.ExternalName, ".")
			errs = append(errs, invalidEach(sp.Child("externalName"), spec.ExternalName, validation.IsDNS1123Subdomain(name))...)
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(sp.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(sp.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
	} else {
		errs = append(errs, checkClusterIPs(spec, sp)...)
	}

	if len(spec.Ports) == 0 && !headless && !external {
		errs = append(errs, field.Required(sp.Child("ports"), ""))
	}
	errs = append(errs, checkServicePorts(spec, sp.Child("ports"))...)

	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabels(spec.Selector, sp.Child("selector"))...)
	}
	errs = append(errs, checkEnum(sp.Child("sessionAffinity"), spec.SessionAffinity, corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone)...)
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		if c := spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > 86400 {
				errs = append(errs, field.Invalid(sp.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t, "must be greater than 0 and less than 86400"))
			}
		}
	} else if spec.SessionAffinityConfig != nil {
		errs = append(errs, field.Invalid(sp.Child("sessionAffinityConfig"), spec.SessionAffinityConfig,
			fmt.Sprintf("must not be set when session affinity is %s", spec.SessionAffinity)))
	}
	for i, ip := range spec.ExternalIPs {
		ipp := sp.Child("externalIPs").Index(i)
		errs = append(errs, checkIP(ipp, ip)...)
	}

	nodeTraffic := spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer
	if spec.ExternalTrafficPolicy != "" {
		if !nodeTraffic {
			errs = append(errs, field.Invalid(sp.Child("externalTrafficPolicy"), spec.ExternalTrafficPolicy,
				"may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
		} else {
			errs = append(errs, checkEnum(sp.Child("externalTrafficPolicy"), spec.ExternalTrafficPolicy,
				corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)...)
		}
	} else if nodeTraffic {
		errs = append(errs, field.Required(sp.Child("externalTrafficPolicy"), ""))
	}
	if spec.InternalTrafficPolicy != nil {
		errs = append(errs, checkEnum(sp.Child("internalTrafficPolicy"), *spec.InternalTrafficPolicy,
			corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)...)
	}
	if spec.HealthCheckNodePort != 0 {
		hp := sp.Child("healthCheckNodePort")
		if !ServiceNeedsHealthCheckPort(s) {
			errs = append(errs, field.Invalid(hp, spec.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		} else {
			errs = append(errs, checkPortNumber(hp, spec.HealthCheckNodePort)...)
		}
	}
	if spec.Type != corev1.ServiceTypeLoadBalancer {
		if len(spec.LoadBalancerSourceRanges) > 0 {
			errs = append(errs, field.Forbidden(sp.Child("loadBalancerSourceRanges"), "may only be used when `type` is 'LoadBalancer'"))
		}
		if spec.LoadBalancerIP != "" {
			errs = append(errs, field.Forbidden(sp.Child("loadBalancerIP"), "may only be used when `type` is 'LoadBalancer'"))
		}
		if spec.LoadBalancerClass != nil {
			errs = append(errs, field.Forbidden(sp.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		}
		if spec.AllocateLoadBalancerNodePorts != nil {
			errs = append(errs, field.Forbidden(sp.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
		}
	} else {
		for i, r := range spec.LoadBalancerSourceRanges {
			errs = append(errs, validation.IsValidCIDR(sp.Child("loadBalancerSourceRanges").Index(i), strings.TrimSpace(r))...)
		}
		if spec.LoadBalancerIP != "" {
			errs = append(errs, validation.IsValidIP(sp.Child("loadBalancerIP"), spec.LoadBalancerIP)...)
		}
		if spec.LoadBalancerClass != nil {
			errs = append(errs, checkQualifiedName(sp.Child("loadBalancerClass"), *spec.LoadBalancerClass)...)
		}
	}
	return errs
}

// checkClusterIPs: "None" for headless services, else IPs (filled in by the
// allocator when empty); the two fields must agree. This cluster is IPv4 only.
func checkClusterIPs(spec *corev1.ServiceSpec, sp *field.Path) field.ErrorList {
	var errs field.ErrorList
	cp := sp.Child("clusterIPs")
	if len(spec.ClusterIPs) > 0 && spec.ClusterIP != spec.ClusterIPs[0] {
		errs = append(errs, field.Invalid(cp, spec.ClusterIPs, "first value must match `clusterIP`"))
	}
	if len(spec.ClusterIPs) > 1 {
		errs = append(errs, field.Invalid(cp, spec.ClusterIPs, "may not have more than one IP: this cluster is not configured for dual-stack services"))
	}
	if spec.ClusterIP != "" && spec.ClusterIP != corev1.ClusterIPNone {
		if net.ParseIP(spec.ClusterIP) == nil {
			errs = append(errs, field.Invalid(cp.Index(0), spec.ClusterIP, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
		}
	}
	if spec.IPFamilyPolicy != nil {
		pp := sp.Child("ipFamilyPolicy")
		errs = append(errs, checkEnum(pp, *spec.IPFamilyPolicy,
			corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack)...)
		if *spec.IPFamilyPolicy == corev1.IPFamilyPolicyRequireDualStack {
			errs = append(errs, field.Invalid(pp, *spec.IPFamilyPolicy, "this cluster is not configured for dual-stack services"))
		}
	}
	fams := sets.New[corev1.IPFamily]()
	for i, f := range spec.IPFamilies {
		fp := sp.Child("ipFamilies").Index(i)
		errs = append(errs, checkEnum(fp, f, corev1.IPv4Protocol, corev1.IPv6Protocol)...)
		if f == corev1.IPv6Protocol {
			errs = append(errs, field.Invalid(fp, f, "not configured on this cluster"))
		}
		if fams.Has(f) {
			errs = append(errs, field.Duplicate(fp, f))
		}
		fams.Insert(f)
	}
	return errs
}

func checkServicePorts(spec *corev1.ServiceSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	seen := sets.New[string]()
	nodePorts := map[int32]corev1.Protocol{}
	for i, port := range spec.Ports {
		pp := p.Index(i)
		switch {
		case port.Name == "" && len(spec.Ports) > 1:
			errs = append(errs, field.Required(pp.Child("name"), ""))
		case port.Name != "":
			errs = append(errs, invalidEach(pp.Child("name"), port.Name, validation.IsDNS1123Label(port.Name))...)
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		errs = append(errs, checkPortNumber(pp.Child("port"), port.Port)...)
		errs = append(errs, checkEnum(pp.Child("protocol"), port.Protocol, protocols...)...)
		if spec.Type != corev1.ServiceTypeExternalName || port.TargetPort != (intstr.IntOrString{}) {
			errs = append(errs, checkPortRef(pp.Child("targetPort"), port.TargetPort)...)
		}
		if port.AppProtocol != nil {
			errs = append(errs, checkQualifiedName(pp.Child("appProtocol"), *port.AppProtocol)...)
		}
		key := fmt.Sprintf("%d/%s", port.Port, port.Protocol)
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(pp, corev1.ServicePort{Port: port.Port, Protocol: port.Protocol}))
		}
		seen.Insert(key)
		if port.NodePort == 0 {
			continue
		}
		np := pp.Child("nodePort")
		if spec.Type == corev1.ServiceTypeClusterIP || spec.Type == corev1.ServiceTypeExternalName {
			errs = append(errs, field.Forbidden(np, fmt.Sprintf("may not be used when `type` is '%s'", spec.Type)))
			continue
		}
		errs = append(errs, checkPortNumber(np, port.NodePort)...)
		// One node port may serve a port number over two protocols, not twice over one.
		if prev, ok := nodePorts[port.NodePort]; ok && prev == port.Protocol {
			errs = append(errs, field.Duplicate(np, port.NodePort))
		}
		nodePorts[port.NodePort] = port.Protocol
	}
	return errs
}

func validateServiceUpdate(n, o *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	// The virtual IP stays for the life of the service, unless the service moves
	// to or from ExternalName (which has none).
	if o.Spec.Type != corev1.ServiceTypeExternalName && n.Spec.Type != corev1.ServiceTypeExternalName && o.Spec.ClusterIP != "" {
		if n.Spec.ClusterIP != o.Spec.ClusterIP {
			errs = append(errs, field.Invalid(sp.Child("clusterIP"), n.Spec.ClusterIP, "field is immutable"))
		} else if strings.Join(n.Spec.ClusterIPs, ",") != strings.Join(o.Spec.ClusterIPs, ",") {
			errs = append(errs, field.Invalid(sp.Child("clusterIPs").Index(0), n.Spec.ClusterIPs, "may not change once set"))
		}
	}
	return errs
}

func validateLoadBalancerStatus(st *corev1.LoadBalancerStatus, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, in := range st.Ingress {
		ip := p.Child("ingress").Index(i)
		if in.IP != "" {
			errs = append(errs, validation.IsValidIP(ip.Child("ip"), in.IP)...)
		}
		if in.Hostname != "" {
			errs = append(errs, invalidEach(ip.Child("hostname"), in.Hostname, validation.IsDNS1123Subdomain(in.Hostname))...)
			if net.ParseIP(in.Hostname) != nil {
				errs = append(errs, field.Invalid(ip.Child("hostname"), in.Hostname, "must be a DNS name, not an IP address"))
			}
		}
		if in.IPMode != nil {
			errs = append(errs, checkEnum(ip.Child("ipMode"), *in.IPMode, corev1.LoadBalancerIPModeVIP, corev1.LoadBalancerIPModeProxy)...)
		}
	}
	return errs
}

// serviceRow: Name, Type, Cluster-IP, External-IP, Port(s), Age, Selector.
func serviceRow(s *corev1.Service) []interface{} {
	clusterIP := "<none>"
	if len(s.Spec.ClusterIPs) > 0 {
		clusterIP = s.Spec.ClusterIPs[0]
	}
	var ports []string
	for _, p := range s.Spec.Ports {
		if p.NodePort > 0 {
			ports = append(ports, fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol))
		} else {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		}
	}
	return []interface{}{
		s.Name, string(s.Spec.Type), clusterIP, serviceExternalIP(s), extNone(strings.Join(ports, ",")),
		Age(s.CreationTimestamp), labels.FormatLabels(s.Spec.Selector),
	}
}

func serviceExternalIP(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return extNone(strings.Join(s.Spec.ExternalIPs, ","))
	case corev1.ServiceTypeLoadBalancer:
		var out []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				out = append(out, in.IP)
			} else if in.Hostname != "" {
				out = append(out, in.Hostname)
			}
		}
		out = append(out, s.Spec.ExternalIPs...)
		if len(out) == 0 {
			return "<pending>"
		}
		return strings.Join(out, ",")
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	}
	return "<unknown>"
}

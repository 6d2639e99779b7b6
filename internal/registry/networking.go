package registry

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// IngressClassDefaultAnnotation marks the IngressClass used by Ingresses that name none.
const IngressClassDefaultAnnotation = "ingressclass.kubernetes.io/is-default-class"

func init() {
	register(&Resource{
		Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies", Kind: "NetworkPolicy", Namespaced: true,
		ShortNames: []string{"netpol"},
		New:        func() runtime.Object { return &networkingv1.NetworkPolicy{} },
		NewList:    func() runtime.Object { return &networkingv1.NetworkPolicyList{} },
		Generation: true,
		Strategy: Strategy{
			Default: func(obj runtime.Object) { defaultNetworkPolicy(obj.(*networkingv1.NetworkPolicy)) },
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateNetworkPolicy(obj.(*networkingv1.NetworkPolicy))
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("network policy"),
			{Name: "Pod-Selector", Type: "string", Description: "Pods the policy applies to."},
			extAgeColumn("network policy"),
		},
		Row: func(obj runtime.Object) []interface{} {
			np := obj.(*networkingv1.NetworkPolicy)
			return []interface{}{np.Name, extSelectorText(&np.Spec.PodSelector), Age(np.CreationTimestamp)}
		},
	}, &Resource{
		Group: "networking.k8s.io", Version: "v1", Resource: "ingresses", Kind: "Ingress", Namespaced: true,
		ShortNames: []string{"ing"},
		New:        func() runtime.Object { return &networkingv1.Ingress{} },
		NewList:    func() runtime.Object { return &networkingv1.IngressList{} },
		Status:     true,
		Generation: true,
		Strategy: Strategy{
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateIngress(obj.(*networkingv1.Ingress))
			},
			ValidateStatusUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
				var errs field.ErrorList
				p := field.NewPath("status", "loadBalancer", "ingress")
				for i, in := range obj.(*networkingv1.Ingress).Status.LoadBalancer.Ingress {
					if in.IP != "" {
						errs = append(errs, validation.IsValidIP(p.Index(i).Child("ip"), in.IP)...)
					}
					if in.Hostname != "" {
						for _, msg := range validation.IsDNS1123Subdomain(in.Hostname) {
							errs = append(errs, field.Invalid(p.Index(i).Child("hostname"), in.Hostname, msg))
						}
					}
				}
				return errs
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("ingress"),
			{Name: "Class", Type: "string", Description: "The IngressClass that implements it."},
			{Name: "Hosts", Type: "string", Description: "Hosts the rules match."},
			{Name: "Address", Type: "string", Description: "Addresses of the load balancer."},
			{Name: "Ports", Type: "string", Description: "Ports it serves."},
			extAgeColumn("ingress"),
		},
		Row: func(obj runtime.Object) []interface{} {
			in := obj.(*networkingv1.Ingress)
			class := "<none>"
			if in.Spec.IngressClassName != nil {
				class = *in.Spec.IngressClassName
			}
			ports := "80"
			if len(in.Spec.TLS) > 0 {
				ports = "80, 443"
			}
			return []interface{}{in.Name, class, ingressHosts(in.Spec.Rules), ingressAddress(in.Status.LoadBalancer), ports, Age(in.CreationTimestamp)}
		},
	}, &Resource{
		Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses", Kind: "IngressClass",
		New:        func() runtime.Object { return &networkingv1.IngressClass{} },
		NewList:    func() runtime.Object { return &networkingv1.IngressClassList{} },
		Generation: true,
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				if p := obj.(*networkingv1.IngressClass).Spec.Parameters; p != nil && p.Scope == nil {
					p.Scope = extPtr(networkingv1.IngressClassParametersReferenceScopeCluster)
				}
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateIngressClass(obj.(*networkingv1.IngressClass))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*networkingv1.IngressClass), old.(*networkingv1.IngressClass)
				return extImmutable(n.Spec.Controller, o.Spec.Controller, field.NewPath("spec", "controller"))
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("ingress class"),
			{Name: "Controller", Type: "string", Description: "The controller that implements the class."},
			{Name: "Parameters", Type: "string", Description: "The object holding the controller's parameters."},
			extAgeColumn("ingress class"),
		},
		Row: func(obj runtime.Object) []interface{} {
			ic := obj.(*networkingv1.IngressClass)
			params := "<none>"
			if p := ic.Spec.Parameters; p != nil {
				params = p.Kind
				if p.APIGroup != nil && *p.APIGroup != "" {
					params += "." + *p.APIGroup
				}
				params += "/" + p.Name
			}
			return []interface{}{ic.Name, ic.Spec.Controller, params, Age(ic.CreationTimestamp)}
		},
	})
}

// ingressHosts prints up to three rule hosts ("*" when no rule names one).
func ingressHosts(rules []networkingv1.IngressRule) string {
	const max = 3
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == max {
			more = true
			break
		}
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	s := strings.Join(hosts, ",")
	if more {
		s += fmt.Sprintf(" + %d more...", len(rules)-max)
	}
	return s
}

// ingressAddress prints the load balancer's addresses, cut to the width kubectl uses.
func ingressAddress(lb networkingv1.IngressLoadBalancerStatus) string {
	const width = 16
	seen := map[string]bool{}
	var addrs []string
	for _, in := range lb.Ingress {
		a := in.IP
		if a == "" {
			a = in.Hostname
		}
		if a != "" && !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	sort.Strings(addrs)
	s := strings.Join(addrs, ",")
	if len(s) > width {
		s = s[:width-3] + "..."
	}
	return s
}

func defaultNetworkPolicy(np *networkingv1.NetworkPolicy) {
	s := &np.Spec
	defaultPorts := func(ports []networkingv1.NetworkPolicyPort) {
		for i := range ports {
			if ports[i].Protocol == nil {
				ports[i].Protocol = extPtr(corev1.ProtocolTCP)
			}
		}
	}
	for i := range s.Ingress {
		defaultPorts(s.Ingress[i].Ports)
	}
	for i := range s.Egress {
		defaultPorts(s.Egress[i].Ports)
	}
	if len(s.PolicyTypes) == 0 {
		s.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(s.Egress) > 0 {
			s.PolicyTypes = append(s.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
}

var (
	policyTypes       = []string{string(networkingv1.PolicyTypeEgress), string(networkingv1.PolicyTypeIngress)}
	networkProtocols  = []string{string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}
	ingressPathTypes  = []string{string(networkingv1.PathTypeExact), string(networkingv1.PathTypeImplementationSpecific), string(networkingv1.PathTypePrefix)}
	ingressClassScope = []string{networkingv1.IngressClassParametersReferenceScopeCluster, networkingv1.IngressClassParametersReferenceScopeNamespace}
)

func validateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	s := &np.Spec
	p := field.NewPath("spec")
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs := metav1validation.ValidateLabelSelector(&s.PodSelector, opts, p.Child("podSelector"))
	for i, r := range s.Ingress {
		rp := p.Child("ingress").Index(i)
		errs = append(errs, validatePolicyPorts(r.Ports, rp.Child("ports"))...)
		for j, peer := range r.From {
			errs = append(errs, validatePolicyPeer(peer, rp.Child("from").Index(j))...)
		}
	}
	for i, r := range s.Egress {
		rp := p.Child("egress").Index(i)
		errs = append(errs, validatePolicyPorts(r.Ports, rp.Child("ports"))...)
		for j, peer := range r.To {
			errs = append(errs, validatePolicyPeer(peer, rp.Child("to").Index(j))...)
		}
	}
	if len(s.PolicyTypes) > 2 {
		errs = append(errs, field.TooMany(p.Child("policyTypes"), len(s.PolicyTypes), 2))
	}
	for i, t := range s.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(p.Child("policyTypes").Index(i), t, policyTypes))
		}
	}
	return errs
}

func validatePolicyPorts(ports []networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, port := range ports {
		pp := p.Index(i)
		if port.Protocol != nil {
			switch *port.Protocol {
			case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
			default:
				errs = append(errs, field.NotSupported(pp.Child("protocol"), *port.Protocol, networkProtocols))
			}
		}
		if port.Port != nil {
			if port.Port.Type == intstr.Int {
				for _, msg := range validation.IsValidPortNum(int(port.Port.IntVal)) {
					errs = append(errs, field.Invalid(pp.Child("port"), port.Port.IntVal, msg))
				}
			} else {
				for _, msg := range validation.IsValidPortName(port.Port.StrVal) {
					errs = append(errs, field.Invalid(pp.Child("port"), port.Port.StrVal, msg))
				}
			}
		}
		if port.EndPort != nil {
			ep := pp.Child("endPort")
			switch {
			case port.Port == nil:
				errs = append(errs, field.Required(pp.Child("port"), "must be specified when endPort is specified"))
			case port.Port.Type == intstr.String:
				errs = append(errs, field.Forbidden(ep, "may not be specified when port is a named port"))
			case *port.EndPort < port.Port.IntVal:
				errs = append(errs, field.Invalid(ep, *port.EndPort, "must be greater than or equal to port"))
			}
			for _, msg := range validation.IsValidPortNum(int(*port.EndPort)) {
				errs = append(errs, field.Invalid(ep, *port.EndPort, msg))
			}
		}
	}
	return errs
}

func validatePolicyPeer(peer networkingv1.NetworkPolicyPeer, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.PodSelector, opts, p.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.NamespaceSelector, opts, p.Child("namespaceSelector"))...)
	}
	if b := peer.IPBlock; b != nil {
		if n > 0 {
			errs = append(errs, field.Forbidden(p, "may not specify both ipBlock and another peer"))
		}
		n++
		errs = append(errs, validateIPBlock(b, p.Child("ipBlock"))...)
	}
	if n == 0 {
		errs = append(errs, field.Required(p, "must specify a peer"))
	}
	return errs
}

func validateIPBlock(b *networkingv1.IPBlock, p *field.Path) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(p.Child("cidr"), "")}
	}
	errs := validation.IsValidCIDR(p.Child("cidr"), b.CIDR)
	cidr, err := netip.ParsePrefix(b.CIDR)
	for i, e := range b.Except {
		ep := p.Child("except").Index(i)
		ex, eerr := netip.ParsePrefix(e)
		if eerr != nil {
			errs = append(errs, validation.IsValidCIDR(ep, e)...)
			continue
		}
		if err == nil && (ex.Bits() <= cidr.Bits() || !cidr.Contains(ex.Addr())) {
			errs = append(errs, field.Invalid(ep, e, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}

func validateIngress(in *networkingv1.Ingress) field.ErrorList {
	s := &in.Spec
	p := field.NewPath("spec")
	var errs field.ErrorList
	if s.DefaultBackend == nil && len(s.Rules) == 0 {
		errs = append(errs, field.Invalid(p, "rules", "either `defaultBackend` or `rules` must be specified"))
	}
	if s.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(s.DefaultBackend, p.Child("defaultBackend"))...)
	}
	if s.IngressClassName != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*s.IngressClassName, false) {
			errs = append(errs, field.Invalid(p.Child("ingressClassName"), *s.IngressClassName, msg))
		}
	}
	for i, r := range s.Rules {
		rp := p.Child("rules").Index(i)
		if r.Host != "" {
			errs = append(errs, validateIngressHost(r.Host, rp.Child("host"))...)
		}
		if r.HTTP == nil {
			continue
		}
		pp := rp.Child("http", "paths")
		if len(r.HTTP.Paths) == 0 {
			errs = append(errs, field.Required(pp, ""))
		}
		for j, hp := range r.HTTP.Paths {
			errs = append(errs, validateIngressPath(hp, pp.Index(j))...)
		}
	}
	for i, t := range s.TLS {
		tp := p.Child("tls").Index(i)
		for j, h := range t.Hosts {
			errs = append(errs, validateIngressHost(h, tp.Child("hosts").Index(j))...)
		}
		if t.SecretName != "" {
			for _, msg := range apivalidation.NameIsDNSSubdomain(t.SecretName, false) {
				errs = append(errs, field.Invalid(tp.Child("secretName"), t.SecretName, msg))
			}
		}
	}
	return errs
}

func validateIngressHost(h string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, err := netip.ParseAddr(h); err == nil {
		return append(errs, field.Invalid(p, h, "must be a DNS name, not an IP address"))
	}
	msgs := validation.IsDNS1123Subdomain(h)
	if strings.HasPrefix(h, "*.") {
		msgs = validation.IsWildcardDNS1123Subdomain(h)
	}
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(p, h, msg))
	}
	return errs
}

func validateIngressPath(hp networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if hp.PathType == nil {
		errs = append(errs, field.Required(p.Child("pathType"), "pathType must be specified"))
	} else {
		switch *hp.PathType {
		case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
			if !strings.HasPrefix(hp.Path, "/") {
				errs = append(errs, field.Invalid(p.Child("path"), hp.Path, "must be an absolute path"))
			}
			for _, bad := range []string{"//", "/./", "/../", "%2f", "%2F"} {
				if strings.Contains(hp.Path, bad) {
					errs = append(errs, field.Invalid(p.Child("path"), hp.Path, fmt.Sprintf("must not contain '%s'", bad)))
				}
			}
			for _, bad := range []string{"/..", "/."} {
				if strings.HasSuffix(hp.Path, bad) {
					errs = append(errs, field.Invalid(p.Child("path"), hp.Path, fmt.Sprintf("cannot end with '%s'", bad)))
				}
			}
		case networkingv1.PathTypeImplementationSpecific:
			if hp.Path != "" && !strings.HasPrefix(hp.Path, "/") {
				errs = append(errs, field.Invalid(p.Child("path"), hp.Path, "must be an absolute path"))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("pathType"), *hp.PathType, ingressPathTypes))
		}
	}
	return append(errs, validateIngressBackend(&hp.Backend, p.Child("backend"))...)
}

func validateIngressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case b.Service != nil && b.Resource != nil:
		return append(errs, field.Invalid(p, "resource", "cannot set both resource and service backends"))
	case b.Resource != nil:
		if b.Resource.Kind == "" {
			errs = append(errs, field.Required(p.Child("resource", "kind"), ""))
		}
		if b.Resource.Name == "" {
			errs = append(errs, field.Required(p.Child("resource", "name"), ""))
		}
		return errs
	case b.Service == nil:
		return append(errs, field.Invalid(p, "", "resource or service backend is required"))
	}
	sp := p.Child("service")
	if b.Service.Name == "" {
		errs = append(errs, field.Required(sp.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1035Label(b.Service.Name) {
			errs = append(errs, field.Invalid(sp.Child("name"), b.Service.Name, msg))
		}
	}
	port := b.Service.Port
	pp := sp.Child("port")
	switch {
	case port.Name != "" && port.Number != 0:
		errs = append(errs, field.Invalid(pp, port.Name, "cannot set both port name & port number"))
	case port.Name != "":
		for _, msg := range validation.IsValidPortName(port.Name) {
			errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
		}
	case port.Number != 0:
		for _, msg := range validation.IsValidPortNum(int(port.Number)) {
			errs = append(errs, field.Invalid(pp.Child("number"), port.Number, msg))
		}
	default:
		errs = append(errs, field.Invalid(pp, port.Name, "port name or number is required"))
	}
	return errs
}

func validateIngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	cp := p.Child("controller")
	switch c := ic.Spec.Controller; {
	case c == "":
		errs = append(errs, field.Required(cp, ""))
	case len(c) > 250:
		errs = append(errs, field.TooLong(cp, "", 250))
	default:
		errs = append(errs, validation.IsDomainPrefixedPath(cp, c)...)
	}
	if r := ic.Spec.Parameters; r != nil {
		rp := p.Child("parameters")
		if r.Kind == "" {
			errs = append(errs, field.Required(rp.Child("kind"), ""))
		}
		if r.Name == "" {
			errs = append(errs, field.Required(rp.Child("name"), ""))
		}
		if r.APIGroup != nil && *r.APIGroup != "" {
			for _, msg := range validation.IsDNS1123Subdomain(*r.APIGroup) {
				errs = append(errs, field.Invalid(rp.Child("apiGroup"), *r.APIGroup, msg))
			}
		}
		if r.Scope != nil {
			switch *r.Scope {
			case networkingv1.IngressClassParametersReferenceScopeCluster:
				if r.Namespace != nil {
					errs = append(errs, field.Forbidden(rp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
				}
			case networkingv1.IngressClassParametersReferenceScopeNamespace:
				if r.Namespace == nil || *r.Namespace == "" {
					errs = append(errs, field.Required(rp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
				}
			default:
				errs = append(errs, field.NotSupported(rp.Child("scope"), *r.Scope, ingressClassScope))
			}
		}
	}
	return errs
}

package registry

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of one EndpointSlice.
const (
	maxSliceEndpoints = 1000
	maxSlicePorts     = 20000
	maxSliceAddresses = 100
)

func init() {
	register(&Resource{
		Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Kind: "EndpointSlice", Namespaced: true,
		New:        func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList:    func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Generation: true,
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				es := obj.(*discoveryv1.EndpointSlice)
				for i := range es.Ports {
					if es.Ports[i].Name == nil {
						es.Ports[i].Name = extPtr("")
					}
					if es.Ports[i].Protocol == nil {
						es.Ports[i].Protocol = extPtr(corev1.ProtocolTCP)
					}
				}
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateEndpointSlice(obj.(*discoveryv1.EndpointSlice))
			},
			ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
				n, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
				return extImmutable(n.AddressType, o.AddressType, field.NewPath("addressType"))
			},
		},
		Columns: []metav1.TableColumnDefinition{
			extNameColumn("endpoint slice"),
			{Name: "AddressType", Type: "string", Description: "Kind of the addresses: IPv4, IPv6 or FQDN."},
			{Name: "Ports", Type: "string", Description: "Ports of the slice."},
			{Name: "Endpoints", Type: "string", Description: "Addresses of the endpoints."},
			extAgeColumn("endpoint slice"),
		},
		Row: func(obj runtime.Object) []interface{} {
			es := obj.(*discoveryv1.EndpointSlice)
			return []interface{}{es.Name, string(es.AddressType), slicePortsText(es.Ports), sliceEndpointsText(es.Endpoints), Age(es.CreationTimestamp)}
		},
	})
}

func slicePortsText(ports []discoveryv1.EndpointPort) string {
	items := make([]string, 0, len(ports))
	for _, p := range ports {
		switch {
		case p.Port != nil:
			items = append(items, strconv.Itoa(int(*p.Port)))
		case p.Name != nil && *p.Name != "":
			items = append(items, *p.Name)
		default:
			items = append(items, "*")
		}
	}
	return extListWithMore(items, 3, ",", "<unset>")
}

func sliceEndpointsText(eps []discoveryv1.Endpoint) string {
	var items []string
	for _, e := range eps {
		items = append(items, e.Addresses...)
	}
	return extListWithMore(items, 3, ",", "<unset>")
}

var (
	sliceAddressTypes = []string{string(discoveryv1.AddressTypeIPv4), string(discoveryv1.AddressTypeIPv6), string(discoveryv1.AddressTypeFQDN)}
	sliceProtocols    = []string{string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}
)

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	ap := field.NewPath("addressType")
	switch es.AddressType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN:
	case "":
		errs = append(errs, field.Required(ap, ""))
	default:
		errs = append(errs, field.NotSupported(ap, es.AddressType, sliceAddressTypes))
	}
	ep := field.NewPath("endpoints")
	if len(es.Endpoints) > maxSliceEndpoints {
		errs = append(errs, field.TooMany(ep, len(es.Endpoints), maxSliceEndpoints))
	}
	for i, e := range es.Endpoints {
		p := ep.Index(i)
		if len(e.Addresses) == 0 {
			errs = append(errs, field.Required(p.Child("addresses"), "must contain at least 1 address"))
		} else if len(e.Addresses) > maxSliceAddresses {
			errs = append(errs, field.TooMany(p.Child("addresses"), len(e.Addresses), maxSliceAddresses))
		}
		for j, a := range e.Addresses {
			errs = append(errs, validateSliceAddress(es.AddressType, a, p.Child("addresses").Index(j))...)
		}
		if e.Hostname != nil {
			for _, msg := range validation.IsDNS1123Label(*e.Hostname) {
				errs = append(errs, field.Invalid(p.Child("hostname"), *e.Hostname, msg))
			}
		}
		if e.NodeName != nil {
			for _, msg := range apivalidation.NameIsDNSSubdomain(*e.NodeName, false) {
				errs = append(errs, field.Invalid(p.Child("nodeName"), *e.NodeName, msg))
			}
		}
	}
	pp := field.NewPath("ports")
	if len(es.Ports) > maxSlicePorts {
		errs = append(errs, field.TooMany(pp, len(es.Ports), maxSlicePorts))
	}
	names := sets.New[string]()
	for i, port := range es.Ports {
		p := pp.Index(i)
		if port.Name != nil && *port.Name != "" {
			for _, msg := range validation.IsDNS1123Label(*port.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), *port.Name, msg))
			}
		}
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names.Insert(name)
		if port.Protocol == nil {
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		} else {
			switch *port.Protocol {
			case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
			default:
				errs = append(errs, field.NotSupported(p.Child("protocol"), *port.Protocol, sliceProtocols))
			}
		}
		if port.Port != nil {
			for _, msg := range validation.IsInRange(int(*port.Port), 0, 65535) {
				errs = append(errs, field.Invalid(p.Child("port"), *port.Port, msg))
			}
		}
		if port.AppProtocol != nil {
			for _, msg := range validation.IsQualifiedName(*port.AppProtocol) {
				errs = append(errs, field.Invalid(p.Child("appProtocol"), *port.AppProtocol, msg))
			}
		}
	}
	return errs
}

func validateSliceAddress(t discoveryv1.AddressType, a string, p *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4:
		return validation.IsValidIPv4Address(p, a)
	case discoveryv1.AddressTypeIPv6:
		return validation.IsValidIPv6Address(p, a)
	case discoveryv1.AddressTypeFQDN:
		var errs field.ErrorList
		for _, msg := range validation.IsDNS1123Subdomain(a) {
			errs = append(errs, field.Invalid(p, a, msg))
		}
		return errs
	}
	return nil
}

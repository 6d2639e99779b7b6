package registry

import (
	"context"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(&Resource{
		Group: "", Version: "v1", Resource: "endpoints", Kind: "Endpoints", Namespaced: true,
		ShortNames: []string{"ep"},
		// The endpoints controller writes endpoints with PUT whether or not they exist.
		AllowCreateOnUpdate: true,
		New:                 func() runtime.Object { return &corev1.Endpoints{} },
		NewList:             func() runtime.Object { return &corev1.EndpointsList{} },
		Strategy: Strategy{
			Default: func(obj runtime.Object) {
				e := obj.(*corev1.Endpoints)
				for i := range e.Subsets {
					for j := range e.Subsets[i].Ports {
						if e.Subsets[i].Ports[j].Protocol == "" {
							e.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
						}
					}
				}
			},
			Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
				return validateEndpoints(obj.(*corev1.Endpoints))
			},
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the endpoints (that of its service)."},
			{Name: "Endpoints", Type: "string", Description: "Ready addresses with their ports, the first three of them."},
			{Name: "Age", Type: "string", Description: "Time since the endpoints were created."},
		},
		Row: func(obj runtime.Object) []interface{} {
			e := obj.(*corev1.Endpoints)
			return []interface{}{e.Name, endpointsCell(e), Age(e.CreationTimestamp)}
		},
	})
}

func validateEndpoints(e *corev1.Endpoints) field.ErrorList {
	var errs field.ErrorList
	for i, ss := range e.Subsets {
		sp := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(sp, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.Addresses {
			errs = append(errs, checkEndpointAddress(a, sp.Child("addresses").Index(j))...)
		}
		for j, a := range ss.NotReadyAddresses {
			errs = append(errs, checkEndpointAddress(a, sp.Child("notReadyAddresses").Index(j))...)
		}
		names := sets.New[string]()
		for j, p := range ss.Ports {
			pp := sp.Child("ports").Index(j)
			if len(ss.Ports) > 1 && p.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if p.Name != "" {
				errs = append(errs, checkDNSLabel(pp.Child("name"), p.Name)...)
				if names.Has(p.Name) {
					errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
				}
				names.Insert(p.Name)
			}
			errs = append(errs, checkPortNumber(pp.Child("port"), p.Port)...)
			errs = append(errs, checkEnum(pp.Child("protocol"), p.Protocol, protocols...)...)
			if p.AppProtocol != nil {
				errs = append(errs, checkQualifiedName(pp.Child("appProtocol"), *p.AppProtocol)...)
			}
		}
	}
	return errs
}

func checkEndpointAddress(a corev1.EndpointAddress, p *field.Path) field.ErrorList {
	errs := checkIP(p.Child("ip"), a.IP)
	if len(errs) == 0 {
		ip := net.ParseIP(a.IP)
		switch {
		case ip.IsUnspecified():
			errs = append(errs, field.Invalid(p.Child("ip"), a.IP, "may not be unspecified (0.0.0.0)"))
		case ip.IsLoopback():
			errs = append(errs, field.Invalid(p.Child("ip"), a.IP, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
		case ip.IsLinkLocalUnicast():
			errs = append(errs, field.Invalid(p.Child("ip"), a.IP, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
		case ip.IsLinkLocalMulticast():
			errs = append(errs, field.Invalid(p.Child("ip"), a.IP, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
		}
	}
	if a.Hostname != "" {
		errs = append(errs, checkDNSLabel(p.Child("hostname"), a.Hostname)...)
	}
	if a.NodeName != nil && *a.NodeName != "" {
		errs = append(errs, checkDNSSubdomain(p.Child("nodeName"), *a.NodeName)...)
	}
	return errs
}

// endpointsCell lists ready "ip:port" pairs (just IPs for a subset without ports),
// at most three, then how many more there are.
func endpointsCell(e *corev1.Endpoints) string {
	if len(e.Subsets) == 0 {
		return "<none>"
	}
	var list []string
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				list = append(list, a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	return extListWithMore(list, 3, ",", "")
}

package registry

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testService(mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80}},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func TestServiceDefaults(t *testing.T) {
	r := mustResource(t, "", "v1", "services")
	cases := []struct {
		name   string
		mutate func(*corev1.Service)
		check  func(t *testing.T, s *corev1.ServiceSpec)
	}{
		{"cluster IP", func(s *corev1.Service) {}, func(t *testing.T, s *corev1.ServiceSpec) {
			if s.Type != corev1.ServiceTypeClusterIP || s.SessionAffinity != corev1.ServiceAffinityNone ||
				s.Ports[0].Protocol != corev1.ProtocolTCP || s.Ports[0].TargetPort != intstr.FromInt32(80) ||
				*s.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack || len(s.IPFamilies) != 1 || s.IPFamilies[0] != corev1.IPv4Protocol ||
				*s.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyCluster || s.ExternalTrafficPolicy != "" {
				t.Errorf("spec %+v", s)
			}
		}},
		{"node port", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }, func(t *testing.T, s *corev1.ServiceSpec) {
			if s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || s.AllocateLoadBalancerNodePorts != nil {
				t.Errorf("spec %+v", s)
			}
		}},
		{"load balancer", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeLoadBalancer }, func(t *testing.T, s *corev1.ServiceSpec) {
			if s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || s.AllocateLoadBalancerNodePorts == nil || !*s.AllocateLoadBalancerNodePorts {
				t.Errorf("spec %+v", s)
			}
		}},
		{"client IP affinity", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP }, func(t *testing.T, s *corev1.ServiceSpec) {
			if *s.SessionAffinityConfig.ClientIP.TimeoutSeconds != 10800 {
				t.Errorf("spec %+v", s)
			}
		}},
		{"named target port kept", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("http") }, func(t *testing.T, s *corev1.ServiceSpec) {
			if s.Ports[0].TargetPort != intstr.FromString("http") {
				t.Errorf("targetPort %v", s.Ports[0].TargetPort)
			}
		}},
		{"external name", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.Ports = corev1.ServiceTypeExternalName, "example.com", nil
		}, func(t *testing.T, s *corev1.ServiceSpec) {
			if s.IPFamilyPolicy != nil || s.IPFamilies != nil || s.InternalTrafficPolicy != nil {
				t.Errorf("spec %+v", s)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testService(tc.mutate)
			checkErrs(t, simulateCreate(t, r, s), "")
			tc.check(t, &s.Spec)
		})
	}
}

func TestServiceValidation(t *testing.T) {
	r := mustResource(t, "", "v1", "services")
	cases := []struct {
		name   string
		mutate func(*corev1.Service)
		want   string
	}{
		{"valid", func(s *corev1.Service) {}, ""},
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, "spec.ports: Required value"},
		{"headless without ports", func(s *corev1.Service) { s.Spec.Ports, s.Spec.ClusterIP = nil, "None" }, ""},
		{"unnamed ports", func(s *corev1.Service) { s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "b", Port: 81}) },
			"spec.ports[0].name: Required value"},
		{"duplicate names", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "a", Port: 81}}
		}, `spec.ports[1].name: Duplicate value: "a"`},
		{"duplicate port", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 80}}
		}, "spec.ports[1]: Duplicate value"},
		{"port range", func(s *corev1.Service) { s.Spec.Ports[0].Port = 70000 }, "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"},
		{"target port name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("not_valid") }, `spec.ports[0].targetPort: Invalid value: "not_valid"`},
		{"type", func(s *corev1.Service) { s.Spec.Type = "Magic" }, `spec.type: Unsupported value: "Magic"`},
		{"node port on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30000 }, "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
		{"external name required", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }, "spec.externalName: Required value"},
		{"external name with IP", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.ClusterIP = corev1.ServiceTypeExternalName, "example.com", "10.96.0.5"
		}, "spec.clusterIP: Forbidden"},
		{"bad cluster IP", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0" }, `spec.clusterIPs[0]: Invalid value: "10.96.0"`},
		{"selector", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"a": "b c"} }, `spec.selector: Invalid value: "b c"`},
		{"dual stack", func(s *corev1.Service) {
			p := corev1.IPFamilyPolicyRequireDualStack
			s.Spec.IPFamilyPolicy = &p
		}, "this cluster is not configured for dual-stack services"},
		{"external traffic policy on ClusterIP", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			"spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set when `type` is 'NodePort' or 'LoadBalancer'"},
		{"session affinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Sticky" }, `spec.sessionAffinity: Unsupported value: "Sticky"`},
		{"external IPs", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"nope"} }, `spec.externalIPs[0]: Invalid value: "nope"`},
		{"name must start with a letter", func(s *corev1.Service) { s.Name = "1web" }, ""}, // checked by NameFunc
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrs(t, simulateCreate(t, r, testService(tc.mutate)), tc.want)
		})
	}
	if msgs := r.Strategy.NameFunc("1web", false); len(msgs) == 0 {
		t.Error("service name 1web accepted")
	}
}

func TestServiceUpdate(t *testing.T) {
	r := mustResource(t, "", "v1", "services")
	stored := func(typ corev1.ServiceType) *corev1.Service {
		s := testService(func(s *corev1.Service) { s.Spec.Type = typ })
		simulateCreate(t, r, s)
		if typ != corev1.ServiceTypeExternalName {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.1.1", []string{"10.96.1.1"}
		}
		if typ == corev1.ServiceTypeNodePort {
			s.Spec.Ports[0].NodePort = 30001
		}
		return s
	}
	cases := []struct {
		name   string
		old    corev1.ServiceType
		mutate func(*corev1.Service)
		want   string
		check  func(t *testing.T, s *corev1.Service)
	}{
		{"change cluster IP", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.2.2", []string{"10.96.2.2"}
		}, `spec.clusterIP: Invalid value: "10.96.2.2": field is immutable`, nil},
		{"PUT without the allocated values keeps them", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.Ports[0].NodePort = "", nil, 0
		}, "", func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "10.96.1.1" || s.Spec.Ports[0].NodePort != 30001 {
				t.Errorf("spec %+v", s.Spec)
			}
		}},
		{"NodePort to ClusterIP drops node ports", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeClusterIP
		}, "", func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].NodePort != 0 || s.Spec.ExternalTrafficPolicy != "" {
				t.Errorf("spec %+v", s.Spec)
			}
		}},
		{"to ExternalName drops the IP", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
		}, "", func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "" || s.Spec.ClusterIPs != nil || s.Spec.IPFamilies != nil {
				t.Errorf("spec %+v", s.Spec)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := stored(tc.old)
			next := old.DeepCopy()
			tc.mutate(next)
			checkErrs(t, simulateUpdate(t, r, next, old), tc.want)
			if tc.check != nil {
				tc.check(t, next)
			}
		})
	}
}

func TestServiceRow(t *testing.T) {
	r := mustResource(t, "", "v1", "services")
	created := metav1.NewTime(time.Now().Add(-2 * time.Minute))
	cases := []struct {
		name   string
		mutate func(*corev1.Service)
		want   []interface{}
	}{
		{"cluster IP", func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.96.0.10"} },
			[]interface{}{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "2m", "app=web"}},
		{"node port", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIPs = corev1.ServiceTypeNodePort, []string{"10.96.0.10"}
			s.Spec.Ports = []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: "TCP"}, {Port: 53, NodePort: 30053, Protocol: "UDP"}}
		}, []interface{}{"web", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53:30053/UDP", "2m", "app=web"}},
		{"pending load balancer", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIPs = corev1.ServiceTypeLoadBalancer, []string{"10.96.0.10"}
		}, []interface{}{"web", "LoadBalancer", "10.96.0.10", "<pending>", "80/TCP", "2m", "app=web"}},
		{"load balancer with ingress", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIPs = corev1.ServiceTypeLoadBalancer, []string{"10.96.0.10"}
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}, {Hostname: "lb.example.com"}}
		}, []interface{}{"web", "LoadBalancer", "10.96.0.10", "192.0.2.1,lb.example.com", "80/TCP", "2m", "app=web"}},
		{"external name", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.Ports, s.Spec.Selector = corev1.ServiceTypeExternalName, "example.com", nil, nil
		}, []interface{}{"web", "ExternalName", "<none>", "example.com", "<none>", "2m", "<none>"}},
		{"headless with external IP", func(s *corev1.Service) {
			s.Spec.ClusterIPs, s.Spec.ExternalIPs = []string{"None"}, []string{"192.0.2.9"}
		}, []interface{}{"web", "ClusterIP", "None", "192.0.2.9", "80/TCP", "2m", "app=web"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testService(func(s *corev1.Service) {
				s.CreationTimestamp = created
				s.Spec.Type = corev1.ServiceTypeClusterIP
				s.Spec.Ports[0].Protocol = corev1.ProtocolTCP
			}, tc.mutate)
			got := cellsOf(t, r, s)
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("cells %v, want %v", got, tc.want)
				}
			}
		})
	}
}

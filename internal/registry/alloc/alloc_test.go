package alloc

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// store is a fake list of stored services.
type store struct {
	mu   sync.Mutex
	svcs []*corev1.Service
}

func (s *store) list(context.Context) ([]*corev1.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*corev1.Service(nil), s.svcs...), nil
}

func (s *store) add(svc *corev1.Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.svcs = append(s.svcs, svc)
}

func svc(name string, typ corev1.ServiceType, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.ServiceSpec{
			Type:  typ,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func newAlloc(t *testing.T, st *store, cidr, ports string) *ServiceAllocator {
	t.Helper()
	a, err := NewServiceAllocator(cidr, ports, st.list)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNewServiceAllocatorRejectsBadRanges(t *testing.T) {
	for _, tc := range []struct{ cidr, ports string }{
		{"10.96.0.0", ""}, {"fd00::/108", ""}, {"10.0.0.0/31", ""}, {"", "32767-30000"}, {"", "30000"}, {"", "0-10"},
	} {
		if _, err := NewServiceAllocator(tc.cidr, tc.ports, (&store{}).list); err == nil {
			t.Errorf("NewServiceAllocator(%q, %q) succeeded, want an error", tc.cidr, tc.ports)
		}
	}
	a := newAlloc(t, &store{}, "", "")
	if got := a.KubernetesServiceIP(); got != "10.96.0.1" {
		t.Errorf("KubernetesServiceIP = %s, want 10.96.0.1", got)
	}
}

func TestAllocate(t *testing.T) {
	taken := svc("taken", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.10", []string{"10.96.0.10"}
		s.Spec.Ports[0].NodePort = 30080
	})
	cases := []struct {
		name    string
		svc     *corev1.Service
		wantErr string // substring of the 422 message; "" = success
		check   func(t *testing.T, s *corev1.Service)
	}{
		{name: "dynamic IP in range, not the first", svc: svc("a", corev1.ServiceTypeClusterIP), check: func(t *testing.T, s *corev1.Service) {
			ip := net.ParseIP(s.Spec.ClusterIP)
			_, cidr, _ := net.ParseCIDR("10.96.0.0/12")
			if ip == nil || !cidr.Contains(ip) || s.Spec.ClusterIP == "10.96.0.1" || s.Spec.ClusterIP == "10.96.0.10" {
				t.Errorf("clusterIP %q", s.Spec.ClusterIP)
			}
			if len(s.Spec.ClusterIPs) != 1 || s.Spec.ClusterIPs[0] != s.Spec.ClusterIP {
				t.Errorf("clusterIPs %v", s.Spec.ClusterIPs)
			}
			if s.Spec.Ports[0].NodePort != 0 {
				t.Errorf("ClusterIP service got node port %d", s.Spec.Ports[0].NodePort)
			}
		}},
		{name: "kubernetes service gets the first IP", svc: svc("kubernetes", corev1.ServiceTypeClusterIP), check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "10.96.0.1" {
				t.Errorf("clusterIP %q, want 10.96.0.1", s.Spec.ClusterIP)
			}
		}},
		{name: "requested free IP", svc: svc("b", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.5.5" }),
			check: func(t *testing.T, s *corev1.Service) {
				if s.Spec.ClusterIP != "10.96.5.5" || s.Spec.ClusterIPs[0] != "10.96.5.5" {
					t.Errorf("clusterIP %q %v", s.Spec.ClusterIP, s.Spec.ClusterIPs)
				}
			}},
		{name: "requested IP in use", svc: svc("c", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.10" }),
			wantErr: "spec.clusterIPs: Invalid value: []string{\"10.96.0.10\"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"},
		{name: "requested first IP by another service", svc: svc("d", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.1" }),
			wantErr: "provided IP is already allocated"},
		{name: "requested IP outside the range", svc: svc("e", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.5" }),
			wantErr: "the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12"},
		{name: "broadcast address", svc: svc("f", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "10.111.255.255" }),
			wantErr: "not in the valid range"},
		{name: "headless gets nothing", svc: svc("g", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "None" }),
			check: func(t *testing.T, s *corev1.Service) {
				if s.Spec.ClusterIP != "None" || len(s.Spec.ClusterIPs) != 0 {
					t.Errorf("clusterIP %q %v", s.Spec.ClusterIP, s.Spec.ClusterIPs)
				}
			}},
		{name: "external name gets nothing", svc: svc("h", corev1.ServiceTypeExternalName, func(s *corev1.Service) { s.Spec.Ports = nil }),
			check: func(t *testing.T, s *corev1.Service) {
				if s.Spec.ClusterIP != "" {
					t.Errorf("clusterIP %q", s.Spec.ClusterIP)
				}
			}},
		{name: "node port assigned", svc: svc("i", corev1.ServiceTypeNodePort), check: func(t *testing.T, s *corev1.Service) {
			np := s.Spec.Ports[0].NodePort
			if np < 30000 || np > 32767 || np == 30080 {
				t.Errorf("nodePort %d", np)
			}
		}},
		{name: "requested node port in use", svc: svc("j", corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }),
			wantErr: "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"},
		{name: "requested node port outside the range", svc: svc("k", corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 8080 }),
			wantErr: "spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"},
		{name: "same port over TCP and UDP shares a node port", svc: svc("l", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}, {Name: "m", Port: 9153, Protocol: corev1.ProtocolTCP}}
		}), check: func(t *testing.T, s *corev1.Service) {
			p := s.Spec.Ports
			if p[0].NodePort == 0 || p[0].NodePort != p[1].NodePort || p[2].NodePort == p[0].NodePort || p[2].NodePort == 0 {
				t.Errorf("node ports %d %d %d", p[0].NodePort, p[1].NodePort, p[2].NodePort)
			}
		}},
		{name: "load balancer with Local policy gets a health check port", svc: svc("m", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}), check: func(t *testing.T, s *corev1.Service) {
			h := s.Spec.HealthCheckNodePort
			if h < 30000 || h > 32767 || h == s.Spec.Ports[0].NodePort || s.Spec.Ports[0].NodePort == 0 {
				t.Errorf("health check port %d, node port %d", h, s.Spec.Ports[0].NodePort)
			}
		}},
		{name: "load balancer without node ports", svc: svc("n", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			f := false
			s.Spec.AllocateLoadBalancerNodePorts = &f
		}), check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].NodePort != 0 {
				t.Errorf("nodePort %d", s.Spec.Ports[0].NodePort)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &store{svcs: []*corev1.Service{taken}}
			a := newAlloc(t, st, "", "")
			release, err := a.Allocate(context.Background(), tc.svc, nil, false)
			if tc.wantErr != "" {
				if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want 422 containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if release == nil {
				t.Fatal("no release func")
			}
			tc.check(t, tc.svc)
		})
	}
}

// Concurrent creates whose services are not in the list yet (the cache lags) must
// still get distinct IPs and node ports.
func TestAllocateConcurrentNeverCollides(t *testing.T) {
	st := &store{}
	a := newAlloc(t, st, "10.0.0.0/24", "30000-30300")
	const n = 120
	results := make([]*corev1.Service, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := svc("s"+string(rune('a'+i%26))+string(rune('a'+i/26)), corev1.ServiceTypeNodePort)
			if _, err := a.Allocate(context.Background(), s, nil, false); err != nil {
				t.Error(err)
				return
			}
			results[i] = s
		}(i)
	}
	wg.Wait()
	ips, ports := map[string]bool{}, map[int32]bool{}
	for _, s := range results {
		if s == nil {
			continue
		}
		if ips[s.Spec.ClusterIP] || ports[s.Spec.Ports[0].NodePort] {
			t.Fatalf("collision: %s %d", s.Spec.ClusterIP, s.Spec.Ports[0].NodePort)
		}
		ips[s.Spec.ClusterIP], ports[s.Spec.Ports[0].NodePort] = true, true
	}
	if len(ips) != n {
		t.Fatalf("got %d distinct IPs, want %d", len(ips), n)
	}
}

func TestRangeFull(t *testing.T) {
	st := &store{}
	a := newAlloc(t, st, "10.0.0.0/29", "30000-30001") // usable offsets 2..6: five IPs
	for i := 0; i < 5; i++ {
		if _, err := a.Allocate(context.Background(), svc("s"+string(rune('a'+i)), corev1.ServiceTypeClusterIP), nil, false); err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
	}
	_, err := a.Allocate(context.Background(), svc("full", corev1.ServiceTypeClusterIP), nil, false)
	if err == nil || !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "range is full") {
		t.Fatalf("err = %v, want range is full", err)
	}
}

func TestReleaseDryRunAndDelete(t *testing.T) {
	st := &store{}
	a := newAlloc(t, st, "", "")
	ctx := context.Background()
	want := func(s *corev1.Service) *corev1.Service {
		s.Spec.ClusterIP = "10.96.7.7"
		s.Spec.Ports[0].NodePort = 31000
		return s
	}

	// A dry run reserves nothing.
	if _, err := a.Allocate(ctx, want(svc("dry", corev1.ServiceTypeNodePort)), nil, true); err != nil {
		t.Fatal(err)
	}
	// A failed write gives its reservation back.
	release, err := a.Allocate(ctx, want(svc("failed", corev1.ServiceTypeNodePort)), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	release()
	// A successful write holds it, even before the list shows it.
	stored := want(svc("stored", corev1.ServiceTypeNodePort))
	if _, err := a.Allocate(ctx, stored, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Allocate(ctx, want(svc("other", corev1.ServiceTypeNodePort)), nil, false); err == nil {
		t.Fatal("second service got the same IP while the first holds it")
	}
	// Once the list shows it and reservations expired, the list still protects it.
	st.add(stored)
	a.now = func() time.Time { return time.Now().Add(2 * holdFor) }
	if _, err := a.Allocate(ctx, want(svc("other", corev1.ServiceTypeNodePort)), nil, false); err == nil {
		t.Fatal("IP in use by a stored service was handed out again")
	}
	// After a delete the IP and port are free again, though the list lags.
	a.Release(ctx, stored)
	if _, err := a.Allocate(ctx, want(svc("other", corev1.ServiceTypeNodePort)), nil, false); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestAllocateUpdate(t *testing.T) {
	ctx := context.Background()
	old := svc("web", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.3.3", []string{"10.96.3.3"}
		s.Spec.Ports[0].NodePort = 30100
	})
	st := &store{svcs: []*corev1.Service{old}}
	a := newAlloc(t, st, "", "")

	// Keeping everything and adding a port: old values are not conflicts; the new
	// port gets a different node port.
	next := old.DeepCopy()
	next.Spec.Ports = append(next.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP})
	if _, err := a.Allocate(ctx, next, old, false); err != nil {
		t.Fatal(err)
	}
	if next.Spec.ClusterIP != "10.96.3.3" || next.Spec.Ports[0].NodePort != 30100 {
		t.Errorf("kept values changed: %s %d", next.Spec.ClusterIP, next.Spec.Ports[0].NodePort)
	}
	if np := next.Spec.Ports[1].NodePort; np == 0 || np == 30100 {
		t.Errorf("new port got node port %d", np)
	}

	// ExternalName to ClusterIP: a new IP.
	ext := svc("ext", corev1.ServiceTypeExternalName)
	toIP := ext.DeepCopy()
	toIP.Spec.Type = corev1.ServiceTypeClusterIP
	if _, err := a.Allocate(ctx, toIP, ext, false); err != nil {
		t.Fatal(err)
	}
	if toIP.Spec.ClusterIP == "" || toIP.Spec.ClusterIP == "10.96.3.3" {
		t.Errorf("clusterIP %q", toIP.Spec.ClusterIP)
	}
}

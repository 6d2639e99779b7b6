// Package alloc hands out what services share cluster-wide: virtual IPs from the
// service range and node ports. The stored services are the record of what is
// taken; reservations in memory cover the moments between a decision and the
// cache showing the stored object, so concurrent creates never get the same IP
// or port.
package alloc

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"tug/internal/registry"
)

// Defaults of the service IP range and the node port range.
const (
	DefaultServiceCIDR = "10.96.0.0/12"
	DefaultNodePorts   = "30000-32767"
)

// holdFor is how long a reservation outlives the write that made it: long enough
// for the cache to show the stored service.
const holdFor = 2 * time.Minute

// ServiceAllocator assigns cluster IPs, node ports and health check node ports.
type ServiceAllocator struct {
	list func(ctx context.Context) ([]*corev1.Service, error)

	cidr   *net.IPNet
	base   uint32 // the range's network address
	size   uint32 // addresses in the range, network and broadcast included
	portLo int32
	portHi int32

	mu     sync.Mutex
	nextID uint64
	ips    map[uint32]hold
	ports  map[int32]hold
	// gone are services deleted a moment ago that the list may still show.
	gone map[types.UID]time.Time
	now  func() time.Time
}

// hold is one in-memory reservation.
type hold struct {
	owner string // namespace/name of the service
	id    uint64 // the Allocate call that made it
	until time.Time
}

// NewServiceAllocator makes an allocator over an IPv4 service range and a node port
// range ("30000-32767"); empty strings mean the defaults. list returns the stored
// services (a cache read is fine).
func NewServiceAllocator(serviceCIDR, nodePorts string, list func(ctx context.Context) ([]*corev1.Service, error)) (*ServiceAllocator, error) {
	if serviceCIDR == "" {
		serviceCIDR = DefaultServiceCIDR
	}
	if nodePorts == "" {
		nodePorts = DefaultNodePorts
	}
	_, cidr, err := net.ParseCIDR(serviceCIDR)
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", serviceCIDR, err)
	}
	v4 := cidr.IP.To4()
	if v4 == nil {
		return nil, fmt.Errorf("service CIDR %q: only IPv4 service ranges are supported", serviceCIDR)
	}
	ones, bits := cidr.Mask.Size()
	if bits-ones < 2 || bits-ones > 24 {
		return nil, fmt.Errorf("service CIDR %q: the range must be between /8 and /30", serviceCIDR)
	}
	lo, hi, err := parsePortRange(nodePorts)
	if err != nil {
		return nil, err
	}
	return &ServiceAllocator{
		list: list, cidr: cidr, base: binary.BigEndian.Uint32(v4), size: 1 << uint(bits-ones),
		portLo: lo, portHi: hi,
		ips: map[uint32]hold{}, ports: map[int32]hold{}, gone: map[types.UID]time.Time{}, now: time.Now,
	}, nil
}

func parsePortRange(s string) (int32, int32, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("node port range %q: want LOW-HIGH within 1-65535", s)
	}
	return int32(lo), int32(hi), nil
}

// CIDR is the service IP range.
func (a *ServiceAllocator) CIDR() *net.IPNet { return a.cidr }

// KubernetesServiceIP is the first address of the range, kept for the
// default/kubernetes service.
func (a *ServiceAllocator) KubernetesServiceIP() string { return a.ipAt(1) }

func (a *ServiceAllocator) ipAt(offset uint32) string {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, a.base+offset)
	return net.IP(b).String()
}

// offsetOf returns the offset of ip in the range, and whether it is a usable
// address of the range (not the network or broadcast address).
func (a *ServiceAllocator) offsetOf(ip net.IP) (uint32, bool) {
	v4 := ip.To4()
	if v4 == nil || !a.cidr.Contains(v4) {
		return 0, false
	}
	off := binary.BigEndian.Uint32(v4) - a.base
	return off, off > 0 && off < a.size-1
}

func ownerOf(s *corev1.Service) string { return s.Namespace + "/" + s.Name }

func isKubernetesService(s *corev1.Service) bool {
	return s.Namespace == metav1.NamespaceDefault && s.Name == "kubernetes"
}

// taken is what other services hold, from the list and the reservations.
type taken struct {
	ips   map[uint32]bool
	ports map[int32]bool
}

// takenBy gathers what services other than owner hold. The caller holds a.mu.
func (a *ServiceAllocator) takenBy(services []*corev1.Service, owner string) taken {
	t := taken{ips: map[uint32]bool{}, ports: map[int32]bool{}}
	for _, s := range services {
		if ownerOf(s) == owner {
			continue
		}
		if _, deleted := a.gone[s.UID]; deleted && s.UID != "" {
			continue
		}
		for _, ip := range append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...) {
			if parsed := net.ParseIP(ip); parsed != nil {
				if off, ok := a.offsetOf(parsed); ok {
					t.ips[off] = true
				}
			}
		}
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				t.ports[p.NodePort] = true
			}
		}
		if s.Spec.HealthCheckNodePort != 0 {
			t.ports[s.Spec.HealthCheckNodePort] = true
		}
	}
	for off, h := range a.ips {
		if h.owner != owner {
			t.ips[off] = true
		}
	}
	for p, h := range a.ports {
		if h.owner != owner {
			t.ports[p] = true
		}
	}
	return t
}

// expire drops old reservations and deletion records. The caller holds a.mu.
func (a *ServiceAllocator) expire() {
	now := a.now()
	for k, h := range a.ips {
		if now.After(h.until) {
			delete(a.ips, k)
		}
	}
	for k, h := range a.ports {
		if now.After(h.until) {
			delete(a.ports, k)
		}
	}
	for k, t := range a.gone {
		if now.Sub(t) > holdFor {
			delete(a.gone, k)
		}
	}
}

// Allocate fills in a service's cluster IP and node ports, keeping those the old
// version already held. It matches registry.Resource.Allocate.
func (a *ServiceAllocator) Allocate(ctx context.Context, obj, old runtime.Object, dryRun bool) (func(), error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, fmt.Errorf("service allocator got a %T", obj)
	}
	var prev *corev1.Service
	if old != nil {
		prev, _ = old.(*corev1.Service)
	}
	services, err := a.list(ctx)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("list services to find free addresses: %w", err))
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	a.expire()
	owner := ownerOf(svc)
	tk := a.takenBy(services, owner)
	r := &request{a: a, svc: svc, taken: tk, newIPs: map[uint32]bool{}, newPorts: map[int32]bool{}, mine: map[int32]bool{}}
	if prev != nil && prev.Spec.HealthCheckNodePort != 0 && prev.Spec.HealthCheckNodePort == svc.Spec.HealthCheckNodePort {
		r.mine[prev.Spec.HealthCheckNodePort] = true
	}
	r.clusterIP(prev)
	r.nodePorts(prev)
	r.healthCheckPort(prev)
	if r.internal != nil {
		return nil, r.internal
	}
	if len(r.errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, r.errs)
	}
	if dryRun {
		return func() {}, nil
	}
	a.nextID++
	id := a.nextID
	h := hold{owner: owner, id: id, until: a.now().Add(holdFor)}
	for off := range r.newIPs {
		a.ips[off] = h
	}
	for p := range r.newPorts {
		a.ports[p] = h
	}
	return func() { a.drop(func(x hold) bool { return x.id == id }) }, nil
}

// Release forgets what a deleted service held, so it can be handed out again at
// once even while the cache still lists the service.
func (a *ServiceAllocator) Release(_ context.Context, obj runtime.Object) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if svc.UID != "" {
		a.gone[svc.UID] = a.now()
	}
	owner := ownerOf(svc)
	a.dropLocked(func(x hold) bool { return x.owner == owner })
}

func (a *ServiceAllocator) drop(match func(hold) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dropLocked(match)
}

func (a *ServiceAllocator) dropLocked(match func(hold) bool) {
	for k, h := range a.ips {
		if match(h) {
			delete(a.ips, k)
		}
	}
	for k, h := range a.ports {
		if match(h) {
			delete(a.ports, k)
		}
	}
}

// request is one Allocate call's work.
type request struct {
	a        *ServiceAllocator
	svc      *corev1.Service
	taken    taken
	newIPs   map[uint32]bool
	newPorts map[int32]bool
	mine     map[int32]bool // node ports this service keeps from before
	errs     field.ErrorList
	internal error
}

func (r *request) portFree(p int32) bool { return !r.taken.ports[p] && !r.newPorts[p] && !r.mine[p] }

func (r *request) clusterIP(prev *corev1.Service) {
	s := &r.svc.Spec
	if !registry.ServiceNeedsClusterIP(r.svc) {
		return
	}
	if prev != nil && registry.ServiceNeedsClusterIP(prev) && prev.Spec.ClusterIP != "" && prev.Spec.ClusterIP == s.ClusterIP {
		return // kept from before
	}
	a := r.a
	path := field.NewPath("spec", "clusterIPs")
	if s.ClusterIP != "" {
		ip := net.ParseIP(s.ClusterIP)
		off, ok := a.offsetOf(ip)
		switch {
		case ip == nil || !ok:
			r.errs = append(r.errs, field.Invalid(path, []string{s.ClusterIP}, fmt.Sprintf(
				"failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", s.ClusterIP, s.ClusterIP, a.cidr)))
		case r.taken.ips[off] || (off == 1 && !isKubernetesService(r.svc)):
			r.errs = append(r.errs, field.Invalid(path, []string{s.ClusterIP}, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", s.ClusterIP)))
		default:
			r.newIPs[off] = true
			s.ClusterIPs = []string{s.ClusterIP}
		}
		return
	}
	off, ok := r.freeIP()
	if !ok {
		r.internal = apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
		return
	}
	r.newIPs[off] = true
	s.ClusterIP = a.ipAt(off)
	s.ClusterIPs = []string{s.ClusterIP}
}

// freeIP picks a free address at random (the first one is the kubernetes service's).
func (r *request) freeIP() (uint32, bool) {
	a := r.a
	if isKubernetesService(r.svc) && !r.taken.ips[1] {
		return 1, true
	}
	usable := a.size - 3 // minus network, broadcast and the kubernetes service's
	start := rand.Uint32N(usable)
	for i := uint32(0); i < usable; i++ {
		off := 2 + (start+i)%usable
		if !r.taken.ips[off] && !r.newIPs[off] {
			return off, true
		}
	}
	return 0, false
}

// freePort picks a free node port at random.
func (r *request) freePort() (int32, bool) {
	a := r.a
	n := a.portHi - a.portLo + 1
	start := rand.Int32N(n)
	for i := int32(0); i < n; i++ {
		p := a.portLo + (start+i)%n
		if r.portFree(p) {
			return p, true
		}
	}
	return 0, false
}

// checkPort checks a node port the user asked for.
func (r *request) checkPort(path *field.Path, p int32) bool {
	a := r.a
	switch {
	case p < a.portLo || p > a.portHi:
		r.errs = append(r.errs, field.Invalid(path, p, fmt.Sprintf(
			"provided port is not in the valid range. The range of valid ports is %d-%d", a.portLo, a.portHi)))
		return false
	case r.taken.ports[p]:
		r.errs = append(r.errs, field.Invalid(path, p, "provided port is already allocated"))
		return false
	}
	return true
}

func (r *request) nodePorts(prev *corev1.Service) {
	if !registry.ServiceNeedsNodePorts(r.svc) {
		return
	}
	held := map[int32]bool{}
	if prev != nil && registry.ServiceNeedsNodePorts(prev) {
		for _, p := range prev.Spec.Ports {
			held[p.NodePort] = true
		}
	}
	ports := r.svc.Spec.Ports
	// The same port number over two protocols shares one node port.
	byNumber := map[int32]int32{}
	for i := range ports {
		np := ports[i].NodePort
		if np == 0 {
			continue
		}
		byNumber[ports[i].Port] = np
		if held[np] {
			r.mine[np] = true
			continue
		}
		if r.newPorts[np] {
			continue
		}
		if r.checkPort(field.NewPath("spec", "ports").Index(i).Child("nodePort"), np) {
			r.newPorts[np] = true
		}
	}
	for i := range ports {
		if ports[i].NodePort != 0 {
			continue
		}
		if np, ok := byNumber[ports[i].Port]; ok {
			ports[i].NodePort = np
			continue
		}
		np, ok := r.freePort()
		if !ok {
			r.internal = apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
			return
		}
		r.newPorts[np] = true
		ports[i].NodePort = np
		byNumber[ports[i].Port] = np
	}
}

func (r *request) healthCheckPort(prev *corev1.Service) {
	if !registry.ServiceNeedsHealthCheckPort(r.svc) {
		return
	}
	s := &r.svc.Spec
	if prev != nil && prev.Spec.HealthCheckNodePort != 0 && prev.Spec.HealthCheckNodePort == s.HealthCheckNodePort {
		return
	}
	if s.HealthCheckNodePort != 0 {
		if r.newPorts[s.HealthCheckNodePort] || r.mine[s.HealthCheckNodePort] {
			r.errs = append(r.errs, field.Invalid(field.NewPath("spec", "healthCheckNodePort"), s.HealthCheckNodePort, "provided port is already allocated"))
		} else if r.checkPort(field.NewPath("spec", "healthCheckNodePort"), s.HealthCheckNodePort) {
			r.newPorts[s.HealthCheckNodePort] = true
		}
		return
	}
	np, ok := r.freePort()
	if !ok {
		r.internal = apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
		return
	}
	r.newPorts[np] = true
	s.HealthCheckNodePort = np
}

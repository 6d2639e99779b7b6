package hollow

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"
	"sync"
)

// podIPs hands out pod addresses from a node's pod CIDR: the first address is
// the network, the second the node's gateway, the last the broadcast; the rest
// go to pods, one per pod UID.
type podIPs struct {
	mu     sync.Mutex
	prefix netip.Prefix
	byUID  map[string]netip.Addr
	used   map[netip.Addr]bool
	next   netip.Addr
}

func newPodIPs(cidr string) (*podIPs, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", cidr, err)
	}
	p = p.Masked()
	if p.Addr().Is4() && p.Bits() > 30 {
		return nil, fmt.Errorf("pod CIDR %s is too small", cidr)
	}
	a := &podIPs{prefix: p, byUID: map[string]netip.Addr{}, used: map[netip.Addr]bool{}}
	a.next = a.first()
	return a, nil
}

func (a *podIPs) first() netip.Addr { return a.prefix.Addr().Next().Next() }

// usable reports whether addr may be given to a pod.
func (a *podIPs) usable(addr netip.Addr) bool {
	if !a.prefix.Contains(addr) || addr.Compare(a.first()) < 0 {
		return false
	}
	// Not the broadcast address (IPv4): the next address leaves the prefix.
	return !(addr.Is4() && !a.prefix.Contains(addr.Next()))
}

// Reserve records an address a pod already has (after a restart).
func (a *podIPs) Reserve(uid, ip string) {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !a.usable(addr) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.byUID[uid]; ok {
		return
	}
	a.byUID[uid] = addr
	a.used[addr] = true
}

// Get returns the pod's address, allocating one if it has none.
func (a *podIPs) Get(uid string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if addr, ok := a.byUID[uid]; ok {
		return addr.String(), nil
	}
	start := a.next
	for addr := start; ; {
		if !a.used[addr] {
			a.used[addr] = true
			a.byUID[uid] = addr
			a.next = a.advance(addr)
			return addr.String(), nil
		}
		addr = a.advance(addr)
		if addr == start {
			return "", fmt.Errorf("no free pod address left in %s", a.prefix)
		}
	}
}

func (a *podIPs) advance(addr netip.Addr) netip.Addr {
	n := addr.Next()
	if !n.IsValid() || !a.usable(n) {
		return a.first()
	}
	return n
}

// Release frees a pod's address.
func (a *podIPs) Release(uid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if addr, ok := a.byUID[uid]; ok {
		delete(a.used, addr)
		delete(a.byUID, uid)
	}
}

// nodeAddress is a made-up, stable internal address for a hollow node, in
// 100.64.0.0/10 (shared address space, unused by the cluster's own ranges).
func nodeAddress(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	n := h.Sum32()%(1<<22-2) + 1
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 0x64400000+n) // 100.64.0.0 + n
	return netip.AddrFrom4(b).String()
}

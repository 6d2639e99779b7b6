package nodelifecycle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// nodeMaskBits is the size of each node's pod range (a /24: 254 addresses).
const nodeMaskBits = 24

// errCIDRsExhausted says every node range of the cluster CIDR is taken.
var errCIDRsExhausted = errors.New("no pod CIDR left")

// cidrSet hands out per-node pod ranges from the cluster CIDR, each at most once.
// It remembers which node holds which range, so that a node whose update is not
// yet in the cache gets the same range again.
type cidrSet struct {
	mu      sync.Mutex
	base    uint32 // first address of the cluster CIDR
	bits    int    // node mask
	size    int    // number of node ranges
	used    []bool
	next    int
	cluster netip.Prefix
	byNode  map[string]int
}

func newCIDRSet(clusterCIDR string) (*cidrSet, error) {
	p, err := netip.ParsePrefix(clusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("cluster CIDR %q: %w", clusterCIDR, err)
	}
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("cluster CIDR %s: only IPv4 ranges are supported", clusterCIDR)
	}
	p = p.Masked()
	bits := nodeMaskBits
	if p.Bits() > bits {
		bits = p.Bits()
	}
	if p.Bits() < 8 {
		return nil, fmt.Errorf("cluster CIDR %s is larger than a /8", clusterCIDR)
	}
	a := p.Addr().As4()
	n := 1 << (bits - p.Bits())
	return &cidrSet{base: binary.BigEndian.Uint32(a[:]), bits: bits, size: n, used: make([]bool, n), cluster: p, byNode: map[string]int{}}, nil
}

func (s *cidrSet) prefixOf(i int) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], s.base+uint32(i)<<(32-s.bits))
	return netip.PrefixFrom(netip.AddrFrom4(b), s.bits).String()
}

// indexOf returns the range index of cidr, false when it is not one of ours.
func (s *cidrSet) indexOf(cidr string) (int, bool) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || p.Bits() != s.bits || !s.cluster.Contains(p.Addr()) || !p.Addr().Is4() {
		return 0, false
	}
	a := p.Masked().Addr().As4()
	return int((binary.BigEndian.Uint32(a[:]) - s.base) >> (32 - s.bits)), true
}

// Occupy records the range a node holds (read back from nodes at start, or set
// by the node itself when it registered).
func (s *cidrSet) Occupy(node, cidr string) {
	i, ok := s.indexOf(cidr)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, had := s.byNode[node]; had && old != i {
		s.used[old] = false
	}
	s.used[i] = true
	s.byNode[node] = i
}

// Allocate returns the node's range, taking a free one if it has none.
func (s *cidrSet) Allocate(node string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byNode[node]; ok {
		return s.prefixOf(i), nil
	}
	for k := 0; k < s.size; k++ {
		i := (s.next + k) % s.size
		if !s.used[i] {
			s.used[i] = true
			s.byNode[node] = i
			s.next = (i + 1) % s.size
			return s.prefixOf(i), nil
		}
	}
	return "", errCIDRsExhausted
}

// Release frees the range a node held (the node is gone).
func (s *cidrSet) Release(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byNode[node]; ok {
		s.used[i] = false
		delete(s.byNode, node)
	}
}

package network

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultBridge and DefaultBridgeCIDR are the host bridge nodes join when nothing
// else is asked for: the bridge holds the host's address on the node network.
const (
	DefaultBridge     = "tug0"
	DefaultBridgeCIDR = "10.200.0.1/24"
)

// Bridge is a host bridge with the host's address on it.
type Bridge struct {
	Name string
	// Addr is the host's address and the bridge subnet, like 10.200.0.1/24.
	Addr netip.Prefix
}

// ParseBridge reads a bridge name and its host address.
func ParseBridge(name, cidr string) (Bridge, error) {
	if name == "" {
		name = DefaultBridge
	}
	if cidr == "" {
		cidr = DefaultBridgeCIDR
	}
	if len(name) > 15 {
		return Bridge{}, fmt.Errorf("bridge name %q is longer than 15 characters", name)
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return Bridge{}, fmt.Errorf("bridge address %q must be an IPv4 address with a prefix length, like %s", cidr, DefaultBridgeCIDR)
	}
	return Bridge{Name: name, Addr: p}, nil
}

// HostIP is the host's address on the bridge: what agents in namespaces dial to
// reach a server on the host.
func (b Bridge) HostIP() net.IP { return net.IP(b.Addr.Addr().AsSlice()) }

// Ensure creates the bridge with its address if missing and brings it up. It
// reports whether it created the bridge.
func (b Bridge) Ensure() (created bool, err error) {
	if _, err := net.InterfaceByName(b.Name); err != nil {
		if err := ip("link", "add", b.Name, "type", "bridge"); err != nil {
			// Another process may have created it a moment ago.
			if _, e2 := net.InterfaceByName(b.Name); e2 != nil {
				return false, err
			}
		} else {
			created = true
		}
	}
	has, err := hasAddr(nil, b.Name, b.Addr)
	if err != nil {
		return created, err
	}
	if !has {
		if err := ip("addr", "add", b.Addr.String(), "dev", b.Name); err != nil && !strings.Contains(err.Error(), "File exists") {
			return created, err
		}
	}
	return created, ip("link", "set", b.Name, "up")
}

// Delete removes the bridge; a missing bridge is not an error.
func (b Bridge) Delete() error {
	if _, err := net.InterfaceByName(b.Name); err != nil {
		return nil
	}
	return ip("link", "delete", b.Name)
}

// DeleteIfUnused removes the bridge when no interface is attached to it any
// more (the last node on it is gone).
func (b Bridge) DeleteIfUnused() error {
	ports, err := os.ReadDir(filepath.Join("/sys/class/net", b.Name, "brif"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	if len(ports) > 0 {
		return nil
	}
	return b.Delete()
}

// NodeIPFor picks a node address on the bridge subnet from the namespace name, so
// that a node keeps its address across restarts. Callers that run several nodes
// pass explicit addresses instead when they need a guarantee against collisions.
func (b Bridge) NodeIPFor(name string) netip.Addr {
	p := b.Addr.Masked()
	bits := 32 - p.Bits()
	size := uint32(1) << bits
	base := binary.BigEndian.Uint32(p.Addr().AsSlice())
	host := binary.BigEndian.Uint32(b.Addr.Addr().AsSlice())
	if size < 8 {
		return b.Addr.Addr().Next()
	}
	sum := sha256.Sum256([]byte(name))
	for i := uint32(0); ; i++ {
		off := 2 + (binary.BigEndian.Uint32(sum[:4])+i)%(size-3)
		if base+off != host {
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], base+off)
			return netip.AddrFrom4(a)
		}
	}
}

// NodeLink joins a network namespace to a host bridge.
type NodeLink struct {
	Bridge Bridge
	// Netns is the node's namespace name.
	Netns string
	// IP is the node's address on the bridge subnet.
	IP netip.Addr
	// Egress lets pods reach beyond the node network (default route and
	// masquerading inside the namespace). Off, nothing leaves the machine.
	Egress bool
}

// HostVeth is the host-side interface name of the node's veth pair.
func HostVeth(netns string) string {
	sum := sha256.Sum256([]byte(netns))
	return "tugv" + hex.EncodeToString(sum[:])[:10]
}

// NodeIface is the node-side interface of the veth pair.
const NodeIface = "eth0"

// Ensure creates the namespace, the bridge and the veth pair if missing and gives
// the node its address. It is idempotent, so an agent restart finds everything as
// it left it.
func (l NodeLink) Ensure() (*Namespace, error) {
	if _, err := l.Bridge.Ensure(); err != nil {
		return nil, fmt.Errorf("host bridge %s: %w", l.Bridge.Name, err)
	}
	ns, err := EnsureNamespace(l.Netns)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Namespace, error) { ns.Close(); return nil, err }
	hostVeth := HostVeth(l.Netns)
	var nodeHas bool
	_ = ns.Do(func() error {
		_, e := net.InterfaceByName(NodeIface)
		nodeHas = e == nil
		return nil
	})
	if _, err := net.InterfaceByName(hostVeth); err != nil || !nodeHas {
		if err == nil {
			_ = ip("link", "delete", hostVeth)
		}
		if err := ip("link", "add", hostVeth, "type", "veth", "peer", "name", NodeIface, "netns", l.Netns); err != nil {
			return fail(fmt.Errorf("veth pair for %s: %w", l.Netns, err))
		}
	}
	if err := ip("link", "set", hostVeth, "master", l.Bridge.Name, "up"); err != nil {
		return fail(err)
	}
	addr := netip.PrefixFrom(l.IP, l.Bridge.Addr.Bits())
	has, err := hasAddr(ns, NodeIface, addr)
	if err != nil {
		return fail(err)
	}
	if !has {
		if err := ipIn(ns, "addr", "add", addr.String(), "dev", NodeIface); err != nil {
			return fail(err)
		}
	}
	for _, dev := range []string{"lo", NodeIface} {
		if err := ipIn(ns, "link", "set", dev, "up"); err != nil {
			return fail(err)
		}
	}
	if l.Egress {
		if err := ipIn(ns, "route", "replace", "default", "via", l.Bridge.Addr.Addr().String()); err != nil {
			return fail(err)
		}
	}
	return ns, nil
}

// Delete removes the node's namespace; its end of the veth pair goes with it, and
// the kernel then removes the host end.
func (l NodeLink) Delete() error {
	err := DeleteNamespace(l.Netns)
	if _, e := net.InterfaceByName(HostVeth(l.Netns)); e == nil {
		_ = ip("link", "delete", HostVeth(l.Netns))
	}
	return err
}

func hasAddr(ns *Namespace, dev string, want netip.Prefix) (bool, error) {
	var found bool
	err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				ones, _ := ipn.Mask.Size()
				if ipn.IP.String() == want.Addr().String() && ones == want.Bits() {
					found = true
				}
			}
		}
		return nil
	})
	return found, err
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ipIn runs ip inside the namespace by entering only its network namespace.
func ipIn(ns *Namespace, args ...string) error {
	out, err := ns.Run(exec.Command("ip", args...))
	if err != nil {
		return fmt.Errorf("ip %s (in %s): %v: %s", strings.Join(args, " "), ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Iptables runs iptables inside the namespace.
func Iptables(ns *Namespace, args ...string) error {
	out, err := ns.Run(exec.Command("iptables", append([]string{"-w", "5"}, args...)...))
	if err != nil {
		return fmt.Errorf("iptables %s (in %s): %v: %s", strings.Join(args, " "), ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

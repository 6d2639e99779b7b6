package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// CNIBinDir is where Debian's containernetworking-plugins package puts the plugins.
const CNIBinDir = "/usr/lib/cni"

// PodNetwork is the CNI configuration of a node's pods.
type PodNetwork struct {
	// PodCIDR is the node's pod range (host-local hands out addresses from it).
	PodCIDR netip.Prefix
	// ConfDir receives the configuration list; the runtime watches it.
	ConfDir string
	// IPAMDir keeps host-local's allocations under the node's data dir.
	IPAMDir string
	// Masquerade pods' traffic that leaves the node's pod bridge (only with egress).
	Masquerade bool
}

// BridgeName is the pod bridge inside the node's namespace.
const BridgeName = "cni0"

// ConfFile is the configuration list the runtime loads.
const ConfFile = "10-tug.conflist"

// CheckPlugins reports the plugins missing from the CNI directory, with the fix.
func CheckPlugins(dir string) error {
	var missing []string
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("CNI plugins %s are missing from %s: install them with `apt-get install containernetworking-plugins` (or `make up`, which installs what tug needs)", strings.Join(missing, ", "), dir)
	}
	return nil
}

// Conflist renders the CNI configuration list: a bridge with host-local IPAM on
// the pod CIDR and the portmap plugin for hostPort.
func (p PodNetwork) Conflist() ([]byte, error) {
	gw := p.PodCIDR.Masked().Addr().Next()
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "tug",
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      BridgeName,
				"isGateway":   true,
				"ipMasq":      p.Masquerade,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": p.IPAMDir,
					"ranges":  [][]map[string]string{{{"subnet": p.PodCIDR.Masked().String(), "gateway": gw.String()}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{
				"type":         "portmap",
				"capabilities": map[string]bool{"portMappings": true},
				"snat":         true,
			},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// Write writes the configuration list if it differs from what is there.
func (p PodNetwork) Write() error {
	b, err := p.Conflist()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p.ConfDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(p.IPAMDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(p.ConfDir, ConfFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// NodeRules sets up the node namespace's own NAT: pods that talk to the host
// bridge (the API server, other nodes' addresses) appear with the node's address,
// so that replies come back through the node and never follow the host's default
// route off the machine. With egress, pods' other traffic is masqueraded too.
// Only ever called with the node's own namespace.
func NodeRules(ns *Namespace, podCIDR, bridgeSubnet netip.Prefix, egress bool) error {
	if ns == nil {
		return fmt.Errorf("node NAT rules belong in a node network namespace, not the host's")
	}
	rules := [][]string{{"-s", podCIDR.Masked().String(), "-d", bridgeSubnet.Masked().String(), "-j", "MASQUERADE"}}
	if egress {
		rules = append(rules, []string{"-s", podCIDR.Masked().String(), "!", "-d", podCIDR.Masked().String(), "-o", NodeIface, "-j", "MASQUERADE"})
	}
	for _, r := range rules {
		check := append([]string{"-t", "nat", "-C", "POSTROUTING"}, r...)
		if Iptables(ns, check...) == nil {
			continue
		}
		if err := Iptables(ns, append([]string{"-t", "nat", "-A", "POSTROUTING"}, r...)...); err != nil {
			return err
		}
	}
	return nil
}
